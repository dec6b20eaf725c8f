"""The shared-body M2 (``model='shared-m2'``), the default for partly labelled data."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skvae import VAEClassifier
from skvae._batches import TensorData
from skvae.models.shared import PseudoLabels
from skvae.nn import MLP, MLPDecoder, Perturbation, SharedM2, make_likelihood


def _model(perturbation=None):
    torch.manual_seed(0)
    return SharedM2(MLP([6, 5]), 5, 2, MLPDecoder(2 + 3, (5,), 6),
                    make_likelihood("bernoulli", 6), 3, n_join=4, perturbation=perturbation)


def test_terms_per_row_and_where_they_apply():
    model = _model(Perturbation(0.1))
    x = torch.rand(4, 6)
    y = torch.tensor([0, 2, -1, -1])
    pseudo = torch.tensor([1, 1, 1, -1])
    weight = torch.tensor([1.0, 1.0, 0.5, 1.0])
    terms = model(x, y, pseudo, weight)
    assert all(t.shape == (4,) for t in terms.values())
    # The cross-entropy only on labelled rows, scaled by n / n_labelled = 2.
    assert (terms["classification"][2:] == 0).all() and (terms["classification"][:2] > 0).all()
    # Pseudo-labels only on unlabelled rows that have one.
    assert terms["pseudo"][[0, 1, 3]].eq(0).all() and terms["pseudo"][2] > 0
    assert (terms["consistency"] >= 0).all()
    model.eval()
    assert model(x, y)["consistency"].eq(0).all()  # no perturbation at inference


def test_labelled_rows_bound_matches_m2_with_observed_class():
    model = _model()
    x = torch.rand(3, 6)
    y = torch.tensor([0, 1, 2])
    torch.manual_seed(1)
    terms = model(x, y)
    # The labelled bound: encoder on [h, onehot], decoder on [z, onehot], -log p(y) = log K.
    torch.manual_seed(1)
    onehot = torch.eye(3)[y]
    mu, logvar = model.encoder(x, onehot)
    from skvae.nn import elbo_parts

    nll, kl = elbo_parts(model, x, mu, logvar, onehot)
    torch.testing.assert_close(terms["reconstruction"], nll)
    torch.testing.assert_close(terms["kl"], kl + np.log(3))


def test_perturbation_shifts_images_and_adds_noise():
    torch.manual_seed(0)
    x = torch.zeros(2, 16)
    x[:, 5] = 1.0  # one lit pixel of a 4x4 image
    moved = Perturbation(0.0, image_shape=(1, 4, 4), shift=1.0)(x)
    assert moved.shape == x.shape and not torch.equal(moved, x)
    assert torch.equal(Perturbation(0.0)(x), x)  # no image, no noise: unchanged
    noisy = Perturbation(0.5)(x)
    assert 0.3 < float((noisy - x).std()) < 0.7


def test_pseudo_labels_spread_over_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [10.0, 10.0]])
    features = np.concatenate([c + rng.normal(size=(50, 2)) for c in centres])
    targets = np.full(100, -1)
    targets[[0, 50]] = [0, 1]
    labels, confidence = PseudoLabels(epoch=0).spread(features, targets)
    truth = np.repeat([0, 1], 50)
    reached = confidence > 0  # a row the kNN graph does not connect gets weight 0
    assert reached.mean() > 0.9 and (labels[reached] == truth[reached]).all()
    assert confidence.shape == (100,) and (confidence[reached] > 0.5).all()


def test_pseudo_labels_written_into_the_batches_at_their_epoch():
    class Net:  # the parts of a VAENet the callback reads
        module_ = _model()
        device = "cpu"
        history = [{}]

    x = torch.rand(20, 6)
    y = torch.tensor([0, 1, 2] + [-1] * 17)
    extras = {"pseudo_label": torch.full((20,), -1), "pseudo_weight": torch.zeros(20)}
    data = TensorData(x, y, extras=extras)
    callback = PseudoLabels(epoch=1)
    callback.on_epoch_begin(Net(), dataset_train=data)  # epoch 0: not yet
    assert (extras["pseudo_label"] == -1).all()
    Net.history = [{}, {}]
    callback.on_epoch_begin(Net(), dataset_train=data)
    assert (extras["pseudo_label"] >= 0).all() and (extras["pseudo_weight"] > 0).any()
    assert Net.module_.training  # left in training mode


def test_default_model_is_shared_m2_and_m2_in_partial_fit():
    X, y = load_digits(return_X_y=True)
    X = X[:300] / 16.0
    y_semi = np.where(np.arange(300) < 60, y[:300], -1)
    clf = VAEClassifier(max_iter=2, random_state=0).fit(X, y_semi)
    assert clf.model_ == "shared-m2"
    assert clf.plan_.final.learning_rate == "cosine"
    assert dict(clf.net_.callbacks_)["pseudo_labels"].epoch == 1
    assert clf.plan_.final.batch_size == 128 and clf.plan_.final.labelled_batch_size == 60
    assert clf.predict_proba(X[:5]).shape == (5, 10)
    # Every row labelled: the same model; partial_fit (one pass per call): plain M2.
    assert VAEClassifier(max_iter=1, random_state=0).fit(X, y[:300]).model_ == "shared-m2"
    first = VAEClassifier(random_state=0).partial_fit(X, y[:300], classes=np.arange(10))
    assert first.model_ == "m2"


@pytest.mark.parametrize("bad", [-1.0, "big"])
def test_alpha_validated(bad):
    with pytest.raises(ValueError, match="alpha"):
        VAEClassifier(alpha=bad).fit(np.full((10, 4), 0.5), [0, 1] * 5)

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


# -- the masked weak-to-strong consistency, distribution alignment, cutout, budget ----------

def _masked_model(threshold=0.9, align=False):
    torch.manual_seed(0)
    return SharedM2(MLP([6, 5]), 5, 2, MLPDecoder(2 + 3, (5,), 6),
                    make_likelihood("bernoulli", 6), 3, n_join=4,
                    perturbation=Perturbation(0.1), threshold=threshold, align=align)


def test_mask_admits_only_confident_unlabelled_rows():
    model = _masked_model(threshold=0.9)
    q = torch.tensor([[0.95, 0.03, 0.02], [0.5, 0.3, 0.2], [0.02, 0.97, 0.01],
                      [0.99, 0.005, 0.005]])
    logits = torch.zeros(4, 3)
    unlabelled = torch.tensor([True, True, True, False])
    loss, rate = model._masked(q, logits, unlabelled)
    # Rows 0 and 2 pass (>= 0.9, unlabelled); row 1 is unsure, row 3 labelled.
    assert loss[[1, 3]].eq(0).all() and (loss[[0, 2]] > 0).all()
    torch.testing.assert_close(loss[0], torch.tensor(np.log(3.0), dtype=torch.float32))
    # The mask rate's batch mean is the share of unlabelled rows that passed: 2 of 3.
    torch.testing.assert_close(rate.mean(), torch.tensor(2 / 3))


def test_masked_term_trains_towards_the_confident_class():
    model = _masked_model(threshold=0.5)
    x = torch.rand(8, 6)
    y = torch.full((8,), -1)
    terms = model(x, y)
    assert (terms["consistency"] >= 0).all() and set(terms) >= {"mask_rate"}
    q = model.classify(x).softmax(1)
    passed = q.max(1).values >= 0.5
    assert terms["consistency"][~passed].eq(0).all()
    model.eval()
    assert model(x, y)["consistency"].eq(0).all()


def test_alignment_pulls_a_skewed_prediction_back():
    model = _masked_model(threshold=0.6, align=True)
    # The model has been predicting class 0 for most unlabelled rows; labels are balanced.
    model.q_mean.copy_(torch.tensor([0.8, 0.1, 0.1]))
    model.prior.copy_(torch.full((3,), 1 / 3))
    q = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    aligned = model.aligned(q)
    torch.testing.assert_close(aligned.sum(1), torch.ones(2))
    assert aligned[0, 0] < q[0, 0] and aligned[1, 1] > q[1, 1]
    target, passed = model.masked_targets(q)
    # A 0.7 vote for the over-predicted class no longer passes; one for class 1 does.
    assert passed.tolist() == [False, True] and target[1] == 1
    # The running means follow the batches: predictions on unlabelled rows, labels.
    before = model.q_mean.clone()
    q = torch.tensor([[0.0, 0.0, 1.0]] * 4 + [[1.0, 0.0, 0.0]] * 2)
    unlabelled = torch.tensor([True] * 4 + [False] * 2)
    model._track_mix(q, unlabelled, torch.tensor([-1] * 4 + [2, 2]))
    assert model.q_mean[2] > before[2] and model.prior[2] > 1 / 3
    # A row of weight 0 counts for nothing.
    after = model.q_mean.clone(), model.prior.clone()
    model._track_mix(torch.tensor([[1.0, 0.0, 0.0]] * 2), torch.tensor([True, False]),
                     torch.tensor([-1, 0]), torch.zeros(2))
    torch.testing.assert_close((model.q_mean, model.prior), after)


def test_aligned_kl_targets_pull_a_drifting_model_back():
    torch.manual_seed(0)
    model = SharedM2(MLP([6, 5]), 5, 2, MLPDecoder(2 + 3, (5,), 6),
                     make_likelihood("bernoulli", 6), 3, n_join=4,
                     perturbation=Perturbation(0.0), align=True)
    model.q_mean.copy_(torch.tensor([0.8, 0.1, 0.1]))
    x = torch.rand(6, 6)
    y = torch.tensor([0, 1, -1, -1, -1, -1])
    terms = model(x, y)
    # No noise: q(y|x~) = q(y|x), so the KL is that of the aligned target to q, > 0
    # on unlabelled rows, and 0 on labelled ones.
    assert terms["consistency"][:2].eq(0).all() and (terms["consistency"][2:] > 0).all()
    q = model.classify(x).softmax(1)
    assert (model.aligned(q)[:, 0] < q[:, 0]).all()


def test_cutout_erases_a_patch_of_images_and_features_of_rows():
    torch.manual_seed(0)
    images = Perturbation(0.0, image_shape=(1, 8, 8), shift=0.0, erase=0.25, fill=-1.0)
    out = images(torch.zeros(5, 64)).reshape(5, 8, 8)
    for image in out:  # one 4 x 4 square of each image, somewhere
        rows, cols = torch.nonzero(image == -1, as_tuple=True)
        assert len(rows) == 16 and rows.max() - rows.min() == 3 and cols.max() - cols.min() == 3
    fill = torch.arange(10, dtype=torch.float32)
    vectors = Perturbation(0.0, erase=0.3, fill=fill)(torch.full((4, 10), 99.0))
    erased = vectors != 99.0
    assert erased.sum(1).eq(3).all()
    torch.testing.assert_close(vectors[erased], fill.expand(4, 10)[erased])


def test_noise_is_sized_to_the_neighbour_distance():
    from skvae.models.shared import _neighbour_scale

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 16))
    scale = _neighbour_scale(X)
    # Scaling the data scales the noise; more columns of the same spread keep its length.
    assert _neighbour_scale(10 * X) == pytest.approx(10 * scale)
    assert 0 < scale < X.std()


def test_budget_grows_with_the_rows():
    import dataclasses

    from skvae._plan import plan_fit
    from skvae.models import shared

    def steps(n_rows, cfg):
        rng = np.random.default_rng(0)
        X = rng.random((n_rows, 4))
        y = np.full(n_rows, -1)
        y[:20] = np.arange(20) % 2
        saved, shared.SETTINGS = shared.SETTINGS, cfg
        try:
            plan = plan_fit(VAEClassifier(random_state=0), X, y, task="classification",
                             classes=np.array([0, 1]))
        finally:
            shared.SETTINGS = saved
        stage = plan.final
        return stage.max_iter * -(-n_rows // stage.batch_size)

    cfg = dataclasses.replace(shared.SETTINGS, steps=100, epochs=5)
    small, large = steps(1000, cfg), steps(20000, cfg)
    assert small >= 100 and large >= 5 * 20000 / 128 and large > 5 * small


def test_conv_and_mlp_bodies_plan_the_same_recipe():
    from skvae._plan import plan_fit

    X = np.random.default_rng(0).random((200, 64))
    y = np.where(np.arange(200) < 40, np.arange(200) % 4, -1)
    kwargs = dict(task="classification", classes=np.arange(4))
    plans = {name: plan_fit(VAEClassifier(random_state=0, **params), X, y, **kwargs)
             for name, params in [("flat", {}), ("auto", {"image_shape": (1, 8, 8)}),
                                  ("conv", {"architecture": "conv"}),
                                  ("mlp images", {"architecture": "mlp",
                                                  "image_shape": (1, 8, 8)})]}
    assert {plan.model for plan in plans.values()} == {"shared-m2"}
    # architecture='auto': convolutions for images, fully connected otherwise.
    assert plans["flat"].final.architecture == "mlp"
    assert plans["auto"].final.architecture == "conv"
    assert plans["mlp images"].final.architecture == "mlp"
    same = ("loss_weights", "max_iter", "batch_size", "labelled_batch_size",
            "learning_rate")
    for plan in plans.values():
        assert [getattr(plan.final, f) for f in same] == \
            [getattr(plans["flat"].final, f) for f in same]
    # Every row labelled with a conv network: M2, as measured best there.
    full = plan_fit(VAEClassifier(architecture="conv"), X, np.arange(200) % 4, **kwargs)
    assert full.model == "m2"


def test_alignment_only_with_unlabelled_rows():
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16.0, y[:200]
    partly = VAEClassifier(max_iter=1, random_state=0, tol=None).fit(
        X, np.where(np.arange(200) < 50, y, -1))
    assert partly.net_.module_.align
    full = VAEClassifier(max_iter=1, random_state=0, tol=None).fit(X, y)
    assert full.model_ == "shared-m2" and not full.net_.module_.align

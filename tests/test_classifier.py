"""Tests of VAEClassifier: sklearn API, labels, learned structure on digits."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.semi_supervised import LabelSpreading
from sklearn.svm import SVC

from skvae import VAEClassifier
from skvae.nn import ConvBody, JoinedBody, StackedM2

# -- fixtures ------------------------------------------------------------------


def small(**kwargs):
    # M2 (model='m2'): these tests are about its parts; the default model is tested in
    # tests/test_shared.py and below.
    params = {"n_components": 4, "hidden_layer_sizes": (64,), "max_iter": 3, "device": "cpu",
              "random_state": 0, "model": "m2"}
    params.update(kwargs)
    return VAEClassifier(**params)




# -- API -----------------------------------------------------------------------
def test_outputs_shapes_and_history(digits):
    X_train, X_test, y_train, _ = digits
    clf = small().fit(X_train, y_train)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.predict(X_test).shape == (len(X_test),)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X_test)), proba, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(axis=1)])
    assert clf.transform(X_test).shape == (len(X_test), 4)
    scores = clf.score_samples(X_test)
    assert scores.shape == (len(X_test),) and np.all(np.isfinite(scores))
    np.testing.assert_array_equal(scores, clf.score_samples(X_test))  # fixed noise
    for part in ("loss", "reconstruction", "kl", "classification"):
        assert len(clf.history_[:, f"train_{part}"]) == clf.n_iter_ == 3
    assert clf.sample(5, random_state=0).shape == (5, 64)
    assert clf.sample(3, y=[1, 2, 3], random_state=0).shape == (3, 64)


def test_string_labels_and_object_unlabelled(digits):
    X_train, X_test, y_train, _ = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])
    clf = small().fit(X_train, names[y_train])
    assert set(clf.predict(X_test)) <= set(names)
    assert clf.sample(2, y="seven", random_state=0).shape == (2, 64)
    # An object array mixing strings and the integer -1: -1 marks unlabelled rows,
    # as for SelfTrainingClassifier; the string '-1' would be a class of its own.
    y_obj = names[y_train].astype(object)
    y_obj[100:] = -1
    clf = small(max_iter=1).fit(X_train, y_obj)
    assert list(clf.classes_) == sorted(set(names[y_train[:100]]))
    y_str = names[y_train].copy().astype("<U5")
    y_str[100:] = "-1"
    assert "-1" in small(max_iter=1).fit(X_train, y_str).classes_


def test_unlabelled_rows_are_used_and_excluded_from_classes(digits):
    X_train, _, y_train, _ = digits
    y = y_train.copy()
    y[200:] = -1
    clf = small(max_iter=1).fit(X_train, y)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    # Unlabelled rows change the fit (they are not dropped).
    other = small(max_iter=1).fit(X_train[:200], y[:200])
    assert not np.allclose(clf.predict_proba(X_train[:5]), other.predict_proba(X_train[:5]))


@pytest.mark.parametrize(
    "y_bad, match",
    [
        ("nan", "NaN"),
        ("short", "inconsistent numbers of samples"),
        ("2d", "1d array"),
        ("all_unlabelled", "All rows of y are -1"),
        ("one_class", "at least two classes"),
        ("continuous", "Unknown label type"),
    ],
)
def test_bad_labels(digits, y_bad, match):
    X_train, _, y_train, _ = digits
    y = {
        "nan": np.where(np.arange(len(y_train)) == 3, np.nan, y_train.astype(float)),
        "short": y_train[:-1],
        "2d": np.c_[y_train, y_train],
        "all_unlabelled": np.full(len(y_train), -1),
        "one_class": np.where(np.arange(len(y_train)) < 50, 3, -1),
        "continuous": np.linspace(0, 1, len(y_train)),
    }[y_bad]
    with pytest.raises(ValueError, match=match):
        small(max_iter=1).fit(X_train, y)


def test_sample_label_errors(digits):
    X_train, _, y_train, _ = digits
    clf = small(max_iter=1).fit(X_train, y_train)
    with pytest.raises(ValueError, match="not seen in fit"):
        clf.sample(2, y=11)
    with pytest.raises(ValueError, match="one per sample"):
        clf.sample(3, y=[1, 2])


def test_pickle_clone_determinism(digits):
    X_train, X_test, y_train, _ = digits
    y = y_train.copy()
    y[300:] = -1
    a = small(max_iter=2).fit(X_train, y)
    b = small(max_iter=2).fit(X_train, y)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    np.testing.assert_array_equal(a.transform(X_test), b.transform(X_test))
    np.testing.assert_array_equal(a.sample(4, random_state=1), b.sample(4, random_state=1))
    c = small(max_iter=2, random_state=1).fit(X_train, y)
    assert not np.allclose(a.predict_proba(X_test), c.predict_proba(X_test))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict_proba(X_test), a.predict_proba(X_test))
    fresh = clone(a)
    assert fresh.get_params() == a.get_params() and not hasattr(fresh, "net_")


def test_pipeline_and_grid_search(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(MinMaxScaler(clip=True), small(max_iter=5))
    grid = GridSearchCV(
        pipe, {"vaeclassifier__alpha": [1.0, 100.0], "vaeclassifier__n_components": [2, 4]},
        cv=2, n_jobs=2,
    ).fit(X_train, y_train)
    assert set(grid.best_params_) == {"vaeclassifier__alpha", "vaeclassifier__n_components"}
    assert grid.score(X_test, y_test) > 0.3  # chance is 0.1
    # The classifier's encoder feeding an SVC.
    # (M2's z is inferred with the class, so it carries mostly style: a weak feature.)
    feats = make_pipeline(small(max_iter=5), SVC()).fit(X_train, y_train)
    assert feats.score(X_test, y_test) > 0.2


# -- learned structure ---------------------------------------------------------
def test_fully_labelled_accuracy(digits, labelled_model):
    _, X_test, _, y_test = digits
    assert labelled_model.score(X_test, y_test) >= 0.95


def test_conditional_samples_are_recognised(digits, labelled_model):
    X_train, _, y_train, _ = digits
    svc = SVC().fit(X_train, y_train)
    for k in labelled_model.classes_:
        samples = labelled_model.sample(100, y=k, random_state=int(k))
        recognised = np.mean(svc.predict(samples) == k)
        assert recognised >= 0.7, f"class {k}: only {recognised:.0%} recognised"




def test_unlabelled_rows_help(digits, m1_codes):
    # 10 % of the training labels kept. M2 on M1's codes (the stacking of Kingma et al.)
    # with the unlabelled rows must beat the same M2 fitted on the labelled rows alone,
    # over several seeds. The labelled-only fit gets as many gradient steps (its epochs
    # are ten times shorter), so the gain is the unlabelled rows', not training length's.
    _, _, y_train, y_test = digits
    Z_train, Z_test = m1_codes
    gains = []
    for seed in (0, 1, 2):
        split = StratifiedShuffleSplit(1, train_size=0.1, random_state=seed)
        lab = next(split.split(Z_train, y_train))[0]
        y_semi = np.full(len(y_train), -1)
        y_semi[lab] = y_train[lab]
        params = {"n_components": 8, "hidden_layer_sizes": (128,), "likelihood": "gaussian",
                  "model": "m2", "labelled_batch_size": None, "device": "cpu",
                  "random_state": seed}
        epochs = 100
        semi = VAEClassifier(max_iter=epochs, **params).fit(Z_train, y_semi)
        alone = VAEClassifier(max_iter=epochs * len(y_train) // len(lab), **params)
        alone.fit(Z_train[lab], y_train[lab])
        gains.append(semi.score(Z_test, y_test) - alone.score(Z_test, y_test))
    assert min(gains) > 0, gains
    assert np.mean(gains) >= 0.02, gains


def test_conv_classifier_with_mlp_vae(digits):
    """classifier_architecture='conv' makes only q(y|x) convolutional; it learns digits."""
    from skvae.nn import ConvBody, GaussianEncoder, MLPDecoder

    X_train, X_test, y_train, y_test = digits
    # A constant step size: the default cosine decay over so short a run trains less.
    clf = VAEClassifier(n_components=4, hidden_layer_sizes=(64,), classifier_architecture="conv",
                        max_iter=15, learning_rate="constant", random_state=0,
                        model="m2").fit(X_train, y_train)
    module = clf.net_.module_
    assert isinstance(module.classifier.body, ConvBody)
    assert module.classifier.body.image_shape == (1, 8, 8)
    assert type(module.encoder) is GaussianEncoder and isinstance(module.decoder, MLPDecoder)
    assert not isinstance(module.encoder.body, ConvBody)
    assert clf.score(X_test, y_test) >= 0.9
    assert clf.get_params()["classifier_architecture"] == "conv"
    # None follows `architecture`: an all-MLP model by default.
    default = VAEClassifier(n_components=2, max_iter=1, random_state=0).fit(X_train, y_train)
    assert not isinstance(default.net_.module_.classifier.body, ConvBody)


def test_conv_classifier_needs_images(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="perfect square.*image_shape"):
        VAEClassifier(classifier_architecture="conv", max_iter=1).fit(X_train[:, :60], y_train)
    with pytest.raises(ValueError, match="classifier_architecture"):
        VAEClassifier(classifier_architecture="resnet", max_iter=1).fit(X_train, y_train)


def test_labelled_batch_size_tops_up_batches():
    """Every training batch gains the labelled rows, cycling through all of them."""
    import torch

    from skvae._batches import BatchIterator, TensorData
    from skvae.models import LabelledTopUpIterator

    y = torch.full((50,), -1)
    y[:3] = torch.tensor([0, 1, 2])  # 3 labelled rows among 50
    data = TensorData(torch.arange(50.0).unsqueeze(1), y)
    torch.manual_seed(0)
    batches = [(xi["x"], yb) for xi, yb in
               LabelledTopUpIterator(data, 10, shuffle=True, labelled_batch_size=4)]
    assert len(batches) == 5 == len(BatchIterator(data, 10, shuffle=True))
    seen = torch.cat([xb[10:, 0] for xb, _ in batches]).long()
    assert all(len(xb) == 14 and (yb[10:] >= 0).all() for xb, yb in batches)
    # 20 extra draws over 3 labelled rows: each drawn 6 or 7 times (whole passes).
    assert sorted(torch.bincount(seen, minlength=3).tolist()) == [6, 7, 7]
    # Every row still comes once in the regular part of the epoch.
    regular = torch.cat([xb[:10, 0] for xb, _ in batches]).long()
    assert sorted(regular.tolist()) == list(range(50))
    # Off without shuffling (prediction) and without labelled rows.
    assert all(len(xi["x"]) <= 10 for xi, _ in
               LabelledTopUpIterator(data, 10, shuffle=False, labelled_batch_size=4))
    unlabelled = TensorData(data.X, torch.full((50,), -1))
    assert all(len(xi["x"]) <= 10 for xi, _ in
               LabelledTopUpIterator(unlabelled, 10, shuffle=True, labelled_batch_size=4))


def test_labelled_batch_size_in_fit(digits):
    X_train, X_test, y_train, y_test = digits
    y_partial = np.where(np.arange(len(y_train)) < 100, y_train, -1)
    clf = VAEClassifier(n_components=4, labelled_batch_size=32, max_iter=3, random_state=0)
    clf.fit(X_train, y_partial)
    again = clone(clf).fit(X_train, y_partial)
    np.testing.assert_array_equal(clf.predict_proba(X_test), again.predict_proba(X_test))
    assert clf.n_iter_ == 3
    with pytest.raises(ValueError, match="labelled_batch_size"):
        VAEClassifier(labelled_batch_size=0, max_iter=1).fit(X_train, y_train)


# -- incremental fit, transduction, fit dtype ---------------------------------------
def test_partial_fit_needs_classes_first_then_trains_one_epoch_per_call(digits):
    X_train, X_test, y_train, y_test = digits
    clf = small(random_state=0, learning_rate_init=1e-2)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X_train[:100], y_train[:100])
    assert not hasattr(clf, "net_")
    for start in range(0, 600, 200):
        clf.partial_fit(X_train[start:start + 200], y_train[start:start + 200],
                        classes=np.arange(10))
    assert clf.n_iter_ == 3 and list(clf.classes_) == list(range(10))
    with pytest.raises(ValueError, match="differs from the classes_"):
        clf.partial_fit(X_train[:50], y_train[:50], classes=[0, 1])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X_train[:5], np.array([0, 1, 2, 3, 42]))
    assert clf.n_iter_ == 3  # failed calls leave the model as it was
    clf.partial_fit(X_train[:200], np.where(np.arange(200) < 50, y_train[:200], -1))
    assert clf.n_iter_ == 4 and clf.score(X_test, y_test) > 0.5  # chance is 0.1


def test_transduction_labels_every_training_row(digits):
    X_train, _, y_train, _ = digits
    y_partial = np.where(np.arange(len(y_train)) < 200, y_train, -1)
    clf = small(max_iter=5).fit(X_train, y_partial)
    assert clf.transduction_.shape == y_train.shape
    np.testing.assert_array_equal(clf.transduction_[:200], y_train[:200])
    np.testing.assert_array_equal(clf.transduction_[200:], clf.predict(X_train[200:]))
    assert np.mean(clf.transduction_[200:] == y_train[200:]) > 0.3  # chance is 0.1


def test_sample_answers_in_the_fit_dtype(digits):
    X_train, _, y_train, _ = digits
    for dtype in (np.float32, np.float64):
        clf = small(max_iter=1).fit(X_train.astype(dtype), y_train)
        assert clf.sample(3, random_state=0).dtype == dtype


# -- M1 + M2 inside the estimator (model='m1+m2') ---------------------------
def test_m1_plus_m2_stacks_a_frozen_vae_and_m2(digits):
    X_train, X_test, y_train, y_test = digits
    y = np.where(np.arange(len(y_train)) < 300, y_train, -1)
    clf = small(max_iter=5, model="m1+m2").fit(X_train, y)
    assert clf.model_ == "m1+m2" and clf.plan_.final.labelled_batch_size == 128
    module = clf.net_.module_
    assert isinstance(module, StackedM2) and module.n_code == 32  # min(50, 64 // 2)
    assert not any(p.requires_grad for p in module.code_model.parameters())
    # Everything takes and gives rows of X, as with M2 on the inputs.
    assert clf.predict_proba(X_test).shape == (len(X_test), 10)
    assert clf.transform(X_test).shape == (len(X_test), 4)
    samples = clf.sample(5, y=3, random_state=0)
    assert samples.shape == (5, 64) and samples.min() >= 0 and samples.max() <= 1
    assert np.isfinite(clf.score_samples(X_test[:5])).all()
    assert clf.score(X_test, y_test) > 0.5  # chance is 0.1
    # M1 stays frozen when partial_fit trains on.
    before = [p.clone() for p in module.code_model.parameters()]
    clf.partial_fit(X_train, y)
    after = clf.net_.module_.code_model.parameters()
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test), clf.predict_proba(X_test))
    again = clone(clf).fit(X_train, y)
    first = small(max_iter=5, model="m1+m2").fit(X_train, y)
    np.testing.assert_array_equal(again.predict_proba(X_test), first.predict_proba(X_test))


def test_code_model_on_images_classifies_the_pixels_through_the_convolutions(digits):
    """With a conv M1, M2 models the code while q(y | .) reads the pixels through
    convolutions of its own, the code joined after them."""
    X_train, X_test, y_train, y_test = digits
    y = np.where(np.arange(len(y_train)) < 300, y_train, -1)
    clf = small(max_iter=5, architecture="conv", model="m1+m2").fit(X_train, y)
    module = clf.net_.module_
    assert isinstance(module, StackedM2) and module.model_input == "code"
    body = module.m2.classifier.body
    assert isinstance(body, JoinedBody) and isinstance(body.row_body, ConvBody)
    assert body.n_row == 64 and module.m2.classifier.head.in_features == 64
    # Its convolutions are trained, not M1's (which stay frozen).
    assert all(p.requires_grad for p in body.row_body.parameters())
    assert clf.score(X_test, y_test) > 0.5  # chance is 0.1
    # Without images M2 models [row, code] and its classifier reads that; a conv
    # classifier_architecture gives it convolutions over the row part.
    other = small(max_iter=1, classifier_architecture="conv", model="m1+m2").fit(X_train, y)
    module = other.net_.module_
    assert module.model_input == "rows_and_code"
    assert isinstance(module.m2.classifier.body.row_body, ConvBody)
    plain = small(max_iter=1, model="m1+m2").fit(X_train, y).net_.module_.m2.classifier.body
    assert isinstance(plain.row_body, torch.nn.Identity)


def test_code_model_on_wide_rows_models_the_code_alone(digits):
    """Rows wider than twice M1's largest code (100 features) are not modelled by M2
    (a Gaussian M2 spends itself on them): M2 models the code, its classifier reads the
    rows beside it, as for images."""
    X_train, X_test, y_train, y_test = digits
    wide = np.hstack([X_train, X_train[:, ::-1]])  # 128 features, still in [0, 1]
    y = np.where(np.arange(len(y_train)) < 300, y_train, -1)
    clf = small(max_iter=2, model="m1+m2").fit(wide, y)
    module = clf.net_.module_
    assert module.model_input == "code" and module.classifier_input == "with_rows"
    assert module.n_code == 50 and module.m2.classifier.body.n_row == 128
    assert clf.predict(np.hstack([X_test, X_test[:, ::-1]])).shape == (len(X_test),)
    narrow = small(max_iter=1, model="m1+m2").fit(X_train, y).net_.module_
    assert narrow.model_input == "rows_and_code"


def test_model_auto_is_the_shared_m2_when_every_row_is_labelled(digits, labelled_model):
    from skvae.nn import SharedM2

    assert labelled_model.model_ == "shared-m2"
    assert labelled_model.plan_.final.labelled_batch_size == 64
    assert isinstance(labelled_model.net_.module_, SharedM2)


def test_learning_rate_auto_decays_for_a_conv_classifier_when_every_row_is_labelled(digits):
    X_train, _, y_train, _ = digits
    lr0 = 2e-3
    conv = small(max_iter=4, learning_rate_init=lr0, classifier_architecture="conv")
    conv.fit(X_train[:300], y_train[:300])
    # Half a cosine over max_iter epochs, stepped after each epoch.
    expected = [lr0 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)]
    np.testing.assert_allclose(conv.history_[:, "lr"], expected, rtol=1e-6)
    # After the last epoch's step, the optimiser's step size has reached 0.
    assert conv.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    # A fully connected classifier, and M1 + M2 (some rows unlabelled) keep the
    # constant step size they were measured with.
    mlp = small(max_iter=2).fit(X_train[:300], y_train[:300])
    y = np.where(np.arange(300) < 100, y_train[:300], -1)
    semi = small(max_iter=2, classifier_architecture="conv").fit(X_train[:300], y)
    for clf in (mlp, semi):
        assert "lr" not in clf.history_[-1]
        assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-3)
    # ... unless asked for; then M1 decays too.
    cos = small(max_iter=2, learning_rate="cosine").fit(X_train[:300], y)
    assert list(cos.history_[:, "lr"]) == pytest.approx([1e-3, 5e-4])
    const = small(max_iter=2, learning_rate="constant", classifier_architecture="conv")
    assert "lr" not in const.fit(X_train[:300], y_train[:300]).history_[-1]


def test_learning_rate_schedule_spans_one_fit_only(digits):
    X_train, _, y_train, _ = digits
    clf = small(max_iter=3, learning_rate="cosine").fit(X_train[:300], y_train[:300])
    assert len(clf.history_[:, "lr"]) == 3
    clf.partial_fit(X_train[:300], y_train[:300])  # continues at learning_rate_init
    assert clf.n_iter_ == 4 and "lr" not in clf.history_[-1]
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-3)
    fresh = small(learning_rate="cosine").partial_fit(X_train[:300], y_train[:300],
                                                       classes=np.arange(10))
    assert "lr" not in fresh.history_[-1]
    with pytest.raises(ValueError, match="learning_rate"):
        small(learning_rate="linear").fit(X_train[:300], y_train[:300])
    with pytest.raises(ValueError, match=r"step size as learning_rate_init=0\.01"):
        small(learning_rate=0.01).fit(X_train[:300], y_train[:300])


def test_model_can_be_forced(digits):
    X_train, _, y_train, _ = digits
    forced = small(max_iter=2, model="m1+m2").fit(X_train[:300], y_train[:300])
    assert isinstance(forced.net_.module_, StackedM2)
    y = np.where(np.arange(300) < 100, y_train[:300], -1)
    plain = small(max_iter=2, model="m2").fit(X_train[:300], y)
    assert not isinstance(plain.net_.module_, StackedM2)
    with pytest.raises(ValueError, match="model"):
        small(model="pixels").fit(X_train[:300], y)


def test_defaults_beat_an_svc_on_the_labelled_rows_with_ten_labels_per_class():
    """Issues 9 and 21: VAEClassifier() on digits with 10 labels per class, the rest -1,
    against SVC(C=10) fitted on the labelled rows and LabelSpreading(knn) on all rows;
    median of 3 label draws and splits. Issue 21 asks for a win over LabelSpreading too;
    the defaults tie with it (docs/classifier.md), so this checks that they stay within
    1 point of it, and ahead of the SVC.

    The three draws run in two processes of one torch thread each (the suite's setting),
    so each fit is the one a sequential run gives, in two thirds of the time.
    """
    from joblib import Parallel, delayed

    def one_draw(seed):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        torch.set_num_threads(1)
        X, y = load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X / 16, y, test_size=0.3, random_state=seed, stratify=y)
        rng = np.random.default_rng(1000 + seed)
        lab = np.concatenate([rng.choice(np.flatnonzero(y_train == c), 10, replace=False)
                              for c in range(10)])
        y_semi = np.full(len(y_train), -1)
        y_semi[lab] = y_train[lab]
        clf = VAEClassifier(device="cpu", random_state=seed).fit(X_train, y_semi)
        svc = SVC(C=10).fit(X_train[lab], y_train[lab])
        spread = LabelSpreading(kernel="knn", n_neighbors=7, max_iter=100).fit(X_train, y_semi)
        return (clf.model_, clf.score(X_test, y_test), svc.score(X_test, y_test),
                spread.score(X_test, y_test))

    draws = Parallel(n_jobs=2)(delayed(one_draw)(seed) for seed in (0, 1, 2))
    assert all(d[0] == "shared-m2" for d in draws)
    ours, svc, spread = ([d[i] for d in draws] for i in (1, 2, 3))
    assert np.median(np.subtract(ours, svc)) > 0, (ours, svc)
    assert np.median(np.subtract(ours, spread)) > -0.01, (ours, spread)


# -- faults (issue 24) ---------------------------------------------------------------
def test_partial_fit_refuses_the_unlabelled_marker_as_a_class(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match=r"contains -1, the marker of unlabelled rows"):
        small().partial_fit(X_train[:50], y_train[:50], classes=[-1, *range(10)])


def test_a_huge_labelled_batch_size_is_refused_at_once(digits):
    X_train, _, y_train, _ = digits
    y = np.where(np.arange(300) < 30, y_train[:300], -1)
    with pytest.raises(ValueError, match=r"labelled_batch_size=1000000000 is more than "
                                         r"the 300 training rows"):
        small(labelled_batch_size=10**9, max_iter=1).fit(X_train[:300], y)
    # At the limit it trains (each batch then repeats the 30 labels ten times).
    clf = small(labelled_batch_size=300, max_iter=1).fit(X_train[:300], y)
    assert clf.plan_.final.labelled_batch_size == 300


def test_a_missing_label_in_an_object_array_says_to_use_minus_one(digits):
    X_train, _, y_train, _ = digits
    y = y_train[:50].astype(object)
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"missing label \(None or NaN\) in 1 row\(s\), the "
                                         r"first at row 3.*integer -1"):
        small(max_iter=1).fit(X_train[:50], y)

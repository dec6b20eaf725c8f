"""Faults and bad input: every fit is all or nothing, fitted state is read from
fitted attributes, interrupts are never silent, and bad values get clear errors."""

import contextlib
import warnings

import numpy as np
import pytest
import torch
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from skorch.callbacks import Callback
from torch import nn

from skvae import VAEClassifier, VAETransformer

FAST = {"n_components": 2, "hidden_layer_sizes": (16,), "max_iter": 3, "batch_size": 64,
        "device": "cpu", "random_state": 0}


def _state(est):
    return (est.n_iter_, list(est.loss_curve_), est.transform(np.full((2, 64), 0.5)))


def test_failed_refit_keeps_the_old_model(X300):
    vae = VAETransformer(**FAST).fit(X300)
    before = _state(vae)
    vae.set_params(learning_rate_init=1e6)
    with pytest.raises(FloatingPointError, match="diverged"):
        vae.fit(X300)
    after = _state(vae)
    assert before[:2] == after[:2]
    np.testing.assert_array_equal(before[2], after[2])
    assert np.isfinite(after[2]).all()


def test_failed_first_fit_leaves_the_estimator_unfitted(X300):
    vae = VAETransformer(**{**FAST, "learning_rate_init": 1e6})
    with pytest.raises(FloatingPointError):
        vae.fit(X300)
    assert not hasattr(vae, "net_") and not hasattr(vae, "n_features_in_")


def test_set_params_after_fit_changes_nothing_until_the_next_fit(X300):
    vae = VAETransformer(**FAST).fit(X300)
    vae.set_params(n_components=5, likelihood="gaussian")
    assert vae.transform(X300[:3]).shape == (3, 2)
    assert len(vae.get_feature_names_out()) == 2
    assert vae.sample(3, random_state=0).shape == (3, 64)
    assert vae.score_samples(X300[:3]).shape == (3,)
    assert vae.inverse_transform(np.zeros((1, 2))).shape == (1, 64)
    # Bernoulli model: a transform input slightly above 1 is clipped, not refused.
    assert np.isfinite(vae.transform(X300[:3] * 1.04)).all()
    with pytest.raises(ValueError, match="n_components, likelihood changed.*Call fit"):
        vae.partial_fit(X300)
    assert vae.fit(X300).transform(X300[:3]).shape == (3, 5)


class _Interrupt(Callback):
    def __init__(self, at_epoch, at_batch=0):
        self.at_epoch, self.at_batch = at_epoch, at_batch

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        batches = len(net.history[-1]["batches"]) if len(net.history) else 0
        if len(net.history) == self.at_epoch and batches >= self.at_batch:
            raise KeyboardInterrupt


def test_interrupt_before_the_first_epoch_ends_leaves_the_estimator_as_it_was(X300):
    vae = VAETransformer(**FAST, callbacks=[_Interrupt(at_epoch=1, at_batch=1)])
    with pytest.raises(KeyboardInterrupt):
        vae.fit(X300)
    assert not hasattr(vae, "net_")
    fitted = VAETransformer(**FAST).fit(X300)
    before = _state(fitted)
    fitted.set_params(callbacks=[_Interrupt(at_epoch=1)])
    with pytest.raises(KeyboardInterrupt):
        fitted.fit(X300)
    assert _state(fitted)[:2] == before[:2]


def test_interrupt_later_warns_and_keeps_a_consistent_model(X300):
    vae = VAETransformer(**{**FAST, "max_iter": 10}, callbacks=[_Interrupt(at_epoch=3)])
    with pytest.warns(UserWarning, match="interrupted by user after 2 epoch"):
        vae.fit(X300)
    assert vae.n_iter_ == 2 == len(vae.loss_curve_)
    assert np.isfinite(vae.transform(X300[:5])).all()


def test_early_stopping_with_few_rows_per_class(digits):
    X_train, _, y_train, _ = digits
    idx = np.concatenate([np.flatnonzero(y_train == c)[:3] for c in range(10)])
    clf = VAEClassifier(**FAST, early_stopping=True).fit(X_train[idx], y_train[idx])
    assert "valid_loss" in clf.history_[-1]


def test_values_beyond_float32_are_a_clear_error(X300):
    with pytest.raises(ValueError, match="float32's range"):
        VAETransformer(**FAST, likelihood="gaussian").fit(X300 * 1e39)
    vae = VAETransformer(**FAST, likelihood="gaussian").fit(X300)
    with pytest.raises(ValueError, match="float32's range"):
        vae.transform(X300 * 1e39)


@pytest.mark.parametrize("callbacks", [[1], [("name", 1)], [(1, Callback())]])
def test_bad_callbacks_are_a_clear_error(X300, callbacks):
    with pytest.raises(ValueError, match=r"callbacks\[0\].*skorch callback"):
        VAETransformer(**FAST, callbacks=callbacks).fit(X300)


def test_minmax_scaled_pipeline_cross_validates_without_nan(digits):
    X, y = digits[0][:400] * 16, digits[2][:400]  # raw pixel values 0..16
    rng = np.random.default_rng(0)
    X = X + rng.normal(0, 1, X.shape)  # test folds then fall outside the train range
    from sklearn.linear_model import LogisticRegression

    pipe = make_pipeline(MinMaxScaler(), VAETransformer(**FAST), LogisticRegression())
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert np.isfinite(scores).all()


def test_float32_input_is_neither_copied_nor_written(X300):
    X32 = np.ascontiguousarray(X300, dtype=np.float32)
    before = X32.copy()
    vae = VAETransformer(**FAST)
    seen = []
    original = vae._validate_X

    def spy(X300, **kw):
        out = original(X300, **kw)
        seen.append(out[0])
        return out

    vae._validate_X = spy
    vae.fit(X32)
    assert np.shares_memory(seen[0], X32)
    np.testing.assert_array_equal(X32, before)


def test_rows_do_not_depend_on_the_other_rows(X300):
    vae = VAETransformer(**FAST).fit(X300)
    clf = VAEClassifier(**FAST).fit(X300, np.arange(len(X300)) % 3)
    rng = np.random.default_rng(1)
    for _ in range(5):
        subset = rng.choice(len(X300), size=int(rng.integers(1, len(X300))), replace=False)
        subset.sort()
        for method in (vae.transform, vae.score_samples, clf.predict_proba, clf.transform,
                       clf.score_samples):
            # scikit-learn's tolerance in check_methods_subset_invariance.
            np.testing.assert_allclose(method(X300[subset]), method(X300)[subset],
                                       rtol=1e-7, atol=1e-7)


# -- user modules (issue 24.2, issue 22.8) -----------------------------------------
ONE_EPOCH = {**FAST, "max_iter": 1}


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
@pytest.mark.parametrize("width", [1, 5, 65])
def test_a_decoder_of_the_wrong_width_is_a_clear_error(X300, likelihood, width):
    # Gaussian with width 1 used to fit silently (broadcast against 64 features);
    # Bernoulli failed with a raw torch shape error.
    vae = VAETransformer(**ONE_EPOCH, likelihood=likelihood, decoder=nn.Linear(2, width))
    with pytest.raises(ValueError, match=rf"returns {width} values? per row .* must return 64"):
        vae.fit(X300)
    assert not hasattr(vae, "net_")


def test_a_classifier_decoder_of_the_wrong_width_is_a_clear_error(digits):
    X, y = digits[0][:300], digits[2][:300]
    # M2's decoder reads [z, onehot(y)]: 2 + 10 columns.
    clf = VAEClassifier(**ONE_EPOCH, decoder=nn.Linear(12, 5))
    with pytest.raises(ValueError, match=r"returns 5 values per row for codes \(n, 12\).*64"):
        clf.fit(X, y)
    # A factory gets the right sizes and passes the check.
    clf.set_params(decoder=lambda n_in, n_out: nn.Linear(n_in, n_out))
    assert clf.fit(X, y).predict(X[:3]).shape == (3,)


def test_a_decoder_returning_images_of_the_right_size_is_accepted(X300):
    decoder = nn.Sequential(nn.Linear(2, 64), nn.Unflatten(1, (1, 8, 8)))
    vae = VAETransformer(**ONE_EPOCH, decoder=decoder).fit(X300)
    assert vae.inverse_transform(np.zeros((2, 2))).shape == (2, 64)


def test_a_conv_encoder_on_flat_rows_hints_at_unflatten(X300):
    encoder = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten())
    with pytest.raises(ValueError, match=r"Conv2d reads images .*nn\.Unflatten\(1, \(1, 8, 8\)\)"):
        VAETransformer(**ONE_EPOCH, encoder=encoder).fit(X300)
    # The hinted fix works.
    fixed = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), *encoder)
    assert VAETransformer(**ONE_EPOCH, encoder=fixed).fit(X300).transform(X300[:2]).shape == (2, 2)


# -- early stopping on tiny data (issue 24.6) --------------------------------------
@pytest.mark.parametrize("n_rows, fraction, needs", [(5, 0.1, 6), (50, 0.99, 51)])
@pytest.mark.parametrize("kind", ["transformer", "classifier", "partly labelled"])
def test_early_stopping_on_too_few_rows_says_how_many_it_needs(digits, kind, n_rows,
                                                               fraction, needs):
    X, y = digits[0][:n_rows], digits[2][:n_rows].copy()
    params = {**ONE_EPOCH, "early_stopping": True, "validation_fraction": fraction}
    if kind == "transformer":
        est, args = VAETransformer(**params), (X,)
    else:
        if kind == "partly labelled":
            y[::2] = -1
        est, args = VAEClassifier(**params), (X, y)
    # skorch's EarlyStopping raised an IndexError (an empty history) at the end of
    # training, hiding skvae's own error about the split.
    with pytest.raises(ValueError, match=rf"validation_fraction={fraction} .* needs at "
                                         rf"least {needs} rows"):
        est.fit(*args)
    assert not hasattr(est, "net_")
    # With that many rows the split works.
    X, y = digits[0][:needs], digits[2][:needs]
    est.fit(*((X,) if kind == "transformer" else (X, y)))
    assert "valid_loss" in est.history_[-1]


# -- read-only input (issue 24.7) ---------------------------------------------------
_NOT_WRITABLE = "error:.*NumPy array is not writable:UserWarning"


@contextlib.contextmanager
def _torch_warns_always():
    """torch's once-per-process warnings (such as the one about read-only arrays) on
    every time, so that a test sees them whatever ran before it."""
    before = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        yield
    finally:
        torch.set_warn_always(before)


def _read_only_inputs(X, tmp_path):
    frozen = np.array(X, dtype=np.float32)
    frozen.setflags(write=False)
    path = tmp_path / "X.npy"
    np.save(path, frozen)
    frozen64 = np.array(X, dtype=np.float64)  # score_samples reads float64 as it is
    frozen64.setflags(write=False)
    return {"setflags": frozen, "memmap": np.load(path, mmap_mode="r"), "float64": frozen64}


@pytest.mark.filterwarnings(_NOT_WRITABLE)
@pytest.mark.parametrize("source", ["setflags", "memmap"])
def test_fit_on_read_only_float32_input_neither_warns_nor_copies(digits, tmp_path,
                                                                 monkeypatch, source):
    X = _read_only_inputs(digits[0][:300], tmp_path)[source]
    assert not X.flags.writeable
    from skvae._net import VAENet
    shared = []
    get_dataset = VAENet.get_dataset

    def spy(self, X_in, y_in=None):
        data = get_dataset(self, X_in, y_in)
        x = X_in["x"] if isinstance(X_in, dict) else X_in
        shared.append(np.shares_memory(data.X.numpy(), x) and np.shares_memory(x, X))
        return data

    monkeypatch.setattr(VAENet, "get_dataset", spy)
    y = digits[2][:300].copy()
    with _torch_warns_always():
        VAETransformer(**ONE_EPOCH).fit(X)
        VAEClassifier(**ONE_EPOCH).fit(X, y)
        y[::2] = -1  # partly labelled
        VAEClassifier(**ONE_EPOCH).fit(X, y)
    assert len(shared) == 3 and all(shared)  # every net trains on X's own memory


@pytest.mark.filterwarnings(_NOT_WRITABLE)
@pytest.mark.parametrize("source", ["setflags", "memmap", "float64"])
def test_inference_on_read_only_float32_input_does_not_warn(digits, tmp_path, source):
    X = _read_only_inputs(digits[0][:300], tmp_path)[source]
    writable = np.array(X)
    vae = VAETransformer(**ONE_EPOCH).fit(writable)
    clf = VAEClassifier(**ONE_EPOCH).fit(writable, digits[2][:300])
    with _torch_warns_always():
        for method in (vae.transform, vae.score_samples, clf.predict, clf.predict_proba,
                       clf.transform, clf.score_samples):
            np.testing.assert_array_equal(method(X), method(writable))
        Z = vae.transform(X)
        Z.setflags(write=False)
        assert vae.inverse_transform(Z).shape == X.shape


def test_the_read_only_check_sees_torchs_warning():
    # The warnings filter of the test above would catch torch's message.
    frozen = np.zeros((2, 3), dtype=np.float32)
    frozen.setflags(write=False)
    with _torch_warns_always(), pytest.warns(UserWarning, match="NumPy array is not writable"):
        torch.as_tensor(frozen)


# -- badly scaled input at prediction time (issue 24.8) --------------------------------
def test_badly_scaled_input_is_clipped_with_a_warning(digits):
    X, y = digits[0][:300], digits[2][:300]
    vae = VAETransformer(**ONE_EPOCH).fit(X)
    clf = VAEClassifier(**ONE_EPOCH).fit(X, y)
    n_out = int(np.count_nonzero(X * 16 > 1))
    for method in (vae.transform, clf.predict, clf.predict_proba, clf.transform):
        with pytest.warns(UserWarning, match=rf"{n_out} of {X.size} values of X lie outside "
                                             r"\[0, 1\].*scale X to \[0, 1\]"):
            method(X * 16)
    # The strays of a scaler fitted on other rows are clipped quietly.
    X_test = MinMaxScaler().fit(X[:150]).transform(X[150:])
    assert X_test.max() > 1 or X_test.min() < 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in (vae.transform, clf.predict):
            method(X_test)
            method(X * 1.04)

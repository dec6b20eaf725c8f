import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.svm import SVC
from skorch.callbacks import Callback

from skvae import VAETransformer
from skvae.nn import ConvBody

FAST = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=3, device="cpu")






# -- learned structure ------------------------------------------------------------
def test_pipeline_with_svc_learns_digits(digits, fitted_vae):
    X_train, X_test, y_train, y_test = digits
    svc = SVC().fit(fitted_vae.transform(X_train), y_train)
    accuracy = svc.score(fitted_vae.transform(X_test), y_test)
    assert accuracy >= 0.90, accuracy


def test_pipeline_end_to_end(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline([("vae", VAETransformer(**{**FAST, "max_iter": 20}, random_state=0)),
                     ("svc", SVC())])
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) > 0.5  # ten classes: chance is 0.1


def test_reconstruction_beats_mean_image(digits, fitted_vae):
    X_train, X_test, _, _ = digits
    recon = fitted_vae.inverse_transform(fitted_vae.transform(X_test))
    mse_vae = np.mean((recon - X_test) ** 2)
    mse_mean = np.mean((X_train.mean(axis=0) - X_test) ** 2)
    assert mse_vae < 0.5 * mse_mean, (mse_vae, mse_mean)


def test_sample_in_unit_interval_and_seeded(fitted_vae):
    draws = fitted_vae.sample(50, random_state=0)
    assert draws.shape == (50, 64)
    assert draws.min() >= 0.0 and draws.max() <= 1.0
    np.testing.assert_array_equal(draws, fitted_vae.sample(50, random_state=0))
    assert not np.allclose(draws, fitted_vae.sample(50, random_state=1))


def test_score_samples_prefers_digits_over_noise(digits, fitted_vae):
    _, X_test, _, _ = digits
    noise = np.random.default_rng(0).uniform(size=X_test.shape)
    digit_scores = fitted_vae.score_samples(X_test)
    assert digit_scores.shape == (len(X_test),)
    assert np.median(digit_scores) > np.max(fitted_vae.score_samples(noise))
    assert fitted_vae.score(X_test) == pytest.approx(digit_scores.mean())


def test_score_samples_is_deterministic(digits, small_vae):
    X = digits[1]
    np.testing.assert_array_equal(small_vae.score_samples(X), small_vae.score_samples(X))


def test_history_records_loss_parts(small_vae):
    assert small_vae.n_iter_ == 3
    assert len(small_vae.loss_curve_) == 3
    row = small_vae.history_[-1]
    for key in ("train_loss", "train_reconstruction", "train_kl"):
        assert np.isfinite(row[key])
    assert row["train_loss"] == pytest.approx(
        row["train_reconstruction"] + small_vae.beta * row["train_kl"], rel=1e-4
    )


def test_gaussian_likelihood_on_real_values(rng):
    X = rng.normal(size=(200, 5)) * 10 + 3
    vae = VAETransformer(likelihood="gaussian", random_state=0, **FAST).fit(X)
    assert vae.transform(X).shape == (200, 4)
    assert np.isfinite(vae.score_samples(X)).all()


# -- round trips and determinism ----------------------------------------------------
def test_pickle_and_joblib_round_trip(digits, small_vae, tmp_path):
    X = digits[1]
    expected = small_vae.transform(X)
    restored = pickle.loads(pickle.dumps(small_vae))
    np.testing.assert_array_equal(restored.transform(X), expected)
    joblib.dump(small_vae, tmp_path / "vae.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "vae.joblib").transform(X), expected)


def test_clone_refits_identically(digits, small_vae):
    X_train, X_test = digits[0], digits[1]
    twin = clone(small_vae).fit(X_train)
    np.testing.assert_array_equal(twin.transform(X_test), small_vae.transform(X_test))


def test_seed_controls_the_model(digits):
    X = digits[0][:300]
    a = VAETransformer(random_state=1, **FAST).fit(X).transform(X)
    b = VAETransformer(random_state=1, **FAST).fit(X).transform(X)
    c = VAETransformer(random_state=2, **FAST).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)




def test_transform_is_deterministic_and_dtype_preserving(digits, small_vae):
    X = digits[1]
    np.testing.assert_array_equal(small_vae.transform(X), small_vae.transform(X))
    assert small_vae.transform(X.astype(np.float32)).dtype == np.float32
    assert small_vae.transform(X).dtype == np.float64


def test_partial_fit_adds_one_epoch(digits):
    X = digits[0][:200]
    vae = VAETransformer(random_state=0, **FAST).partial_fit(X)
    assert vae.n_iter_ == 1
    vae.partial_fit(X)
    assert vae.n_iter_ == 2 and len(vae.loss_curve_) == 2
    with pytest.raises(ValueError, match="features"):
        vae.partial_fit(X[:, :10])


def test_early_stopping_uses_validation_split(digits):
    vae = VAETransformer(
        early_stopping=True, n_iter_no_change=2, random_state=0, **{**FAST, "max_iter": 40}
    ).fit(digits[0])
    assert "valid_loss" in vae.history_[-1]
    assert "valid_reconstruction" in vae.history_[-1]
    assert vae.n_iter_ <= 40


def test_grid_search_over_latent_size_and_svc(digits):
    X_train, _, y_train, _ = digits
    pipe = Pipeline([("vae", VAETransformer(random_state=0, **FAST)), ("svc", SVC())])
    grid = GridSearchCV(
        pipe, {"vae__n_components": [2, 4], "svc__C": [1.0, 10.0]}, cv=2, n_jobs=2
    )
    grid.fit(X_train[:400], y_train[:400])
    assert set(grid.best_params_) == {"vae__n_components", "svc__C"}
    assert grid.best_estimator_.predict(X_train[:5]).shape == (5,)


def test_unsupervised_grid_search_uses_elbo(digits):
    grid = GridSearchCV(VAETransformer(random_state=0, **FAST), {"beta": [0.5, 1.0]}, cv=2)
    grid.fit(digits[0][:300])
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()


def test_set_output_pandas(digits, small_vae):
    out = clone(small_vae).set_output(transform="pandas").fit(digits[0][:100]).transform(
        digits[1][:5]
    )
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"vaetransformer{i}" for i in range(4)]
    assert list(small_vae.get_feature_names_out()) == list(out.columns)


def test_feature_names_in(digits):
    X = pd.DataFrame(digits[0][:100], columns=[f"px{i}" for i in range(64)])
    vae = VAETransformer(random_state=0, **FAST).fit(X)
    assert list(vae.feature_names_in_) == list(X.columns)


def test_verbose_prints_progress_lines(digits, capsys):
    VAETransformer(verbose=1, random_state=0, **FAST).fit(digits[0][:100])
    out = capsys.readouterr()
    assert "VAE: epoch 1 of " in out.out and "reconstruction" in out.out and "kl" in out.out


def test_user_callbacks_run_and_stay_untouched(digits):
    class Count(Callback):
        def __init__(self):
            self.epochs = 0

        def on_epoch_end(self, net, **kwargs):
            self.epochs += 1

    counter = Count()
    vae = VAETransformer(callbacks=[("count", counter)], random_state=0, **FAST)
    vae.fit(digits[0][:100])
    assert counter.epochs == 0  # the user's object is copied, not changed
    assert dict(vae.net_.callbacks_)["count"].epochs == 3


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.array([[0.1, np.nan], [0.2, 0.3]]), "NaN"),
        (np.array([[0.1, np.inf], [0.2, 0.3]]), "infinity"),
        (np.array([["a", "b"], ["c", "d"]]), "string|convert"),
        (np.array([0.1, 0.2, 0.3]), "2D array"),
        (np.empty((0, 4)), "0 sample"),
        (np.array([[0.5, 2.0], [0.1, 0.2]]), r"\[0, 1\].*MinMaxScaler"),
        (np.array([[-0.5, 0.2], [0.1, 0.2]]), "likelihood='gaussian'"),
    ],
)
def test_bad_input_is_a_clear_error(X, match):
    with pytest.raises(ValueError, match=match):
        VAETransformer(**FAST).fit(X)


def test_wrong_number_of_features_at_transform(small_vae):
    with pytest.raises(ValueError, match="64 features"):
        small_vae.transform(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="n_components_=4"):
        small_vae.inverse_transform(np.zeros((2, 3)))








def test_methods_before_fit_raise_not_fitted(digits):
    vae = VAETransformer()
    for call in (lambda: vae.transform(digits[1]), lambda: vae.inverse_transform(np.zeros((1, 16))),
                 lambda: vae.sample(2), lambda: vae.score_samples(digits[1])):
        with pytest.raises(NotFittedError):
            call()


def test_bad_n_samples(small_vae):
    with pytest.raises(ValueError, match="n_samples"):
        small_vae.sample(0)


def test_caller_arrays_are_not_modified(digits):
    X = digits[0][:100].copy()
    X32 = X.astype(np.float32)
    before, before32 = X.copy(), X32.copy()
    vae = VAETransformer(random_state=0, **FAST).fit(X)
    vae.transform(X32)
    vae.score_samples(X)
    Z = vae.transform(X)
    Z_before = Z.copy()
    vae.inverse_transform(Z)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(X32, before32)
    np.testing.assert_array_equal(Z, Z_before)


def test_diverging_fit_names_the_epoch(digits):
    class Poison(Callback):
        """Break the weights at the start of epoch 2, as a diverging run would."""

        def on_epoch_begin(self, net, **kwargs):
            if len(net.history) == 2:
                with torch.no_grad():
                    next(net.module_.parameters()).fill_(float("nan"))

    vae = VAETransformer(callbacks=[("poison", Poison())], random_state=0, **FAST)
    with pytest.raises(FloatingPointError, match=r"epoch 2.*learning_rate_init"):
        vae.fit(digits[0][:100])


def test_conv_vae_learns_digits(digits_full, fitted_conv):
    X, _ = digits_full
    recon = fitted_conv.inverse_transform(fitted_conv.transform(X))
    err = np.mean((recon - X) ** 2)
    err_mean_image = np.mean((X.mean(axis=0) - X) ** 2)
    assert err < 0.6 * err_mean_image
    assert fitted_conv.loss_curve_[-1] < fitted_conv.loss_curve_[0]
    assert isinstance(fitted_conv.net_.module_.encoder.body, ConvBody)


def test_conv_pipeline_svc_well_above_chance(digits_full):
    X, y = digits_full
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    pipe = make_pipeline(
        VAETransformer(n_components=8, architecture="conv", image_shape=(1, 8, 8),
                       hidden_layer_sizes=(64,), max_iter=25, batch_size=64,
                       learning_rate_init=3e-3, device="cpu", random_state=0),
        SVC(),
    )
    assert pipe.fit(X_tr, y_tr).score(X_te, y_te) > 0.6  # chance is 0.1


# -- KL warm-up, validation scores, host data -----------------------------------
def test_kl_warmup_ramps_the_weight_and_records_it(digits):
    X = digits[0]
    vae = VAETransformer(**{**FAST, "max_iter": 5}, beta=0.5, beta_warmup=2,
                         random_state=0).fit(X)
    assert vae.history_[:, "kl_weight"] == [0.0, 0.25, 0.5, 0.5, 0.5]
    plain = VAETransformer(**FAST, beta=0.5, random_state=0).fit(X)
    assert plain.history_[:, "kl_weight"] == [0.5, 0.5, 0.5]
    # Without the KL pull in the first epoch, the code spreads out more.
    assert vae.history_[0, "train_kl"] > plain.history_[0, "train_kl"]


def test_best_loss_and_validation_scores(digits):
    X = digits[0]
    vae = VAETransformer(**FAST, random_state=0).fit(X)
    assert vae.best_loss_ == min(vae.loss_curve_) and vae.validation_scores_ is None
    es = VAETransformer(**FAST, early_stopping=True, random_state=0).fit(X)
    assert es.best_loss_ is None and len(es.validation_scores_) == es.n_iter_
    assert es.best_validation_score_ == max(es.validation_scores_)
    np.testing.assert_allclose(es.validation_scores_, [-v for v in es.history_[:, "valid_loss"]])


def test_host_data_path_gives_the_same_model(digits, monkeypatch):
    from skvae._batches import TensorData

    X = digits[0]
    moved = []
    original = TensorData.to_device

    def spy(self, t):
        moved.append(self.device)
        return original(self, t)

    monkeypatch.setattr(TensorData, "to_device", spy)
    host = VAETransformer(**FAST, data_placement="host", random_state=0).fit(X)
    assert moved and all(d is not None for d in moved)  # every batch copied on its own
    moved.clear()
    device = VAETransformer(**FAST, data_placement="device", random_state=0).fit(X)
    assert all(d is None for d in moved)
    np.testing.assert_array_equal(host.transform(X[:20]), device.transform(X[:20]))


def test_score_samples_tightens_with_importance_samples(digits, small_vae):
    X = digits[1][:100]
    scores = [clone(small_vae).set_params(n_importance_samples=k) for k in (1, 50)]
    means = [float(s.fit(digits[0]).score(X)) for s in scores]
    assert means[0] < means[1]


@pytest.mark.parametrize(("n_rows", "batch_size", "epochs"),
                         [(500, 128, 100), (1999, 128, 100), (2000, 256, 100),
                          (60000, 256, 22), (200000, 256, 7)])
def test_auto_training_length_is_about_5000_steps_and_at_most_100_epochs(
        n_rows, batch_size, epochs):
    from skvae._plan import plan_fit

    X = np.zeros((n_rows, 4), dtype=np.float32)
    stage = plan_fit(VAETransformer(), X, None, task="unsupervised").final
    assert (stage.batch_size, stage.max_iter) == (batch_size, epochs)
    stage = plan_fit(VAETransformer(max_iter=7, batch_size=32), X, None,
                      task="unsupervised").final
    assert (stage.batch_size, stage.max_iter) == (32, 7)


def test_defaults_fit_digits_with_the_auto_settings(digits):
    X = digits[0][:300]
    vae = VAETransformer(hidden_layer_sizes=(32,), device="cpu", random_state=0).fit(X)
    assert vae.n_iter_ == 100 and vae.net_.batch_size == 128  # 300 rows: 3 steps per epoch
    assert vae.transform(X).shape == (300, 50) and vae.n_components_ == 50
    assert vae.get_params()["max_iter"] == "auto"  # the hyperparameter is left as it was

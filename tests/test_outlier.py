"""VAEOutlierDetector: scikit-learn's outlier API, its scores, and bad input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import make_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skvae import VAEOutlierDetector
from skvae._outlier import SCORE_METHODS

#: Smaller still, for tests that fit several times.
TINY = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=5, device="cpu",
            random_state=0)


# -- the outlier API ----------------------------------------------------------------
def test_predict_offset_and_decision_function(detector, outlier_data):
    X_train, X_test = outlier_data
    scores = detector.score_samples(X_test)
    assert scores.shape == (len(X_test),) and scores.dtype == np.float64
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(detector.decision_function(X_test), scores - detector.offset_)
    labels = detector.predict(X_test)
    assert set(np.unique(labels)) <= {-1, 1}
    np.testing.assert_array_equal(labels == -1, detector.decision_function(X_test) < 0)
    # offset_ is the contamination percentile of the training scores: about 10 % flagged.
    train_scores = detector.score_samples(X_train)
    assert detector.offset_ == pytest.approx(np.percentile(train_scores, 10.0))
    assert abs(np.mean(detector.predict(X_train) == -1) - 0.1) <= 1 / len(X_train)


def test_scores_are_deterministic_and_row_independent(detector, outlier_data):
    X_test = outlier_data[1]
    full = detector.score_samples(X_test)
    np.testing.assert_array_equal(full, detector.score_samples(X_test))
    np.testing.assert_allclose(detector.score_samples(X_test[5:9]), full[5:9],
                               rtol=1e-9, atol=1e-9)


def test_contamination_sets_the_share_flagged(outlier_data):
    X_train = outlier_data[0]
    det = VAEOutlierDetector(contamination=0.3, **TINY).fit(X_train)
    assert abs(np.mean(det.predict(X_train) == -1) - 0.3) <= 1 / len(X_train)


@pytest.mark.parametrize("contamination", [0.0, -0.1, 0.6, 1.0, "auto"])
def test_contamination_outside_range_is_refused(outlier_data, contamination):
    det = VAEOutlierDetector(contamination=contamination, **TINY)
    with pytest.raises(ValueError, match="contamination"):
        det.fit(outlier_data[0])
    assert not hasattr(det, "net_")  # nothing was fitted


def test_contamination_half_is_accepted(outlier_data):
    det = VAEOutlierDetector(contamination=0.5, **TINY).fit(outlier_data[0])
    assert abs(np.mean(det.predict(outlier_data[0]) == -1) - 0.5) <= 1 / 600


def test_unknown_score_method_is_refused(outlier_data):
    with pytest.raises(ValueError, match="score_method"):
        VAEOutlierDetector(score_method="score", **TINY).fit(outlier_data[0])


def test_fit_ignores_y(outlier_data, digits_full):
    X_train = outlier_data[0]
    y = digits_full[1][:600]
    a = VAEOutlierDetector(**TINY).fit(X_train)
    b = VAEOutlierDetector(**TINY).fit(X_train, y)
    np.testing.assert_array_equal(a.score_samples(X_train), b.score_samples(X_train))
    assert a.offset_ == b.offset_


def test_settings_after_fit_change_nothing_until_refit(outlier_data):
    X_train, X_test = outlier_data
    det = VAEOutlierDetector(**TINY).fit(X_train)
    before = det.score_samples(X_test)
    det.set_params(score_method="latent", contamination=0.4)
    np.testing.assert_array_equal(det.score_samples(X_test), before)
    assert det.score_method_ == "combined"
    det.fit(X_train)
    assert det.score_method_ == "latent"
    assert not np.allclose(det.score_samples(X_test), before)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        VAEOutlierDetector().predict(np.zeros((2, 3)))


def test_transform_inverse_transform_sample(detector, outlier_data):
    X_test = outlier_data[1]
    Z = detector.transform(X_test)
    assert Z.shape == (len(X_test), 4)
    assert detector.inverse_transform(Z).shape == X_test.shape
    draws = detector.sample(5, random_state=0)
    assert draws.shape == (5, 64) and draws.min() >= 0 and draws.max() <= 1
    assert list(detector.get_feature_names_out())[:2] == ["vaeoutlierdetector0",
                                                          "vaeoutlierdetector1"]


def test_in_a_pipeline(outlier_data):
    X_train, X_test = outlier_data
    noise = np.random.default_rng(0).uniform(size=(50, 64))
    pipe = make_pipeline(StandardScaler(),
                         VAEOutlierDetector(likelihood="gaussian", **{**TINY, "max_iter": 20}))
    pipe.fit(X_train)
    assert set(np.unique(pipe.predict(np.r_[X_test, noise]))) <= {-1, 1}
    scores = pipe.decision_function(np.r_[X_test, noise])
    auc = roc_auc_score(np.r_[np.ones(len(X_test)), np.zeros(50)], scores)
    assert auc > 0.9, auc


def test_grid_search_with_a_decision_function_scorer(digits_full):
    X, y = digits_full
    # Mostly zeros (+1, normal), a few ones (-1, outliers); fit ignores the labels.
    X = np.r_[X[y == 0], X[y == 1][:20]]
    labels = np.r_[np.ones((y == 0).sum(), dtype=int), -np.ones(20, dtype=int)]
    scorer = make_scorer(roc_auc_score, response_method="decision_function")
    search = GridSearchCV(VAEOutlierDetector(**{**TINY, "max_iter": 20}),
                          {"score_method": ["reconstruction", "latent"]}, scoring=scorer,
                          cv=StratifiedKFold(3, shuffle=True, random_state=0))
    search.fit(X, labels)
    assert search.best_params_["score_method"] in ("reconstruction", "latent")
    assert search.best_score_ > 0.7, search.cv_results_["mean_test_score"]


def test_clone_keeps_settings_and_drops_fitted_state(detector):
    twin = clone(detector)
    assert twin.get_params() == detector.get_params()
    assert not hasattr(twin, "offset_")


# -- the scores ---------------------------------------------------------------------
def test_likelihood_prefers_a_blank_image_and_the_default_does_not(
        detector, likelihood_detector, outlier_data):
    """The bias of likelihoods for simple images (Nalisnick et al. 2019), on digits.

    An all-zero image is no digit, but under the VAE's likelihood it is more probable
    than many real digits; the default score (reconstruction error and code density)
    puts it below every held-out digit.
    """
    X_test = outlier_data[1]
    blank = np.zeros((1, 64))
    # The same network: score_method changes the score, not the training.
    np.testing.assert_array_equal(detector.transform(X_test),
                                  likelihood_detector.transform(X_test))
    by_likelihood = likelihood_detector.score_samples(X_test)
    assert np.mean(likelihood_detector.score_samples(blank)[0] > by_likelihood) > 0.1
    assert likelihood_detector.predict(blank)[0] == 1  # called normal
    by_default = detector.score_samples(X_test)
    assert detector.score_samples(blank)[0] < by_default.min()
    assert detector.predict(blank)[0] == -1


# Not 'complexity': it adds zlib's length of the row, which is largest for noise (it does
# not compress), so noise can outscore digits; it is for images against images, and
# measured worst of the five on the validation splits (docs/outliers.md).
@pytest.mark.parametrize("method", sorted(set(SCORE_METHODS) - {"complexity"}))
def test_every_score_method_ranks_digits_above_noise(outlier_data, method):
    X_train, X_test = outlier_data
    # 60 epochs: after 20 (about 100 steps) the reconstruction of a digit was still so
    # blurred that mid-grey noise was reconstructed as well as the digits.
    det = VAEOutlierDetector(score_method=method, **{**TINY, "max_iter": 60}).fit(X_train)
    noise = np.random.default_rng(0).uniform(size=(50, 64))
    digits_scores, noise_scores = det.score_samples(X_test), det.score_samples(noise)
    assert np.all(np.isfinite(digits_scores)) and np.all(np.isfinite(noise_scores))
    assert np.median(digits_scores) > np.median(noise_scores)
    assert det.score_method_ == method


# -- bad input ------------------------------------------------------------------------
def test_far_rows_inside_the_support_get_finite_low_scores(outlier_data):
    X_train, X_test = outlier_data
    for method in ("reconstruction", "likelihood", "latent", "combined"):
        det = VAEOutlierDetector(likelihood="gaussian", score_method=method,
                                 **TINY).fit(X_train)
        far = np.full((2, 64), 1e30)
        far[1, ::2] = -3e38  # near float32's limit
        scores = det.score_samples(far)
        assert np.all(np.isfinite(scores)), (method, scores)
        assert scores.max() < det.score_samples(X_test).min(), method
        assert np.all(det.predict(far) == -1)


def test_rows_outside_the_bernoulli_range_are_refused(detector):
    X = np.full((2, 64), 0.5)
    X[0, 3] = 2.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        detector.score_samples(X)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        detector.predict(X)


@pytest.mark.parametrize("bad, message", [
    (np.full((3, 64), np.nan), "NaN"),
    (np.zeros((3, 10)), "features"),
    (np.array([["a"] * 64] * 3), "numeric"),
])
def test_bad_input_says_what_is_wrong(detector, bad, message):
    with pytest.raises(ValueError, match=message):
        detector.decision_function(bad)


def test_fit_refuses_bad_training_data():
    with pytest.raises(ValueError, match="NaN"):
        VAEOutlierDetector(**TINY).fit(np.full((20, 4), np.nan))
    X = np.full((20, 4), 0.5)
    X[0, 0] = -1.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        VAEOutlierDetector(**TINY).fit(X)


def test_a_failed_fit_leaves_the_fitted_detector_as_it_was(outlier_data):
    X_train, X_test = outlier_data
    det = VAEOutlierDetector(**TINY).fit(X_train)
    before = det.decision_function(X_test)
    with pytest.raises(ValueError):
        det.fit(np.full((20, 64), np.nan))
    np.testing.assert_array_equal(det.decision_function(X_test), before)


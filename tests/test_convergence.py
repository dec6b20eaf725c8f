"""ConvergenceWarning when max_iter cuts a fit short; tol stops nothing (issue 21).

The rule (skvae._train.check_convergence): after a complete fit with a constant step
size, warn when the best training loss of the last n_iter_no_change epochs beats the best
before them by more than tol (relative to that earlier best, at least 1 nat).
"""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skvae import VAEClassifier, VAETransformer
from skvae._train import check_convergence, improvement

SMALL = dict(n_components=2, hidden_layer_sizes=(16,), batch_size=64, device="cpu",
             random_state=0)


@pytest.fixture
def no_convergence_warning():
    """A ConvergenceWarning in the test fails it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        yield


# -- the rule ------------------------------------------------------------------------
def _stage(**kw):
    return SimpleNamespace(**{**dict(name="VAE", max_iter=8, tol=0.02, n_iter_no_change=2,
                                     learning_rate="constant", beta_warmup=0), **kw})


def test_improvement_windows():
    # 2 epochs of 6: best of the last 2 (19.9) against the best of the first 4 (20.5).
    assert improvement([30, 22, 21, 20.5, 20, 19.9], 2) == pytest.approx(0.6 / 20.5)
    # A run shorter than twice the window: its last half against the rest.
    assert improvement([30, 22, 21, 20.5, 20, 19.9], 10) == pytest.approx(1.1 / 21)
    assert improvement([30, 20, 21], 10) == pytest.approx(-0.05)  # the last vs the first 2
    assert improvement([30], 10) is None
    # Relative to the loss's size, at least 1 nat: small and negative losses work too.
    assert improvement([0.5, 0.4, 0.3, 0.2], 2) == pytest.approx(0.2)  # / 1 nat
    assert improvement([-50.0, -60.0, -61.0, -62.0], 2) == pytest.approx(2 / 60)


def test_check_convergence_rule():
    rising_then_flat = [30.0, 25.0, 24.0, 23.9, 23.85, 23.8, 23.79, 23.78]
    still_falling = [30.0, 28.0, 26.0, 24.0, 22.0, 20.0, 18.0, 16.0]
    with pytest.warns(ConvergenceWarning, match=r"max_iter=8 epochs ended the fit") as rec:
        check_convergence(still_falling, _stage())
    message = str(rec[0].message)
    assert "last 2 epoch(s), 16, is 20.00% below its best before them, 20" in message
    for advice in ("Raise max_iter", "learning_rate='cosine'", "raise tol"):
        assert advice in message
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        check_convergence(rising_then_flat, _stage())  # 0.05 %: converged
        check_convergence(still_falling, _stage(tol=0.25))  # within a looser tol
        check_convergence(still_falling, _stage(tol=None))  # no check
        check_convergence(still_falling, _stage(learning_rate="cosine"))  # annealed
        check_convergence([30.0], _stage(max_iter=1))  # one epoch: nothing to compare


def test_kl_warm_up_epochs_are_left_out():
    # Low losses under a small KL weight would hide that the full loss still falls.
    losses = [5.0, 8.0, 30.0, 29.0, 28.0, 27.0, 26.0, 25.0]
    assert improvement(losses, 2) < 0  # against the warm-up's 5 nats
    with pytest.warns(ConvergenceWarning, match="last 2 epoch"):
        check_convergence(losses, _stage(beta_warmup=2))


# -- fits ----------------------------------------------------------------------------
def test_a_short_constant_schedule_fit_warns_at_the_callers_line(X300):
    with pytest.warns(ConvergenceWarning, match="max_iter=10 epochs ended the fit") as rec:
        vae = VAETransformer(**SMALL, max_iter=10).fit(X300)
    assert vae.n_iter_ == 10
    assert [w.filename for w in rec if w.category is ConvergenceWarning] == [__file__]


def test_a_short_classifier_fit_warns(digits):
    X, y = digits[0][:300], digits[2][:300]
    with pytest.warns(ConvergenceWarning, match="max_iter=10") as rec:
        VAEClassifier(**SMALL, max_iter=10, model="m2").fit(X, y)
    assert [w.filename for w in rec if w.category is ConvergenceWarning] == [__file__]


def test_a_converged_fit_does_not_warn(X300, no_convergence_warning):
    # 100 epochs at a larger step size: the loss moves 0.4 % in the last 5 (tol: 2 %).
    vae = VAETransformer(**SMALL, max_iter=100, n_iter_no_change=5,
                         learning_rate_init=1e-2).fit(X300)
    assert improvement(vae.loss_curve_, 5) < vae.tol / 2


@pytest.mark.parametrize("estimator", [VAETransformer, VAEClassifier])
def test_an_annealed_fit_is_not_checked(estimator, digits, no_convergence_warning):
    X, y = digits[0][:300], digits[2][:300]
    args = (X,) if estimator is VAETransformer else (X, y)
    # tol=0: any improvement would warn; the cosine run ends by design.
    estimator(**SMALL, max_iter=10, learning_rate="cosine", tol=0).fit(*args)
    with pytest.warns(ConvergenceWarning):  # the same run at a constant step size
        estimator(**SMALL, max_iter=10, learning_rate="constant", tol=0).fit(*args)


def test_tol_no_longer_stops_training(X300):
    # tol=1e3 nats used to stop after the patience (no epoch improves that much).
    vae = VAETransformer(**SMALL, max_iter=6, tol=1e3, n_iter_no_change=2).fit(X300)
    assert vae.n_iter_ == 6 and "early_stopping" not in dict(vae.net_.callbacks_)
    with pytest.warns(ConvergenceWarning):  # tol=0 warns, and still runs every epoch
        assert VAETransformer(**SMALL, max_iter=6, tol=0, n_iter_no_change=1).fit(
            X300).n_iter_ == 6


def test_early_stopping_still_stops_and_is_not_checked(X300, no_convergence_warning):
    vae = VAETransformer(**SMALL, max_iter=200, early_stopping=True, n_iter_no_change=2,
                         tol=0).fit(X300)
    assert vae.n_iter_ < 200 and vae.validation_scores_ is not None


def test_early_stopping_that_max_iter_ends_is_checked(X300):
    # Patience 10 in a 10-epoch run: max_iter ends it while the loss still falls.
    with pytest.warns(ConvergenceWarning, match="max_iter=10"):
        vae = VAETransformer(**SMALL, max_iter=10, early_stopping=True).fit(X300)
    assert vae.n_iter_ == 10


def test_partial_fit_never_warns(X300, no_convergence_warning):
    vae = VAETransformer(**SMALL, max_iter=10, tol=0)
    for _ in range(4):
        vae.partial_fit(X300)
    assert vae.n_iter_ == 4 and vae.loss_curve_[-1] < vae.loss_curve_[0]


@pytest.mark.parametrize("estimator", [VAETransformer, VAEClassifier])
def test_default_fits_of_the_digits_do_not_warn(estimator, digits_full,
                                                 no_convergence_warning):
    # Measured (seeds 0 to 4): the last 10 of 100 epochs lower the loss by 0.6 % to
    # 0.9 % (VAETransformer). VAEClassifier's default model anneals its step size (cosine):
    # its run ends by design and is not checked.
    X, y = digits_full
    est = estimator(device="cpu", random_state=0)
    est.fit(*((X,) if estimator is VAETransformer else (X, y)))
    if estimator is VAETransformer:
        assert est.n_iter_ == 100 and est.plan_.final.learning_rate == "constant"
        assert 0 < improvement(est.loss_curve_, 10) < est.tol / 2
    else:
        assert est.model_ == "shared-m2" and est.plan_.final.learning_rate == "cosine"


def test_tol_is_validated():
    with pytest.raises(ValueError, match="tol"):
        VAETransformer(tol=-1.0).fit(np.zeros((10, 4)))

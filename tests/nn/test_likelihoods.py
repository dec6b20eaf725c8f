"""The likelihood table: each observation model's NLL, mean and input checks."""

import warnings

import numpy as np
import pytest
import torch

from skvae.nn import LIKELIHOODS, BernoulliLikelihood, GaussianLikelihood, make_likelihood


def test_bernoulli_nll_matches_log_prob():
    x = torch.rand(4, 6).round()
    logits = torch.randn(4, 6)
    ref = -torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(1)
    torch.testing.assert_close(BernoulliLikelihood(6).nll(x, logits), ref)
    torch.testing.assert_close(BernoulliLikelihood(6).mean(logits), torch.sigmoid(logits))


def test_gaussian_nll_matches_log_prob_and_learns_its_scale():
    lik = GaussianLikelihood(6)
    with torch.no_grad():
        lik.log_scale.copy_(torch.randn(6))
    x, mean = torch.randn(4, 6), torch.randn(4, 6)
    ref = -torch.distributions.Normal(mean, lik.log_scale.exp()).log_prob(x).sum(1)
    torch.testing.assert_close(lik.nll(x, mean), ref)
    assert [name for name, _ in lik.named_parameters()] == ["log_scale"]


def test_table_and_factory():
    assert set(LIKELIHOODS) == {"bernoulli", "gaussian"}
    for name, cls in LIKELIHOODS.items():
        lik = make_likelihood(name, 3)
        assert isinstance(lik, cls) and lik.name == name
    with pytest.raises(ValueError, match="likelihood must be one of"):
        make_likelihood("poisson", 3)


def test_input_checks_strict_and_clipping():
    X = np.array([[0.0, 1.2], [-0.1, 0.5]])
    with pytest.raises(ValueError, match=r"needs X in \[0, 1\].*-0.1 to 1.2"):
        BernoulliLikelihood.check_input(X)
    with pytest.warns(UserWarning, match=r"2 of 4 values of X lie outside \[0, 1\]"):
        clipped = BernoulliLikelihood.clip_input(X)  # half the values, far outside
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    assert X[0, 1] == 1.2  # the caller's array is not modified
    inside = np.array([[0.0, 0.5]])
    assert BernoulliLikelihood.clip_input(inside) is inside  # no copy when nothing to clip
    assert GaussianLikelihood.check_input(X * 100) is not None  # any real value
    rounded = np.array([[0.0, 1.0 + 1e-12]])  # MinMaxScaler's rounding is accepted
    assert BernoulliLikelihood.check_input(rounded).max() == 1.0
    assert GaussianLikelihood.clip_input(X) is X


def test_clipping_warns_only_when_more_than_one_percent_lie_far_outside():
    X = np.full((10, 100), 0.5)  # 1,000 values
    X[0, :5] = 1.04  # small strays (a fitted scaler's): clipped quietly
    X[1, :10] = -0.06  # 1 % far outside: still quiet
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clipped = BernoulliLikelihood.clip_input(X)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    X[2, 0] = 1.06  # one more: more than 1 % far outside
    with pytest.warns(UserWarning, match=r"16 of 1000 values of X lie outside \[0, 1\], 11 "
                                         r"\(1\.1%\) of them by more than 0\.05.*scale X "
                                         r"to \[0, 1\]") as caught:
        BernoulliLikelihood.clip_input(X)
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert GaussianLikelihood.clip_input(X * 100) is not None  # no range, no warning

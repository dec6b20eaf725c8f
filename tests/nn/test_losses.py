import math

import pytest
import torch

from skvae.nn import VAE, MLPDecoder, MLPEncoder, gaussian_kl, reconstruction_nll


def test_kl_zero_at_prior_and_matches_closed_form():
    assert torch.allclose(gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3))
    mu = torch.tensor([[1.0, -2.0]])
    logvar = torch.tensor([[math.log(4.0), 0.0]])
    # KL(N(1, 4) || N(0, 1)) + KL(N(-2, 1) || N(0, 1))
    expected = 0.5 * (4 + 1 - 1 - math.log(4)) + 0.5 * 4
    assert gaussian_kl(mu, logvar).item() == pytest.approx(expected)


def test_kl_matches_torch_distributions():
    mu, logvar = torch.randn(5, 3), torch.randn(5, 3)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    ref = torch.distributions.kl_divergence(q, p).sum(1)
    assert torch.allclose(gaussian_kl(mu, logvar), ref, atol=1e-5)


def test_bernoulli_nll_matches_log_prob():
    x = torch.rand(4, 6).round()
    logits = torch.randn(4, 6)
    ref = -torch.distributions.Bernoulli(logits=logits).log_prob(x).sum(1)
    assert torch.allclose(reconstruction_nll(x, logits, "bernoulli"), ref, atol=1e-5)


def test_gaussian_nll_matches_log_prob():
    x, mean, log_scale = torch.randn(4, 6), torch.randn(4, 6), torch.randn(6)
    ref = -torch.distributions.Normal(mean, log_scale.exp()).log_prob(x).sum(1)
    assert torch.allclose(reconstruction_nll(x, mean, "gaussian", log_scale), ref, atol=1e-5)


def test_unknown_likelihood():
    with pytest.raises(ValueError, match="likelihood"):
        reconstruction_nll(torch.zeros(1, 2), torch.zeros(1, 2), "poisson")


def test_elbo_is_order_invariant_and_bounded_by_terms():
    torch.manual_seed(0)
    vae = VAE(MLPEncoder(6, (5,), 2), MLPDecoder(2, (5,), 6), "bernoulli", 6)
    x = torch.rand(7, 6)
    eps = torch.randn(3, 2)
    elbo = vae.elbo(x, eps)
    perm = torch.randperm(7)
    assert torch.allclose(vae.elbo(x[perm], eps), elbo[perm], atol=1e-6)
    assert torch.all(elbo < 0)  # a log-likelihood bound of continuous-valued Bernoulli data

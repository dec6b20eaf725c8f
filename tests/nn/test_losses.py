import math

import pytest
import torch

from skvae.nn import (
    VAE,
    MLPDecoder,
    MLPEncoder,
    elbo_parts,
    gaussian_kl,
    make_likelihood,
    reparameterize,
)


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


def test_reparameterize_uses_the_given_noise():
    mu, logvar, eps = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    torch.testing.assert_close(reparameterize(mu, logvar, eps), mu + eps * (0.5 * logvar).exp())


def test_elbo_parts_is_shared_by_vae_forward():
    torch.manual_seed(0)
    vae = VAE(MLPEncoder(6, (5,), 2), MLPDecoder(2, (5,), 6), make_likelihood("bernoulli", 6))
    x = torch.rand(5, 6)
    torch.manual_seed(3)
    terms = vae(x)
    torch.manual_seed(3)
    nll, kl = elbo_parts(vae, x, *vae.encode(x))
    torch.testing.assert_close(terms["reconstruction"], nll)
    torch.testing.assert_close(terms["kl"], kl)


def test_elbo_is_order_invariant_and_bounded_by_terms():
    torch.manual_seed(0)
    vae = VAE(MLPEncoder(6, (5,), 2), MLPDecoder(2, (5,), 6), make_likelihood("bernoulli", 6))
    x = torch.rand(7, 6)
    eps = torch.randn(3, 2)
    elbo = vae.elbo(x, eps)
    perm = torch.randperm(7)
    assert torch.allclose(vae.elbo(x[perm], eps), elbo[perm], atol=1e-6)
    assert torch.all(elbo < 0)  # a log-likelihood bound of continuous-valued Bernoulli data

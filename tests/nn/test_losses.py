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


def _linear_gaussian(d=5, k=2, sigma=0.5, seed=0):
    """A linear-Gaussian VAE whose marginal log p(x) is known in closed form.

    p(z) = N(0, I), p(x | z) = N(W z + b, sigma^2 I) with W's columns orthogonal, so
    the exact posterior is diagonal and the encoder can return it exactly.
    """
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, k, generator=gen, dtype=torch.float64))
    W = q * torch.tensor([2.0, 0.7], dtype=torch.float64)[:k]
    b = torch.randn(d, generator=gen, dtype=torch.float64)
    post_var = 1.0 / (1.0 + (W ** 2).sum(0) / sigma ** 2)  # (k,)

    class ExactEncoder(torch.nn.Module):
        def __init__(self, shrink=1.0):
            super().__init__()
            self.shrink = shrink

        def forward(self, x):
            mu = post_var * ((x - b) @ W) / sigma ** 2
            return self.shrink * mu, torch.log(post_var).expand_as(mu)

    decoder = torch.nn.Linear(k, d).double()
    with torch.no_grad():
        decoder.weight.copy_(W)
        decoder.bias.copy_(b)
    likelihood = make_likelihood("gaussian", d).double()
    with torch.no_grad():
        likelihood.log_scale.fill_(math.log(sigma))
    marginal = torch.distributions.MultivariateNormal(b, W @ W.T + sigma ** 2 * torch.eye(d,
                                                      dtype=torch.float64))
    return ExactEncoder, decoder, likelihood, marginal


def test_importance_weighted_log_likelihood_is_exact_with_the_true_posterior():
    Encoder, decoder, likelihood, marginal = _linear_gaussian()
    vae = VAE(Encoder(), decoder, likelihood)
    x = marginal.sample((20,))
    eps = torch.randn(7, 2, dtype=torch.float64)
    torch.testing.assert_close(vae.log_marginal(x, eps), marginal.log_prob(x))


def test_importance_weighted_estimate_rises_with_the_draws():
    Encoder, decoder, likelihood, marginal = _linear_gaussian()
    vae = VAE(Encoder(shrink=0.3), decoder, likelihood)  # a poor proposal
    torch.manual_seed(0)
    x = marginal.sample((500,))
    exact = marginal.log_prob(x).mean()
    means = [float(vae.log_marginal(x, torch.randn(s, 2, dtype=torch.float64)).mean())
             for s in (1, 10, 1000)]
    assert means[0] < means[1] < means[2] <= float(exact) + 1e-3
    assert float(exact) - means[2] < 0.3 * (float(exact) - means[0])

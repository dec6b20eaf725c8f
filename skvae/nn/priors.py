"""Priors ``p(z)`` of the latent code: what a model's KL term, its bound and ``sample`` use.

A prior is a torch module with three methods, all per row:

- ``log_prob(z)``: ``log p(z)`` for codes ``(n, k)``;
- ``sample(n, k, generator)``: ``n`` codes drawn from ``p(z)``;
- ``kl(mu, logvar, z)``: the KL term of the ELBO for the posterior ``N(mu, exp(logvar))``
  and its draw ``z``; the base estimates it from the draw, ``log q(z|x) - log p(z)``
  (unbiased), a prior with a closed form overrides it.

:class:`StandardNormal` is the default of every model (the VAE of Kingma & Welling
2013); a model with another prior builds its module with it (``skvae.nn.VAE(...,
prior=...)``), so training, ``score_samples`` and ``sample`` all use the same one.
Pure PyTorch.
"""

import math

import torch
from torch import nn

__all__ = ["Prior", "StandardNormal", "gaussian_log_density", "prior_of"]

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_log_density(z, mu, logvar):
    """``log N(z; mu, diag(exp(logvar)))`` summed over the last dimension.

    Broadcasts: ``z`` of shape ``(n, 1, k)`` against ``mu`` of ``(m, k)`` gives ``(n, m)``.

    Examples
    --------
    >>> import torch
    >>> round(float(gaussian_log_density(torch.zeros(1, 2), torch.zeros(1, 2),
    ...                                  torch.zeros(1, 2))[0]), 4)  # -log(2 pi)
    -1.8379
    """
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + _LOG_2PI).sum(dim=-1)


class Prior(nn.Module):
    """Base class of the priors (see the module docstring)."""

    def log_prob(self, z):
        """``log p(z)`` per row of ``z`` ``(n, k)``: a tensor ``(n,)``."""
        raise NotImplementedError

    def sample(self, n, k, generator=None):
        """``n`` codes of width ``k`` drawn from the prior, on the prior's device.

        ``generator`` is a CPU ``torch.Generator`` (the draws are made on the CPU, so
        the same seed gives the same codes on any device).
        """
        raise NotImplementedError

    def kl(self, mu, logvar, z):
        """The KL term per row: ``log q(z|x) - log p(z)`` at the draw ``z``."""
        return gaussian_log_density(z, mu, logvar) - self.log_prob(z)


class StandardNormal(Prior):
    """``p(z) = N(0, I)``, with the KL term in closed form.

    Examples
    --------
    >>> import torch
    >>> prior = StandardNormal()
    >>> prior.kl(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(2, 3))
    tensor([0., 0.])
    >>> prior.sample(4, 3, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 3])
    """

    def log_prob(self, z):
        return -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=1)

    def sample(self, n, k, generator=None):
        return torch.randn(n, k, generator=generator)

    def kl(self, mu, logvar, z=None):
        return 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar, dim=1)


def prior_of(model):
    """The :class:`Prior` of ``model`` (its ``prior`` attribute), or None when it has none.

    Models without one (M2's modules, whose ``prior`` is the class prior ``p(y)``, and
    modules pickled before priors existed) use N(0, I) in closed form.
    """
    prior = getattr(model, "prior", None)
    return prior if isinstance(prior, Prior) else None

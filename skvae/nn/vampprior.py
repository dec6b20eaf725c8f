"""The VampPrior (Tomczak & Welling 2018): a mixture of the encoder's own posteriors.

``p(z) = (1 / K) sum_k q(z | u_k)``, with ``K`` pseudo-inputs ``u_k`` learnt with the
rest of the model. The prior then follows the posteriors the encoder makes, instead of
asking every code to fit N(0, I). Pure PyTorch.
"""

import math

import torch
from torch import nn

from .priors import Prior

__all__ = ["VampPrior"]

_LOG_2PI = math.log(2.0 * math.pi)


class VampPrior(Prior):
    """``p(z) = (1/K) sum_k q(z | u_k)``: the encoder's posteriors at ``K`` pseudo-inputs.

    Parameters
    ----------
    encoder : nn.Module
        The model's encoder ``q(z | x)`` (returns ``(mu, logvar)``), shared with the
        model: the prior moves as the encoder learns.
    pseudo_inputs : array-like of shape (K, n_features)
        The pseudo-inputs' starting values (e.g. ``K`` training rows); learnt.
    support : tuple of float or None, default=None
        Bounds the pseudo-inputs are clipped to when read (``hardtanh``, as in the
        paper), e.g. ``(0, 1)`` for a Bernoulli likelihood; None leaves them free.

    Examples
    --------
    >>> import torch
    >>> from skvae.nn import MLPEncoder
    >>> prior = VampPrior(MLPEncoder(6, (5,), 2), torch.rand(3, 6), support=(0.0, 1.0))
    >>> prior.log_prob(torch.zeros(4, 2)).shape
    torch.Size([4])
    >>> prior.sample(5, 2, torch.Generator().manual_seed(0)).shape
    torch.Size([5, 2])
    """

    def __init__(self, encoder, pseudo_inputs, support=None):
        super().__init__()
        self.encoder = encoder
        self.pseudo_inputs = nn.Parameter(
            torch.as_tensor(pseudo_inputs, dtype=torch.float32).detach().clone())
        self.support = None if support is None else tuple(float(v) for v in support)

    @property
    def n_components(self):
        """K, the number of pseudo-inputs."""
        return self.pseudo_inputs.shape[0]

    def components(self):
        """``(mu, logvar)`` of the ``K`` mixture components: the encoder at the pseudo-inputs."""
        u = self.pseudo_inputs
        if self.support is not None:
            u = nn.functional.hardtanh(u, *self.support)
        return self.encoder(u)

    def log_prob(self, z):
        """``log p(z)`` per row: ``logsumexp_k log N(z; mu_k, var_k) - log K``.

        Written with matrix products, so memory grows with ``n * K``, not ``n * K * k``.
        """
        mu, logvar = self.components()
        mu, logvar = mu.to(z.dtype), logvar.to(z.dtype)
        inv_var = torch.exp(-logvar)  # (K, k)
        square = z.pow(2) @ inv_var.T - 2.0 * (z @ (mu * inv_var).T)  # (n, K)
        const = (mu.pow(2) * inv_var + logvar + _LOG_2PI).sum(dim=1)  # (K,)
        log_n = -0.5 * (square + const)
        return torch.logsumexp(log_n, dim=1) - math.log(self.n_components)

    def sample(self, n, k, generator=None):
        """Codes from the mixture: a component drawn uniformly, then its Gaussian.

        The component indices and the noise come from ``generator`` on the CPU.
        """
        mu, logvar = self.components()
        which = torch.randint(self.n_components, (n,), generator=generator)
        eps = torch.randn(n, mu.shape[1], generator=generator)
        which, eps = which.to(mu.device), eps.to(mu.device, mu.dtype)
        return mu[which] + torch.exp(0.5 * logvar[which]) * eps

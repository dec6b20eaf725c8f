"""Per-sample loss terms of a VAE, in nats.

Every function here returns one value per row (shape ``(n,)``), so callers can
weight, mask or average them as they need. Pure PyTorch: no scikit-learn, no skorch.
"""

import math

import torch
import torch.nn.functional as F

__all__ = ["gaussian_kl", "reconstruction_nll", "LIKELIHOODS"]

#: Observation models understood by :func:`reconstruction_nll`.
LIKELIHOODS = ("bernoulli", "gaussian")

_LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(mu, logvar):
    """KL divergence ``KL(N(mu, exp(logvar)) || N(0, I))`` for each row.

    Parameters
    ----------
    mu, logvar : torch.Tensor of shape (n, k)
        Mean and log-variance of a diagonal Gaussian posterior.

    Returns
    -------
    torch.Tensor of shape (n,)
        The analytic KL term, summed over the latent dimensions.

    Examples
    --------
    >>> import torch
    >>> gaussian_kl(torch.zeros(2, 3), torch.zeros(2, 3))
    tensor([0., 0.])
    """
    return 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1.0 - logvar, dim=1)


def reconstruction_nll(x, decoded, likelihood, log_scale=None):
    """Negative log-likelihood of ``x`` under the decoder's output, for each row.

    Parameters
    ----------
    x : torch.Tensor of shape (n, d)
        The data (flattened).
    decoded : torch.Tensor of shape (n, d)
        The decoder output: logits for ``'bernoulli'``, means for ``'gaussian'``.
    likelihood : {'bernoulli', 'gaussian'}
        The observation model.
    log_scale : torch.Tensor of shape (d,), optional
        Per-feature log standard deviation for ``'gaussian'`` (0, unit variance,
        when omitted).

    Returns
    -------
    torch.Tensor of shape (n,)
        ``-log p(x | z)`` summed over the features, in nats.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0, 1.0]])
    >>> reconstruction_nll(x, torch.tensor([[-20.0, 20.0]]), "bernoulli") < 1e-6
    tensor([True])
    """
    x = x.reshape(x.shape[0], -1)
    decoded = decoded.reshape(decoded.shape[0], -1)
    if likelihood == "bernoulli":
        return F.binary_cross_entropy_with_logits(decoded, x, reduction="none").sum(dim=1)
    if likelihood == "gaussian":
        if log_scale is None:
            log_scale = torch.zeros((), dtype=x.dtype, device=x.device)
        z = (x - decoded) * torch.exp(-log_scale)
        return (0.5 * z.pow(2) + log_scale + 0.5 * _LOG_2PI).sum(dim=1)
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")

"""The ELBO's terms, written once for every model, in nats per row.

Every function here returns one value per row (shape ``(n,)``), so callers can
weight, mask or average them as they need. :func:`elbo_parts` is the one
reconstruction-plus-KL computation shared by :class:`~skvae.nn.VAE` and
:class:`~skvae.nn.M2`. Pure PyTorch: no scikit-learn, no skorch.
"""

import math

import torch

from .priors import prior_of

__all__ = ["gaussian_kl", "reparameterize", "elbo_parts", "log_importance_weights"]

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


def reparameterize(mu, logvar, eps=None):
    """Draw ``z = mu + exp(logvar / 2) * eps`` (differentiable in ``mu`` and ``logvar``).

    Parameters
    ----------
    mu, logvar : torch.Tensor of shape (n, k)
    eps : torch.Tensor of shape (n, k), optional
        Standard normal noise; drawn from torch's generator when omitted.

    Returns
    -------
    torch.Tensor of shape (n, k)

    Examples
    --------
    >>> import torch
    >>> reparameterize(torch.ones(2, 3), torch.zeros(2, 3), torch.zeros(2, 3))
    tensor([[1., 1., 1.],
            [1., 1., 1.]])
    """
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + eps * torch.exp(0.5 * logvar)


def elbo_parts(model, x, mu, logvar, condition=None, eps=None):
    """Per-row reconstruction NLL and KL of one posterior draw: the negative ELBO's parts.

    Parameters
    ----------
    model : nn.Module
        Has ``decode(z)`` (the raw decoder output) and ``likelihood`` (a
        :class:`~skvae.nn.Likelihood`).
    x : torch.Tensor of shape (n, ...)
        The data.
    mu, logvar : torch.Tensor of shape (n, k)
        The posterior ``q(z | x, ...)``.
    condition : torch.Tensor of shape (n, c), optional
        Joined to ``z`` before decoding (M2's one-hot class).
    eps : torch.Tensor of shape (n, k), optional
        The noise of the draw (fresh when omitted).

    Returns
    -------
    nll, kl : torch.Tensor of shape (n,)
        ``-log p(x | z, ...)`` and ``KL(q || p(z))``; the ELBO is ``-(nll + kl)``.
        ``p(z)`` is the model's ``prior`` (a :class:`~skvae.nn.Prior`): N(0, I), in
        closed form, when the model has none.
    """
    z = reparameterize(mu, logvar, eps)
    prior = prior_of(model)
    kl = gaussian_kl(mu, logvar) if prior is None else prior.kl(mu, logvar, z)
    if condition is not None:
        z = torch.cat([z, condition], dim=1)
    return model.likelihood.nll(x, model.decode(z)), kl


def log_importance_weights(model, x, mu, logvar, eps, condition=None):
    """``log p(x | z) + log p(z) - log q(z | x)`` for each row and importance draw.

    ``p(z)`` is the model's ``prior`` (N(0, I) when it has none).

    The draws are ``z = mu + exp(logvar / 2) * eps[j]``: the same ``s`` noise vectors
    for every row. ``logsumexp`` over the draws minus ``log s`` is the
    importance-weighted estimate of ``log p(x)`` (Burda et al. 2016); with one draw
    it is a one-sample ELBO.

    Parameters
    ----------
    model : nn.Module
        Has ``decode(z)`` and ``likelihood``.
    x : torch.Tensor of shape (n, ...)
    mu, logvar : torch.Tensor of shape (n, k)
        The proposal ``q(z | x, ...)``.
    eps : torch.Tensor of shape (s, k)
        Standard normal noise, one row per draw.
    condition : torch.Tensor of shape (n, c), optional
        Joined to ``z`` before decoding.

    Returns
    -------
    torch.Tensor of shape (s, n)
    """
    s, n = eps.shape[0], x.shape[0]
    e = eps.repeat_interleave(n, dim=0)
    logvar_rep = logvar.repeat(s, 1)
    z = reparameterize(mu.repeat(s, 1), logvar_rep, e)
    z_in = z if condition is None else torch.cat([z, condition.repeat(s, 1)], dim=1)
    nll = model.likelihood.nll(x.reshape(n, -1).repeat(s, 1), model.decode(z_in))
    prior = prior_of(model)
    log_pz = -0.5 * (z.pow(2) + _LOG_2PI).sum(dim=1) if prior is None else prior.log_prob(z)
    log_qz = -0.5 * (e.pow(2) + _LOG_2PI + logvar_rep).sum(dim=1)
    return (log_pz - log_qz - nll).reshape(s, n)

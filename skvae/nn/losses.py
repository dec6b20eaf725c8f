"""The ELBO's terms, written once for every model, in nats per row.

Every function here returns one value per row (shape ``(n,)``), so callers can
weight, mask or average them as they need. :func:`elbo_parts` is the one
reconstruction-plus-KL computation shared by :class:`~skvae.nn.VAE` and
:class:`~skvae.nn.M2`. Pure PyTorch: no scikit-learn, no skorch.
"""

import torch

__all__ = ["gaussian_kl", "reparameterize", "elbo_parts"]


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
        ``-log p(x | z, ...)`` and ``KL(q || N(0, I))``; the ELBO is ``-(nll + kl)``.
    """
    z = reparameterize(mu, logvar, eps)
    if condition is not None:
        z = torch.cat([z, condition], dim=1)
    return model.likelihood.nll(x, model.decode(z)), gaussian_kl(mu, logvar)

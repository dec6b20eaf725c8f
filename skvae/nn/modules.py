"""PyTorch building blocks: encoders, decoders and the VAE module.

Pure PyTorch: imports neither scikit-learn nor skorch.
"""

import torch
from torch import nn

from .losses import LIKELIHOODS, gaussian_kl, reconstruction_nll

__all__ = ["MLP", "MLPEncoder", "MLPDecoder", "DecoderModel", "VAE"]


class MLP(nn.Sequential):
    """Fully connected layers with ReLU between them (none after the last).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first and output last.

    Examples
    --------
    >>> import torch
    >>> MLP([4, 8, 2])(torch.zeros(3, 4)).shape
    torch.Size([3, 2])
    """

    def __init__(self, sizes):
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(n_in, n_out))
        super().__init__(*layers)


class _Encoder(nn.Module):
    """Encoder base: ``features(x)``, then a linear head on ``[features, c]``.

    Subclasses set ``head`` (a linear layer with ``2 * n_latent`` outputs) and define
    :meth:`features`. Splitting the two lets a caller that needs ``q(z | x, c)`` for
    several ``c`` (as M2 does for every class) compute the features once.
    """

    def features(self, x):
        """Hidden features of ``x`` before the conditioning vector joins them."""
        raise NotImplementedError

    def from_features(self, h, c=None):
        """``(mu, logvar)`` from :meth:`features` output ``h`` and the condition ``c``."""
        if c is not None:
            h = torch.cat([h, c], dim=1)
        mu, logvar = self.head(h).chunk(2, dim=1)
        return mu, logvar

    def forward(self, x, c=None):
        return self.from_features(self.features(x), c)


class MLPEncoder(_Encoder):
    """Map ``x`` to the mean and log-variance of a diagonal Gaussian ``q(z | x)``.

    Parameters
    ----------
    n_features : int
        Input size.
    hidden_layer_sizes : sequence of int
        Hidden widths, input side first.
    n_latent : int
        Latent size.
    n_condition : int, default=0
        Size of an optional conditioning vector ``c`` (e.g. a one-hot class) that
        ``forward(x, c)`` joins to the features before the output layer, for
        ``q(z | x, c)``.

    Examples
    --------
    >>> import torch
    >>> mu, logvar = MLPEncoder(6, (5,), 2)(torch.zeros(3, 6))
    >>> mu.shape, logvar.shape
    (torch.Size([3, 2]), torch.Size([3, 2]))
    """

    def __init__(self, n_features, hidden_layer_sizes, n_latent, n_condition=0):
        super().__init__()
        sizes = [n_features, *hidden_layer_sizes]
        self.body = nn.Sequential(MLP(sizes), nn.ReLU()) if hidden_layer_sizes else nn.Identity()
        self.head = nn.Linear(sizes[-1] + n_condition, 2 * n_latent)

    def features(self, x):
        return self.body(x.reshape(x.shape[0], -1))


class MLPDecoder(MLP):
    """Map a latent code ``z`` to the parameters of ``p(x | z)``.

    Parameters
    ----------
    n_latent : int
        Input size: the latent size, plus the size of any conditioning vector the
        caller joins to ``z``.
    hidden_layer_sizes : sequence of int
        Hidden widths, latent side first.
    n_features : int
        Output size.

    Examples
    --------
    >>> import torch
    >>> MLPDecoder(2, (5,), 6)(torch.zeros(3, 2)).shape
    torch.Size([3, 6])
    """

    def __init__(self, n_latent, hidden_layer_sizes, n_features):
        super().__init__([n_latent, *hidden_layer_sizes, n_features])


class DecoderModel(nn.Module):
    """Common part of the generative modules: a decoder and its observation model.

    Holds ``decoder``, ``likelihood`` and, for ``'gaussian'``, one learned log standard
    deviation per feature (``log_scale``). :class:`VAE` and :class:`skvae.nn.M2` build on it.

    Parameters
    ----------
    decoder : nn.Module
        Returns logits (``'bernoulli'``) or means (``'gaussian'``), any shape ``(n, ...)``.
    likelihood : {'bernoulli', 'gaussian'}
        Observation model.
    n_features : int
        Size ``d`` of a flattened input.
    """

    def __init__(self, decoder, likelihood, n_features):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
        self.decoder = decoder
        self.likelihood = likelihood
        if likelihood == "gaussian":
            self.log_scale = nn.Parameter(torch.zeros(n_features))
        else:
            self.register_parameter("log_scale", None)

    def decode(self, z):
        """Return the raw decoder output (logits or means), flattened."""
        out = self.decoder(z)
        return out.reshape(out.shape[0], -1)

    def decode_mean(self, z):
        """Return ``E[x | z]``: probabilities for ``'bernoulli'``, means for ``'gaussian'``."""
        out = self.decode(z)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    def reconstruction_nll(self, x, decoded):
        """Per-row ``-log p(x | z)`` for a raw decoder output (see :func:`reconstruction_nll`)."""
        return reconstruction_nll(x, decoded, self.likelihood, self.log_scale)


class VAE(DecoderModel):
    """A variational autoencoder: encoder, reparameterised sample, decoder.

    Parameters
    ----------
    encoder : nn.Module
        Returns ``(mu, logvar)`` for a batch of inputs.
    decoder : nn.Module
        Returns logits (``'bernoulli'``) or means (``'gaussian'``) of shape ``(n, d)``.
    likelihood : {'bernoulli', 'gaussian'}
        Observation model. ``'gaussian'`` learns one log standard deviation per feature.
    n_features : int
        Size ``d`` of a flattened input.

    Examples
    --------
    >>> import torch
    >>> vae = VAE(MLPEncoder(6, (5,), 2), MLPDecoder(2, (5,), 6), "bernoulli", 6)
    >>> decoded, mu, logvar, z = vae(torch.rand(3, 6))
    >>> decoded.shape, z.shape
    (torch.Size([3, 6]), torch.Size([3, 2]))
    """

    def __init__(self, encoder, decoder, likelihood, n_features):
        super().__init__(decoder, likelihood, n_features)
        self.encoder = encoder

    def encode(self, x):
        """Return ``(mu, logvar)`` of ``q(z | x)``."""
        return self.encoder(x)

    @staticmethod
    def reparameterize(mu, logvar):
        """Draw ``z = mu + sigma * eps`` with ``eps ~ N(0, I)`` (differentiable)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar, z

    def elbo(self, x, eps=None):
        """Per-sample ELBO in nats, averaged over posterior draws ``z = mu + sigma * eps``.

        Parameters
        ----------
        x : torch.Tensor of shape (n, d)
        eps : torch.Tensor of shape (s, k), optional
            Standard normal noise, the same ``s`` draws for every row (so a row's
            value does not depend on the other rows). One fresh draw when omitted.

        Returns
        -------
        torch.Tensor of shape (n,)
        """
        mu, logvar = self.encode(x)
        if eps is None:
            eps = torch.randn(1, mu.shape[1], device=mu.device, dtype=mu.dtype)
        s, n = eps.shape[0], x.shape[0]
        z = mu.unsqueeze(0) + eps.unsqueeze(1) * torch.exp(0.5 * logvar).unsqueeze(0)
        decoded = self.decode(z.reshape(s * n, -1))
        x_rep = x.reshape(n, -1).repeat(s, 1)
        nll = self.reconstruction_nll(x_rep, decoded).reshape(s, n)
        return -(nll.mean(dim=0) + gaussian_kl(mu, logvar))

    def loss_terms(self, x, outputs, y=None):
        """Per-sample reconstruction NLL and KL, in nats, from :meth:`forward`'s outputs.

        ``y`` is accepted for a common signature with supervised modules and ignored.

        Returns
        -------
        dict
            ``{'reconstruction': (n,), 'kl': (n,)}``.
        """
        decoded, mu, logvar = outputs[:3]
        return {
            "reconstruction": self.reconstruction_nll(x, decoded),
            "kl": gaussian_kl(mu, logvar),
        }

"""PyTorch building blocks: encoders, decoders, the classifier head and the VAE.

This module is over 400 lines because it holds every building block the architectures
share, with the dry-run checks of user modules (widths, image layers) and their messages.

Pure PyTorch: imports neither scikit-learn nor skorch.
"""

import math

import torch
from torch import nn

from .likelihoods import Likelihood
from .losses import elbo_parts, log_importance_weights
from .priors import StandardNormal

__all__ = ["MLP", "GaussianEncoder", "MLPEncoder", "MLPDecoder", "Classifier",
           "DecoderModel", "VAE", "JoinedBody", "feature_width", "check_decoder"]


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


#: Layers that read image-shaped batches ``(n, C, H, W)`` (or ``(n, C, L)``,
#: ``(n, C, D, H, W)``), not the flat rows ``(n, n_features)`` skvae passes.
_IMAGE_LAYERS = (
    nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
    nn.ConvTranspose3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d,
    nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.BatchNorm2d,
    nn.BatchNorm3d, nn.InstanceNorm2d, nn.InstanceNorm3d,
)


def _image_guess(width):
    """A plausible ``(C, H, W)`` for ``width`` values: square, one or three channels."""
    for channels in (1, 3):
        side = math.isqrt(width // channels)
        if width % channels == 0 and side > 1 and channels * side * side == width:
            return f"({channels}, {side}, {side})"
    return "(C, H, W)"


def _unflatten_hint(module, width, where):
    """A hint to reshape flat rows into images, when ``module`` has image layers and no
    ``nn.Unflatten`` (empty otherwise)."""
    layers = [m for m in module.modules() if isinstance(m, _IMAGE_LAYERS)]
    if not layers or any(isinstance(m, nn.Unflatten) for m in module.modules()):
        return ""
    return (
        f" {type(layers[0]).__name__} reads images (n, C, H, W), but skvae passes flat rows "
        f"(n, {width}): {where} with nn.Unflatten(1, (C, H, W)), C * H * W = {width}, e.g. "
        f"nn.Sequential(nn.Unflatten(1, {_image_guess(width)}), ...)."
    )


def _dry_run(module, n_inputs, role, context, hint):
    """``module``'s output for two zero rows of ``n_inputs`` columns.

    Without gradients and in eval mode (the module's mode is restored), so any
    user-defined torch module can be probed. A failure, or an output that is not a
    batch ``(2, ...)``, is a ValueError naming ``role`` and ``context``.
    """
    was_training = module.training
    module.eval()
    try:
        param = next(module.parameters(), None)
        kwargs = {} if param is None else {"dtype": param.dtype, "device": param.device}
        with torch.no_grad():
            try:
                out = module(torch.zeros(2, n_inputs, **kwargs))
            except (RuntimeError, ValueError, TypeError) as exc:
                raise ValueError(
                    f"The {role} network {type(module).__name__} failed on a batch of shape "
                    f"(2, {n_inputs}) ({context}): {str(exc).rstrip('.')}.{hint}"
                ) from exc
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor) or out.ndim < 2 or out.shape[0] != 2:
        raise ValueError(
            f"The {role} network must map a batch (n, {n_inputs}) to a tensor (n, ...); "
            f"{type(module).__name__} returned {type(out).__name__} "
            f"{tuple(getattr(out, 'shape', ()))}."
        )
    return out


def feature_width(body, n_features):
    """Width of ``body``'s output for flattened inputs of ``n_features`` columns.

    Found by a dry run on two zero rows, without gradients and in eval mode (the
    body's mode is restored), so any user-defined torch module can serve as a body.
    A body that fails on flat rows is a ValueError (with a hint to add
    ``nn.Unflatten`` when it has image layers such as ``nn.Conv2d``).

    Examples
    --------
    >>> feature_width(MLP([6, 5]), 6)
    5
    """
    out = _dry_run(
        body, n_features, "encoder",
        f"X has {n_features} features, one flattened row each",
        _unflatten_hint(body, n_features, "start the network"),
    )
    return int(out[0].numel())


def check_decoder(decoder, n_inputs, n_features):
    """Check that ``decoder`` maps codes ``(n, n_inputs)`` to ``n_features`` values a row.

    A decoder returns the likelihood's parameters, one per feature of X (logits for
    Bernoulli, means for Gaussian), in any shape ``(n, ...)`` with ``n_features``
    values per row. Checked by a dry run on two zero codes, as :func:`feature_width`
    checks an encoder; a wrong width would otherwise fail deep in the loss, or, with a
    width of 1, be broadcast silently against every feature.

    Parameters
    ----------
    decoder : nn.Module
    n_inputs : int
        Columns of a code: the latent size, plus the width of any conditioning
        vector joined to it.
    n_features : int
        Features of X.

    Returns
    -------
    nn.Module
        ``decoder`` itself.

    Raises
    ------
    ValueError
        When the decoder fails on such codes or returns another width; the message
        names the expected and the actual width.

    Examples
    --------
    >>> check_decoder(MLP([2, 6]), 2, 6)
    MLP(
      (0): Linear(in_features=2, out_features=6, bias=True)
    )
    >>> check_decoder(MLP([2, 1]), 2, 6)
    Traceback (most recent call last):
    ...
    ValueError: The decoder network MLP returns 1 value per row for codes (n, 2), ...
    """
    out = _dry_run(
        decoder, n_inputs, "decoder",
        f"codes of {n_inputs} columns: n_components, plus the number of classes for "
        "VAEClassifier",
        _unflatten_hint(decoder, n_inputs,
                        "map the codes to C * H * W values (e.g. nn.Linear) and reshape them"),
    )
    width = int(out[0].numel())
    if width != n_features:
        raise ValueError(
            f"The decoder network {type(decoder).__name__} returns {width} "
            f"value{'s' if width != 1 else ''} per row for codes (n, {n_inputs}), but it "
            f"must return {n_features}: one likelihood parameter per feature of X (X has "
            f"{n_features} features). Make its last layer output {n_features} values "
            f"(e.g. nn.Linear(..., {n_features})), or pass a callable "
            "decoder(n_inputs, n_features) that builds it for the data."
        )
    return decoder


class GaussianEncoder(nn.Module):
    """``q(z | x, c)``: any feature network (the body), then a linear Gaussian head.

    ``features(x)`` runs the body; ``from_features(h, c)`` joins an optional
    conditioning vector ``c`` (M2's one-hot class) and returns ``(mu, logvar)``.
    Splitting the two lets M2 run the body once per row for all classes.

    Parameters
    ----------
    body : nn.Module
        Maps a batch of flattened inputs ``(n, n_features)`` to features ``(n, ...)``
        (flattened to ``(n, n_hidden)``).
    n_hidden : int
        Width of the body's flattened output (see :func:`feature_width`).
    n_latent : int
        Latent size.
    n_condition : int, default=0
        Width of the conditioning vector.

    Examples
    --------
    >>> import torch
    >>> enc = GaussianEncoder(MLP([6, 5]), 5, 2)
    >>> [t.shape for t in enc(torch.zeros(3, 6))]
    [torch.Size([3, 2]), torch.Size([3, 2])]
    """

    def __init__(self, body, n_hidden, n_latent, n_condition=0):
        super().__init__()
        self.body = body
        self.head = nn.Linear(int(n_hidden) + int(n_condition), 2 * int(n_latent))

    def features(self, x):
        """Body features of ``x``, flattened to ``(n, n_hidden)``."""
        return self.body(x.reshape(x.shape[0], -1)).flatten(1)

    def from_features(self, h, c=None):
        """``(mu, logvar)`` from :meth:`features` output ``h`` and the condition ``c``."""
        if c is not None:
            h = torch.cat([h, c], dim=1)
        mu, logvar = self.head(h).chunk(2, dim=1)
        return mu, logvar

    def forward(self, x, c=None):
        return self.from_features(self.features(x), c)


def _dropout_layer(p):
    """``nn.Dropout(p)``, or the identity for ``p == 0`` (no layer, no random draws)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"A dropout probability must be in [0, 1), got {p!r}.")
    return nn.Dropout(p) if p > 0 else nn.Identity()


def mlp_body(n_features, hidden_layer_sizes):
    """Fully connected hidden layers with ReLU after each (identity if there are none)."""
    if not hidden_layer_sizes:
        return nn.Identity()
    return nn.Sequential(MLP([n_features, *hidden_layer_sizes]), nn.ReLU())


class MLPEncoder(GaussianEncoder):
    """A :class:`GaussianEncoder` whose body is fully connected.

    Parameters
    ----------
    n_features : int
        Input size.
    hidden_layer_sizes : sequence of int
        Hidden widths, input side first.
    n_latent : int
        Latent size.
    n_condition : int, default=0
        Width of an optional conditioning vector ``c`` for ``q(z | x, c)``.

    Examples
    --------
    >>> import torch
    >>> mu, logvar = MLPEncoder(6, (5,), 2)(torch.zeros(3, 6))
    >>> mu.shape, logvar.shape
    (torch.Size([3, 2]), torch.Size([3, 2]))
    """

    def __init__(self, n_features, hidden_layer_sizes, n_latent, n_condition=0):
        sizes = [n_features, *hidden_layer_sizes]
        super().__init__(mlp_body(n_features, hidden_layer_sizes), sizes[-1], n_latent,
                         n_condition)


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


class Classifier(nn.Module):
    """``q(y | x)``: a feature network (the body) and a linear layer to class logits.

    Parameters
    ----------
    body : nn.Module
        Maps ``(n, n_features)`` to features ``(n, ...)``.
    n_hidden : int
        Width of the body's flattened output.
    n_classes : int
    dropout : float, default=0.0
        Probability of dropout on the features before the class head, in [0, 1)
        (active in training mode only; 0 adds no layer).

    Examples
    --------
    >>> import torch
    >>> Classifier(MLP([6, 5]), 5, 3)(torch.zeros(2, 6)).shape
    torch.Size([2, 3])
    >>> Classifier(MLP([6, 5]), 5, 3, dropout=0.5).dropout
    Dropout(p=0.5, inplace=False)
    """

    def __init__(self, body, n_hidden, n_classes, dropout=0.0):
        super().__init__()
        self.body = body
        self.dropout = _dropout_layer(dropout)
        self.head = nn.Linear(int(n_hidden), int(n_classes))

    def forward(self, x):
        return self.head(self.dropout(self.body(x.reshape(x.shape[0], -1)).flatten(1)))


class JoinedBody(nn.Module):
    """Features of rows that arrive with extra features joined after them.

    Its input is ``[rows, extra]`` side by side, ``(n, n_row + n_extra)``: a row body
    (a convolutional stack, say) reads the first ``n_row`` columns, the extra features
    are joined to its flattened output, and fully connected layers read both. With an
    identity row body it is a plain fully connected body on ``[rows, extra]``.

    Parameters
    ----------
    row_body : nn.Module
        Maps rows ``(n, n_row)`` to features ``(n, ...)``.
    n_row : int
        Columns of the rows.
    n_extra : int
        Columns of the extra features.
    hidden_layer_sizes : sequence of int
        Widths of the fully connected layers after the join (none: the joined features).

    Attributes
    ----------
    n_hidden : int
        Width of the output.

    Examples
    --------
    >>> import torch
    >>> body = JoinedBody(MLP([6, 5]), 6, 2, (4,))
    >>> body(torch.zeros(3, 8)).shape, body.n_hidden
    (torch.Size([3, 4]), 4)
    """

    def __init__(self, row_body, n_row, n_extra, hidden_layer_sizes):
        super().__init__()
        self.row_body = row_body
        self.n_row, self.n_extra = int(n_row), int(n_extra)
        n_joined = feature_width(row_body, self.n_row) + self.n_extra
        self.dense = mlp_body(n_joined, tuple(hidden_layer_sizes))
        self.n_hidden = ([n_joined, *hidden_layer_sizes])[-1]

    def forward(self, x):
        if x.shape[1] != self.n_row + self.n_extra:
            raise ValueError(
                f"JoinedBody expects {self.n_row} row columns and {self.n_extra} extra "
                f"columns side by side ({self.n_row + self.n_extra} in all), got "
                f"{x.shape[1]}; pass torch.cat([rows, extra], dim=1)."
            )
        rows, extra = x[:, :self.n_row], x[:, self.n_row:]
        return self.dense(torch.cat([self.row_body(rows).flatten(1), extra], dim=1))


class DecoderModel(nn.Module):
    """Common part of the generative modules: a decoder and its observation model.

    Parameters
    ----------
    decoder : nn.Module
        Returns the likelihood's parameters (logits for Bernoulli, means for
        Gaussian), any shape ``(n, ...)``.
    likelihood : Likelihood
        The observation model (it holds its own parameters, such as a noise scale).
    """

    def __init__(self, decoder, likelihood):
        super().__init__()
        if not isinstance(likelihood, Likelihood):
            raise TypeError(
                f"likelihood must be a skvae.nn.Likelihood, got {type(likelihood).__name__};"
                " build one with skvae.nn.make_likelihood(name, n_features)."
            )
        self.decoder = decoder
        self.likelihood = likelihood

    def decode(self, z):
        """Return the raw decoder output (the likelihood's parameters), flattened."""
        out = self.decoder(z)
        return out.reshape(out.shape[0], -1)

    def decode_mean(self, z):
        """Return ``E[x | z]``: probabilities for Bernoulli, means for Gaussian."""
        return self.likelihood.mean(self.decode(z))


class VAE(DecoderModel):
    """A variational autoencoder whose ``forward`` is its loss: per-row ELBO terms.

    Parameters
    ----------
    encoder : nn.Module
        Returns ``(mu, logvar)`` for a batch of inputs.
    decoder : nn.Module
        Maps codes ``(n, k)`` to the likelihood's parameters ``(n, d)``.
    likelihood : Likelihood
        Observation model.
    prior : Prior, optional
        ``p(z)`` (a :class:`~skvae.nn.Prior`): the KL term, the bound of
        :meth:`log_marginal` and the codes ``sample`` decodes use it. Default
        :class:`~skvae.nn.StandardNormal`, N(0, I).

    Examples
    --------
    >>> import torch
    >>> from skvae.nn import make_likelihood
    >>> vae = VAE(MLPEncoder(6, (5,), 2), MLPDecoder(2, (5,), 6), make_likelihood("bernoulli", 6))
    >>> terms = vae(torch.rand(3, 6))
    >>> sorted(terms), terms["kl"].shape
    (['kl', 'reconstruction'], torch.Size([3]))
    """

    def __init__(self, encoder, decoder, likelihood, prior=None):
        super().__init__(decoder, likelihood)
        self.encoder = encoder
        self.prior = StandardNormal() if prior is None else prior

    def encode(self, x):
        """Return ``(mu, logvar)`` of ``q(z | x)``."""
        return self.encoder(x)

    def forward(self, x, y=None):
        """Per-row loss terms of one posterior draw (``y`` is accepted and ignored).

        Returns
        -------
        dict
            ``{'reconstruction': (n,), 'kl': (n,)}``, in nats: the negative ELBO is
            their sum.
        """
        mu, logvar = self.encode(x)
        nll, kl = elbo_parts(self, x, mu, logvar)
        return {"reconstruction": nll, "kl": kl}

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
        nll, kl = elbo_parts(
            self, x.reshape(n, -1).repeat(s, 1), mu.repeat(s, 1), logvar.repeat(s, 1),
            eps=eps.repeat_interleave(n, dim=0),
        )
        return -(nll + kl).reshape(s, n).mean(dim=0)

    def log_marginal(self, x, eps):
        """Importance-weighted estimate of ``log p(x)`` per row, in nats.

        ``logsumexp_j log w_j - log s`` with ``w_j = p(x, z_j) / q(z_j | x)``; it rises
        towards ``log p(x)`` as the number of draws ``s`` grows (Burda et al. 2016).

        Parameters
        ----------
        x : torch.Tensor of shape (n, d)
        eps : torch.Tensor of shape (s, k)
            Standard normal noise, the same ``s`` draws for every row.

        Returns
        -------
        torch.Tensor of shape (n,)
        """
        mu, logvar = self.encode(x)
        log_w = log_importance_weights(self, x, mu, logvar, eps)
        return torch.logsumexp(log_w, dim=0) - math.log(eps.shape[0])

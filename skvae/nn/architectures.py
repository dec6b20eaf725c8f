"""Network architectures: one table of builders for encoders, decoders and classifiers.

An architecture turns the data shape into the three networks a model needs:

* ``encoder(n_features, n_latent, n_condition=0)``: a
  :class:`~skvae.nn.GaussianEncoder` for ``q(z | x[, c])``,
* ``decoder(n_inputs, n_features)``: codes ``(n, n_inputs)`` to the likelihood's
  parameters ``(n, n_features)``,
* ``classifier(n_features, n_classes)``: a :class:`~skvae.nn.Classifier` for ``q(y | x)``.

Subclasses only say how to build the encoder's feature network (:meth:`Architecture.body`)
and the decoder; the Gaussian and class heads are shared. A new architecture is one
subclass plus one entry in :data:`ARCHITECTURES`. :class:`CustomArchitecture` lets a
user bring their own torch modules. Pure PyTorch.
"""

import copy

from torch import nn

from .conv import ConvBody, ConvDecoder, check_image_shape
from .modules import (
    Classifier,
    GaussianEncoder,
    MLPDecoder,
    check_decoder,
    feature_width,
    mlp_body,
)

__all__ = ["Architecture", "MLPArchitecture", "ConvArchitecture", "CustomArchitecture",
           "ARCHITECTURES", "make_architecture"]


class Architecture:
    """Base class: builds the networks of a model for one data shape.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Widths of the fully connected hidden layers (encoder order; the decoder
        mirrors them).
    image_shape : tuple of int or None
        ``(channels, height, width)`` of one image, for architectures that need it.

    Attributes
    ----------
    needs_image : bool
        Whether the rows of X must be images (``image_shape`` is then checked
        against the number of features before anything is built).
    """

    name = None
    needs_image = False

    def __init__(self, hidden_layer_sizes=(256, 128), image_shape=None):
        self.hidden_layer_sizes = tuple(hidden_layer_sizes)
        self.image_shape = image_shape

    def body(self, n_features):
        """The encoder's feature network: ``(n, n_features)`` to ``(n, n_hidden)``."""
        raise NotImplementedError

    def decoder(self, n_inputs, n_features):
        """Codes ``(n, n_inputs)`` to the likelihood's parameters ``(n, n_features)``."""
        raise NotImplementedError

    def row_body(self, n_features):
        """The part of :meth:`body` that reads the rows before its fully connected layers.

        Other features can join its output (see :class:`~skvae.nn.JoinedBody`). The base
        class has no such part: the identity, the rows themselves.
        """
        return nn.Identity()

    def encoder(self, n_features, n_latent, n_condition=0):
        """A :class:`~skvae.nn.GaussianEncoder` ``q(z | x, c)`` on :meth:`body`."""
        body = self.body(n_features)
        return GaussianEncoder(body, feature_width(body, n_features), n_latent, n_condition)

    def classifier(self, n_features, n_classes):
        """A :class:`~skvae.nn.Classifier` ``q(y | x)`` on a new :meth:`body`."""
        body = self.body(n_features)
        return Classifier(body, feature_width(body, n_features), n_classes)


class MLPArchitecture(Architecture):
    """Fully connected layers with ReLU (``architecture='mlp'``).

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Widths of the fully connected hidden layers (encoder order).
    image_shape : tuple of int or None
        Not used (accepted for a common signature).

    Examples
    --------
    >>> import torch
    >>> arch = MLPArchitecture((8,))
    >>> [t.shape for t in arch.encoder(6, 2)(torch.zeros(3, 6))]
    [torch.Size([3, 2]), torch.Size([3, 2])]
    >>> arch.decoder(2, 6)(torch.zeros(3, 2)).shape
    torch.Size([3, 6])
    """

    name = "mlp"

    def body(self, n_features):
        return mlp_body(n_features, self.hidden_layer_sizes)

    def decoder(self, n_inputs, n_features):
        return MLPDecoder(n_inputs, self.hidden_layer_sizes[::-1], n_features)


class ConvArchitecture(Architecture):
    """Two stride-2 3 x 3 convolutions (32 and 64 channels), then the hidden layers;
    the decoder mirrors them with transposed convolutions (``architecture='conv'``).
    The classifier is the encoder's network with dropout (:attr:`classifier_dropout`)
    on the convolutions' output and before the class head.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int
        Widths of the fully connected hidden layers (encoder order).
    image_shape : tuple of int or None
        ``(channels, height, width)``; None takes a square one-channel image.

    Examples
    --------
    >>> import torch
    >>> arch = ConvArchitecture((16,), image_shape=(1, 8, 8))
    >>> arch.classifier(64, 3)(torch.zeros(2, 64)).shape
    torch.Size([2, 3])
    >>> arch.classifier(64, 3).dropout
    Dropout(p=0.5, inplace=False)
    >>> arch.decoder(2, 64)(torch.zeros(2, 2)).shape
    torch.Size([2, 64])
    """

    name = "conv"
    needs_image = True
    #: Channels of the stride-2 convolutions (encoder order).
    channels = (32, 64)
    #: Dropout in the classifier ``q(y | x)`` (:meth:`classifier`): on the convolutions'
    #: flattened output and again before the class head. On the 60,000 labelled
    #: Fashion-MNIST images it lifts the classifier from 0.913 to 0.924 test accuracy
    #: after 100 epochs (``benchmarks/results/q_y.md``). The encoder has none.
    classifier_dropout = 0.5

    def _shape(self, n_features):
        return check_image_shape(self.image_shape, n_features)

    def body(self, n_features):
        return ConvBody(self._shape(n_features), self.channels, self.hidden_layer_sizes)

    def row_body(self, n_features):
        return ConvBody(self._shape(n_features), self.channels, ())

    def classifier(self, n_features, n_classes):
        """The encoder's body with dropout (:attr:`classifier_dropout`), and a class head."""
        p = self.classifier_dropout
        body = ConvBody(self._shape(n_features), self.channels, self.hidden_layer_sizes,
                        dropout=p)
        return Classifier(body, body.n_hidden, n_classes, dropout=p)

    def decoder(self, n_inputs, n_features):
        return ConvDecoder(n_inputs, self._shape(n_features), self.channels[::-1],
                           self.hidden_layer_sizes[::-1])


#: The built-in architectures by name: the values accepted by ``architecture=``.
ARCHITECTURES = {cls.name: cls for cls in (MLPArchitecture, ConvArchitecture)}


def _build(spec, *args):
    """A fresh module from ``spec``: a deep copy of a module, or a factory's result."""
    if isinstance(spec, nn.Module):
        return copy.deepcopy(spec)
    module = spec(*args)
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"The factory {spec!r} returned {type(module).__name__}, not a torch.nn.Module."
        )
    return module


class CustomArchitecture(Architecture):
    """A built-in architecture with the encoder body and/or the decoder replaced.

    Parameters
    ----------
    base : Architecture
        Builds whatever is not replaced.
    encoder : nn.Module or callable, optional
        The encoder's feature network (a Gaussian head is added after it; the
        classifier of ``VAEClassifier`` gets its own copy with a class head). A
        module is deep-copied for every network built from it; a callable is called
        as ``encoder(n_features)`` and must return a new module. It takes flattened
        rows ``(n, n_features)`` and may return features of any shape ``(n, ...)``.
    decoder : nn.Module or callable, optional
        Maps codes ``(n, n_inputs)`` to the likelihood's parameters ``(n, n_features)``
        (``n_inputs`` is ``n_components``, plus the number of classes for
        ``VAEClassifier``). A module is deep-copied; a callable is called as
        ``decoder(n_inputs, n_features)``. Its output width is checked when it is
        built (see :func:`~skvae.nn.check_decoder`).

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> arch = CustomArchitecture(MLPArchitecture((8,)), encoder=nn.Linear(6, 5))
    >>> [t.shape for t in arch.encoder(6, 2)(torch.zeros(3, 6))]
    [torch.Size([3, 2]), torch.Size([3, 2])]
    """

    def __init__(self, base, encoder=None, decoder=None):
        super().__init__(base.hidden_layer_sizes, base.image_shape)
        self.base = base
        self.needs_image = base.needs_image
        self.encoder_spec = encoder
        self.decoder_spec = decoder

    def body(self, n_features):
        if self.encoder_spec is None:
            return self.base.body(n_features)
        return _build(self.encoder_spec, n_features)

    def row_body(self, n_features):
        if self.encoder_spec is None:
            return self.base.row_body(n_features)
        return _build(self.encoder_spec, n_features)

    def classifier(self, n_features, n_classes):
        if self.encoder_spec is None:
            return self.base.classifier(n_features, n_classes)
        return super().classifier(n_features, n_classes)

    def decoder(self, n_inputs, n_features):
        if self.decoder_spec is None:
            return self.base.decoder(n_inputs, n_features)
        return check_decoder(_build(self.decoder_spec, n_inputs, n_features), n_inputs,
                             n_features)


def make_architecture(architecture, hidden_layer_sizes=(256, 128), image_shape=None,
                      encoder=None, decoder=None):
    """Build the :class:`Architecture` named ``architecture`` (with user modules, if any).

    Parameters
    ----------
    architecture : str
        A key of :data:`ARCHITECTURES`.
    hidden_layer_sizes : tuple of int
    image_shape : tuple of int or None
    encoder, decoder : nn.Module, callable or None
        User modules replacing the built-in ones (see :class:`CustomArchitecture`).

    Returns
    -------
    Architecture

    Examples
    --------
    >>> make_architecture("conv", (16,), (1, 8, 8)).needs_image
    True
    """
    try:
        cls = ARCHITECTURES[architecture]
    except (KeyError, TypeError):
        raise ValueError(
            f"architecture must be one of {sorted(ARCHITECTURES)}, got {architecture!r}."
        ) from None
    arch = cls(hidden_layer_sizes, image_shape)
    if encoder is None and decoder is None:
        return arch
    return CustomArchitecture(arch, encoder, decoder)

"""Convolutional encoder and decoder for images given as flattened rows.

Pure PyTorch: imports neither scikit-learn nor skorch. Inputs arrive flattened,
``(n, C * H * W)`` as in a scikit-learn ``X``; the modules reshape inside. Any
height and width work (28 x 28 Fashion-MNIST, 8 x 8 sklearn digits, odd sizes):
each stride-2 convolution maps a side ``s`` to ``ceil(s / 2)`` and the decoder's
transposed convolutions choose their ``output_padding`` so that they land on the
encoder's sizes exactly, so no cropping is needed.
"""

import math
import numbers

import numpy as np
from torch import nn

from .modules import MLP, GaussianEncoder, _dropout_layer, mlp_body

__all__ = ["ConvBody", "ConvEncoder", "ConvDecoder", "conv_sizes", "check_image_shape",
           "check_not_images"]


def check_image_shape(image_shape, n_features=None):
    """``image_shape`` as ``(channels, height, width)`` ints, or raise ValueError.

    The one image-shape check of skvae (estimators, conv modules and plotting use it).

    Parameters
    ----------
    image_shape : sequence of int or None
        ``(channels, height, width)``; None means a square one-channel image, which
        needs ``n_features`` to be a perfect square.
    n_features : int, optional
        Columns of X (one flattened image per row): when given, the shape must
        describe exactly that many pixels.

    Returns
    -------
    tuple of int

    Examples
    --------
    >>> check_image_shape(None, 64)
    (1, 8, 8)
    >>> check_image_shape([3, 4, 5], 60)
    (3, 4, 5)
    >>> check_image_shape((28, 28, 1))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: image_shape=(28, 28, 1) looks channels-last ... Pass image_shape=(1, 28, 28)...
    """
    if image_shape is None:
        side = math.isqrt(n_features) if n_features is not None else 0
        if n_features is None or side * side != n_features:
            raise ValueError(
                f"A conv architecture needs image_shape=(channels, height, width) for "
                f"X with {n_features} features: only a perfect square number of features "
                "is taken as a square one-channel image. Pass e.g. image_shape=(3, 32, 32)."
            )
        return (1, side, side)
    shape = np.asarray(image_shape, dtype=object).ravel()
    if (shape.size != 3
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
                       for s in shape)):
        raise ValueError(
            "image_shape must be three positive integers (channels, height, width), "
            f"e.g. (1, 28, 28); got {image_shape!r}."
        )
    shape = tuple(int(s) for s in shape)
    if shape[0] > 4 and shape[2] <= 4:
        raise ValueError(
            f"image_shape={shape} looks channels-last (height, width, channels): skvae "
            f"reads images channels first. Pass image_shape={(shape[2], shape[0], shape[1])}"
            " (channels, height, width), and rows flattened channels first: for images "
            "of shape (n, height, width, channels), "
            "images.transpose(0, 3, 1, 2).reshape(n, -1)."
        )
    if n_features is not None and math.prod(shape) != n_features:
        raise ValueError(
            f"image_shape={shape} describes {math.prod(shape)} pixels per image but X has "
            f"{n_features} features. X must hold one flattened image per row "
            "(images.reshape(n_images, -1), channels first), and image_shape its "
            "(channels, height, width)."
        )
    return shape


def check_not_images(X, image_shape=None):
    """Refuse X of images (3-D or 4-D) with the exact reshape and ``image_shape`` to pass.

    Examples
    --------
    >>> import numpy as np
    >>> check_not_images(np.zeros((5, 64)))  # rows: fine
    >>> check_not_images(np.zeros((5, 28, 28)))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: X has shape (5, 28, 28): ... pass X.reshape(5, -1) ... image_shape=(1, 28, 28)...
    """
    shape = getattr(X, "shape", None)
    if shape is None:
        if not isinstance(X, list | tuple):
            return
        shape = np.shape(X)
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (3, 4):
        return
    n = shape[0]
    if len(shape) == 3:
        image, how = (1, *shape[1:]), f"X.reshape({n}, -1)"
        what = f"{n} images of {shape[1]} x {shape[2]} pixels"
    elif shape[1] > 4 and shape[3] <= 4:  # channels last
        image = (shape[3], shape[1], shape[2])
        how = f"X.transpose(0, 3, 1, 2).reshape({n}, -1)"
        what = f"{n} images of {shape[1]} x {shape[2]} pixels, {shape[3]} channel(s) last"
    else:
        image, how = shape[1:], f"X.reshape({n}, -1)"
        what = f"{n} images of {shape[1]} channel(s) of {shape[2]} x {shape[3]} pixels"
    given = "" if image_shape is None else f" (image_shape={tuple(image_shape)!r} is set)"
    raise ValueError(
        f"X has shape {shape}: {what}. skvae estimators take one flattened image per row: "
        f"pass {how} (shape ({n}, {math.prod(image)})) and image_shape={image}{given}, "
        "so that conv networks and the image shifts of 'shared-m2' see the images."
    )


def conv_sizes(height, width, n_layers):
    """Spatial sizes after each stride-2 convolution (kernel 3, padding 1).

    Parameters
    ----------
    height, width : int
        Input image size.
    n_layers : int
        Number of convolutions.

    Returns
    -------
    list of (int, int)
        ``n_layers + 1`` sizes, the input's first; each side goes to ``ceil(side / 2)``.

    Examples
    --------
    >>> conv_sizes(28, 28, 2)
    [(28, 28), (14, 14), (7, 7)]
    >>> conv_sizes(8, 7, 2)
    [(8, 7), (4, 4), (2, 2)]
    """
    sizes = [(int(height), int(width))]
    for _ in range(n_layers):
        h, w = sizes[-1]
        sizes.append((math.ceil(h / 2), math.ceil(w / 2)))
    return sizes


class ConvBody(nn.Module):
    """Stride-2 3 x 3 convolutions with ReLU, then fully connected hidden layers.

    Each convolution halves the image side (rounding up). Takes flattened images
    ``(n, C * H * W)`` (channels first, then rows, as ``images.reshape(n, -1)``
    gives) and returns features ``(n, n_hidden)``.

    Parameters
    ----------
    image_shape : tuple of int
        ``(channels, height, width)`` of one image.
    channels : sequence of int, default=(32, 64)
        Output channels of the convolutions, one stride-2 layer each.
    hidden_layer_sizes : sequence of int, default=(256,)
        Widths of the fully connected layers after the convolutions.
    dropout : float, default=0.0
        Probability of dropout on the convolutions' flattened output, before the
        fully connected layers, in [0, 1) (training mode only; 0 adds no layer).

    Examples
    --------
    >>> import torch
    >>> body = ConvBody((1, 8, 8), channels=(4, 8), hidden_layer_sizes=(16,))
    >>> body(torch.zeros(3, 64)).shape, body.n_hidden
    (torch.Size([3, 16]), 16)
    """

    def __init__(self, image_shape, channels=(32, 64), hidden_layer_sizes=(256,),
                 dropout=0.0):
        super().__init__()
        self.image_shape = check_image_shape(image_shape)
        c, h, w = self.image_shape
        layers = []
        for c_in, c_out in zip((c, *channels[:-1]), channels, strict=True):
            layers += [nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        self.dropout = _dropout_layer(dropout)
        h_out, w_out = conv_sizes(h, w, len(channels))[-1]
        n_flat = (channels[-1] if channels else c) * h_out * w_out
        self.dense = mlp_body(n_flat, tuple(hidden_layer_sizes))
        self.n_hidden = ([n_flat, *hidden_layer_sizes])[-1]

    def forward(self, x):
        h = self.conv(x.reshape(x.shape[0], *self.image_shape))
        return self.dense(self.dropout(h.flatten(1)))


class ConvEncoder(GaussianEncoder):
    """Map flattened images to the mean and log-variance of ``q(z | x)``.

    A :class:`~skvae.nn.GaussianEncoder` whose body is a :class:`ConvBody`.

    Parameters
    ----------
    image_shape : tuple of int
        ``(channels, height, width)`` of one image.
    n_latent : int
        Latent size.
    n_condition : int, default=0
        Size of an optional conditioning vector ``c`` joined to the features before
        the head, for ``q(z | x, c)``.
    channels : sequence of int, default=(32, 64)
        Output channels of the convolutions.
    hidden_layer_sizes : sequence of int, default=(256,)
        Widths of the fully connected layers after the convolutions.

    Examples
    --------
    >>> import torch
    >>> enc = ConvEncoder((1, 8, 8), 2, channels=(4, 8), hidden_layer_sizes=(16,))
    >>> mu, logvar = enc(torch.zeros(3, 64))
    >>> mu.shape, logvar.shape
    (torch.Size([3, 2]), torch.Size([3, 2]))
    """

    def __init__(self, image_shape, n_latent, n_condition=0, channels=(32, 64),
                 hidden_layer_sizes=(256,)):
        body = ConvBody(image_shape, channels, hidden_layer_sizes)
        super().__init__(body, body.n_hidden, n_latent, n_condition)
        self.image_shape = body.image_shape


class ConvDecoder(nn.Module):
    """Map a latent code to flattened image logits (or means): the encoder mirrored.

    Fully connected layers up to a small feature map, then stride-2 transposed
    convolutions back to the image size; the output is flattened to
    ``(n, C * H * W)``.

    Parameters
    ----------
    n_inputs : int
        Input size: the latent size plus any conditioning vector the caller joins.
    image_shape : tuple of int
        ``(channels, height, width)`` of the output image.
    channels : sequence of int, default=(64, 32)
        Channels of the feature maps entering each transposed convolution, the
        smallest map first (the reverse of the encoder's ``channels``).
    hidden_layer_sizes : sequence of int, default=(256,)
        Widths of the fully connected layers, latent side first.

    Examples
    --------
    >>> import torch
    >>> dec = ConvDecoder(2, (1, 8, 8), channels=(8, 4), hidden_layer_sizes=(16,))
    >>> dec(torch.zeros(3, 2)).shape
    torch.Size([3, 64])
    """

    def __init__(self, n_inputs, image_shape, channels=(64, 32), hidden_layer_sizes=(256,)):
        super().__init__()
        self.image_shape = check_image_shape(image_shape)
        c, h, w = self.image_shape
        sizes = conv_sizes(h, w, len(channels))[::-1]  # smallest map first
        c0 = channels[0] if channels else c
        self.map_shape = (c0, *sizes[0])
        n_map = c0 * sizes[0][0] * sizes[0][1]
        self.dense = nn.Sequential(MLP([n_inputs, *hidden_layer_sizes, n_map]), nn.ReLU())
        layers = []
        outs = (*channels[1:], c)
        for i, (c_in, c_out) in enumerate(zip(channels, outs, strict=True)):
            (h_in, w_in), (h_to, w_to) = sizes[i], sizes[i + 1]
            # (s - 1) * 2 - 2 + 3 + p = 2 s - 1 + p must equal the target side.
            pad = (h_to - 2 * h_in + 1, w_to - 2 * w_in + 1)
            layers.append(nn.ConvTranspose2d(c_in, c_out, kernel_size=3, stride=2,
                                             padding=1, output_padding=pad))
            if i < len(channels) - 1:
                layers.append(nn.ReLU())
        if not channels:
            self.dense = MLP([n_inputs, *hidden_layer_sizes, n_map])
        self.deconv = nn.Sequential(*layers)

    def forward(self, z):
        h = self.dense(z).reshape(z.shape[0], *self.map_shape)
        return self.deconv(h).flatten(1)

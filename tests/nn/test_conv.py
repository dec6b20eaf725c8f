"""Convolutional modules: any image size, channels first, clear shape errors."""

import numpy as np
import pytest
import torch

from skvae.nn import ConvDecoder, ConvEncoder, conv_sizes


@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 7, 5), (2, 1, 1), (1, 9, 30)])
def test_conv_modules_round_any_image_size(shape):
    n_pixels = int(np.prod(shape))
    enc = ConvEncoder(shape, 3, n_condition=2, channels=(4, 8), hidden_layer_sizes=(16,))
    dec = ConvDecoder(3, shape, channels=(8, 4), hidden_layer_sizes=(16,))
    mu, logvar = enc(torch.rand(5, n_pixels), torch.zeros(5, 2))
    assert mu.shape == logvar.shape == (5, 3)
    assert dec(mu).shape == (5, n_pixels)


def test_conv_encoder_reads_channels_first():
    # A pixel in channel 1 must influence the output; flattened C-order layout.
    # (Seeded: with unlucky weights a ReLU could hide one pixel's change.)
    torch.manual_seed(0)
    enc = ConvEncoder((2, 4, 4), 2, channels=(3,), hidden_layer_sizes=())
    x = torch.rand(1, 32)
    x2 = x.clone()
    x2[0, 16] += 1.0  # channel 1, row 0, col 0
    assert not torch.equal(enc(x)[0], enc(x2)[0])


def test_conv_sizes_halve_rounding_up():
    assert conv_sizes(8, 8, 2) == [(8, 8), (4, 4), (2, 2)]
    assert conv_sizes(7, 5, 3) == [(7, 5), (4, 3), (2, 2), (1, 1)]


def test_conv_module_rejects_bad_shape():
    with pytest.raises(ValueError, match="channels, height, width"):
        ConvEncoder((28, 28), 2)

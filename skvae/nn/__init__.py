"""Pure PyTorch parts of skvae: modules and loss terms (no scikit-learn, no skorch)."""

from .conv import ConvDecoder, ConvEncoder, conv_sizes
from .losses import LIKELIHOODS, gaussian_kl, reconstruction_nll
from .m2 import M2
from .modules import MLP, VAE, DecoderModel, MLPDecoder, MLPEncoder

__all__ = [
    "LIKELIHOODS",
    "M2",
    "MLP",
    "ConvDecoder",
    "ConvEncoder",
    "DecoderModel",
    "MLPDecoder",
    "MLPEncoder",
    "VAE",
    "conv_sizes",
    "gaussian_kl",
    "reconstruction_nll",
]

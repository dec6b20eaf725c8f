"""Pure PyTorch parts of skvae: modules and loss terms (no scikit-learn, no skorch)."""

from .losses import LIKELIHOODS, gaussian_kl, reconstruction_nll
from .m2 import M2
from .modules import MLP, VAE, MLPDecoder, MLPEncoder

__all__ = [
    "LIKELIHOODS",
    "M2",
    "MLP",
    "MLPDecoder",
    "MLPEncoder",
    "VAE",
    "gaussian_kl",
    "reconstruction_nll",
]

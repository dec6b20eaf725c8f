"""Pure PyTorch parts of skvae: modules and loss terms (no scikit-learn, no skorch)."""

from .losses import LIKELIHOODS, gaussian_kl, reconstruction_nll
from .modules import MLP, VAE, MLPDecoder, MLPEncoder

__all__ = [
    "LIKELIHOODS",
    "MLP",
    "MLPDecoder",
    "MLPEncoder",
    "VAE",
    "gaussian_kl",
    "reconstruction_nll",
]

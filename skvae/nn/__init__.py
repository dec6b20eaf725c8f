"""Pure PyTorch parts of skvae: models, networks, likelihoods and the ELBO's terms.

Imports neither scikit-learn nor skorch. The extension points are two tables:
:data:`LIKELIHOODS` (observation models) and :data:`ARCHITECTURES` (builders of
encoder, decoder and classifier networks); see ``docs/design.md``.
"""

from .architectures import (
    ARCHITECTURES,
    Architecture,
    ConvArchitecture,
    CustomArchitecture,
    MLPArchitecture,
    make_architecture,
)
from .conv import ConvBody, ConvDecoder, ConvEncoder, check_image_shape, conv_sizes
from .likelihoods import (
    LIKELIHOODS,
    BernoulliLikelihood,
    GaussianLikelihood,
    Likelihood,
    make_likelihood,
)
from .losses import elbo_parts, gaussian_kl, log_importance_weights, reparameterize
from .m2 import M2
from .modules import (
    MLP,
    VAE,
    Classifier,
    DecoderModel,
    GaussianEncoder,
    JoinedBody,
    MLPDecoder,
    MLPEncoder,
    check_decoder,
    feature_width,
)
from .priors import Prior, StandardNormal, gaussian_log_density
from .shared import Perturbation, SharedM2
from .stacked import StackedM2

__all__ = [
    "ARCHITECTURES",
    "LIKELIHOODS",
    "M2",
    "MLP",
    "JoinedBody",
    "VAE",
    "Architecture",
    "BernoulliLikelihood",
    "Classifier",
    "ConvArchitecture",
    "ConvBody",
    "ConvDecoder",
    "ConvEncoder",
    "CustomArchitecture",
    "DecoderModel",
    "GaussianEncoder",
    "GaussianLikelihood",
    "Likelihood",
    "StackedM2",
    "Perturbation",
    "Prior",
    "SharedM2",
    "StandardNormal",
    "MLPArchitecture",
    "MLPDecoder",
    "MLPEncoder",
    "check_decoder",
    "check_image_shape",
    "conv_sizes",
    "elbo_parts",
    "feature_width",
    "gaussian_kl",
    "gaussian_log_density",
    "log_importance_weights",
    "make_architecture",
    "make_likelihood",
    "reparameterize",
]

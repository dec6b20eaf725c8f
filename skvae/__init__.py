"""skvae: variational autoencoders as scikit-learn estimators, trained through skorch."""

from ._classifier import VAEClassifier
from ._rows import Rows
from ._transformer import VAETransformer

__version__ = "0.1.0"

__all__ = ["Rows", "VAEClassifier", "VAETransformer", "__version__"]

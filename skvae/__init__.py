"""skvae: variational autoencoders as scikit-learn estimators, trained through skorch.

The estimators are imported on first use (a module ``__getattr__``), so ``import skvae``
and ``skvae --help`` do not wait for torch.
"""

from importlib import import_module as _import_module

__version__ = "0.1.0"

__all__ = ["Rows", "VAEClassifier", "VAEOutlierDetector", "VAETransformer", "__version__"]

# public name -> the module that defines it (imported when the name is first read)
_LAZY_NAMES = {"Rows": "._rows", "VAEClassifier": "._classifier",
               "VAEOutlierDetector": "._outlier", "VAETransformer": "._transformer"}
# subpackages and modules reachable as attributes, as they were when imported eagerly
_LAZY_MODULES = ("cli", "datasets", "models", "nn", "plotting")


def __getattr__(name):
    if name in _LAZY_NAMES:
        value = getattr(_import_module(_LAZY_NAMES[name], __name__), name)
    elif name in _LAZY_MODULES:
        value = _import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later reads skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_LAZY_MODULES))

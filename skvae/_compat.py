"""The private scikit-learn API skvae uses, imported in this one module.

scikit-learn has no public home for its parameter-validation helpers (``Interval``,
``StrOptions``, ``InvalidParameterError``, ``validate_parameter_constraints``) or for
``_fit_context``, which runs that validation for ``fit`` as scikit-learn's own
estimators do. They have been stable since 1.3; skvae supports scikit-learn >= 1.6
(``tests/test_compat.py`` checks them). Should a release move them, importing skvae
fails here with a message naming the version, not deep inside an estimator.
"""

import sklearn

try:
    from sklearn.base import _fit_context
    from sklearn.utils._param_validation import (
        Interval,
        InvalidParameterError,
        StrOptions,
        validate_parameter_constraints,
    )
except ImportError as exc:  # pragma: no cover - only on an unsupported release
    raise ImportError(
        f"skvae needs scikit-learn's parameter-validation helpers, which scikit-learn "
        f"{sklearn.__version__} does not provide where skvae looks for them ({exc}). "
        "Install a scikit-learn release skvae supports (>= 1.6, see pyproject.toml)."
    ) from exc

__all__ = [
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_fit_context",
    "validate_parameter_constraints",
]

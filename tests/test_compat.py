"""The private scikit-learn API skvae relies on (imported in skvae/_compat.py only)."""

import numbers
import pathlib
import re

import sklearn

import skvae
from skvae import _compat


def test_supported_scikit_learn_provides_the_private_helpers():
    major, minor = (int(p) for p in re.findall(r"\d+", sklearn.__version__)[:2])
    assert (major, minor) >= (1, 6), "skvae supports scikit-learn >= 1.6 (pyproject.toml)"
    for name in _compat.__all__:
        assert getattr(_compat, name) is not None, name
    # The validation helper still takes the arguments skvae passes.
    _compat.validate_parameter_constraints(
        {"n": [_compat.Interval(numbers.Integral, 1, None, closed="left")]}, {"n": 3},
        caller_name="x")


def test_no_other_module_imports_private_scikit_learn_api():
    package = pathlib.Path(skvae.__file__).parent
    private = re.compile(r"from sklearn[\w.]* import [^\n]*\b_\w+|sklearn\.[\w.]*\._\w+")
    for path in package.rglob("*.py"):
        if path.name == "_compat.py":
            continue
        assert not private.search(path.read_text()), path

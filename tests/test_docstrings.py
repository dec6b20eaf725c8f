"""Every public docstring documents exactly the parameters of its signature."""

import inspect

import pytest

numpydoc = pytest.importorskip("numpydoc.docscrape")

import skvae  # noqa: E402
from skvae import cli, datasets, nn, plotting  # noqa: E402


def _public_callables():
    seen = []
    for module in (skvae, nn, datasets, plotting, cli):
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                seen.append((f"{module.__name__}.{name}", obj, obj.__init__))
                for meth_name, meth in vars(obj).items():
                    if (not meth_name.startswith("_") and inspect.isfunction(meth)
                            and meth.__doc__ and "Parameters" in meth.__doc__):
                        seen.append((f"{module.__name__}.{name}.{meth_name}", meth, meth))
            elif inspect.isfunction(obj):
                seen.append((f"{module.__name__}.{name}", obj, obj))
    return seen


def _documented(doc_obj):
    doc = numpydoc.NumpyDocString(inspect.getdoc(doc_obj) or "")
    names = []
    for param in doc["Parameters"]:
        for name in param.name.split(","):
            names.append(name.strip().lstrip("*"))
    return names


def _signature(func):
    params = inspect.signature(func).parameters.values()
    return [p.name for p in params if p.name not in ("self", "cls")]


CALLABLES = _public_callables()


@pytest.mark.parametrize("name, doc_obj, func", CALLABLES, ids=[c[0] for c in CALLABLES])
def test_docstring_parameters_match_the_signature(name, doc_obj, func):
    documented = _documented(doc_obj)
    if not documented and not inspect.isclass(doc_obj):
        pytest.skip("no Parameters section")
    signature = _signature(func)
    if func is object.__init__ or signature == ["args", "kwargs"]:
        signature = []
    assert documented == signature, (
        f"{name}: the docstring documents {documented}, the signature has {signature}"
    )

"""Sphinx configuration for the skvae documentation (``make docs``).

The build is strict: ``make docs`` runs ``sphinx-build -W --keep-going``, so any warning
(a broken cross-reference, a bad docstring, a missing page in a toctree) fails it, and
sphinx-gallery fails it when an example raises.
"""

import os
import re
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))  # gallery_warnings, for the gallery's workers too

import skvae  # noqa: E402

project = "skvae"
author = "skvae developers"
copyright = "skvae developers"  # noqa: A001
version = release = skvae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# sg_execution_times.rst: pages an older build (or sphinx-gallery default) may have left.
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "sg_execution_times.rst",
                    "**/sg_execution_times.rst"]
templates_path = ["_templates"]

# -- strictness ---------------------------------------------------------------
# Every cross-reference to skvae must resolve. References into other projects
# (numpy, scikit-learn, torch, skorch, matplotlib, the standard library) cannot be
# checked offline; with SKVAE_DOCS_INTERSPHINX=1 (needs the network) they become links.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(sklearn|numpy|np|torch|skorch|matplotlib|scipy|pandas|joblib|dask)(\..*)?"),
    (r"py:.*", r"(str|int|float|bool|list|tuple|dict|None|object|callable|os\.PathLike)"),
    (r"py:.*", r"(optional|array-like|sequence|default|of|shape)"),
]
nitpick_ignore = []

if os.environ.get("SKVAE_DOCS_INTERSPHINX"):
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://docs.pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
    }

# -- API reference -----------------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "member-order": "groupwise"}
autodoc_typehints = "none"
autodoc_inherit_docstrings = False  # torch's forward() docs are not ours to render
numpydoc_show_class_members = False  # the autosummary templates list the members
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- Markdown (MyST) -----------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3

# -- offline pages -------------------------------------------------------------
# The built site must work with no network (issue 12): no page may load a script,
# style sheet or font from another host. MathJax is served from the site itself:
# docs/_static/mathjax/ holds MathJax 3.2.2's single-file TeX-to-SVG build (fonts
# inside, every TeX extension preloaded; Apache-2.0, see its README.md there).
# Sphinx resolves a relative mathjax_path against _static/. tests/test_docs.py
# checks this setting and, after a build, every page.
mathjax_path = "mathjax/tex-svg-full.js"

# -- example gallery -----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "doc_module": ("skvae",),
    "reference_url": {"skvae": None},
    "backreferences_dir": "gen_modules/backreferences",
    "remove_config_comments": True,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    # An example that raises fails the build (sphinx-gallery's default, spelled out).
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    # No sg_execution_times pages: sphinx-gallery writes them with jQuery and
    # DataTables loaded from CDNs (offline they show nothing and leak requests).
    "write_computation_times": False,
    "show_memory": False,
    # Examples run side by side, one per core (each trains on one torch thread): the
    # slowest, plot_semi_supervised.py (three default fits), then sets the build's length.
    "parallel": 2,
    # A warning in an example fails the build (issue 30): docs/gallery_warnings.py turns
    # every warning into an error before each example and puts the filters back after
    # it. Named as a string, so that the parallel build's worker processes import it.
    "reset_modules": ("matplotlib", "gallery_warnings.strict_warnings"),
    "reset_modules_order": "both",
}

# Examples print through skorch/torch; keep the build log quiet about CPU-only torch.
warnings.filterwarnings("ignore", message=".*CUDA.*", category=UserWarning)



def _escape_shape_underscores(app, what, name, obj, options, lines):
    """Escape the trailing underscore of fitted attributes in shape descriptions.

    ``ndarray of shape (n_samples, n_features_in_)`` would otherwise read as an RST
    reference to a target ``n_features_in``.
    """
    for i, line in enumerate(lines):
        if "shape (" in line:
            lines[i] = re.sub(r"(?<![`\w])(\w+)_(?=[,)\]])", r"\1\\_", line)


def _unlink_sklearn_user_guide(app, what, name, obj, options, lines):
    """Turn ``:ref:`` / ``:term:`` links into scikit-learn's docs into plain text.

    The API pages show the methods VAETransformer inherits from scikit-learn
    (``set_output``, ``get_params`` ...), whose docstrings point at labels of
    scikit-learn's own docs; those cannot resolve here. skvae's own ``:ref:`` links
    are left alone, so a broken one still fails the build.
    """
    if not getattr(obj, "__module__", "").startswith("sklearn."):
        return
    for i, line in enumerate(lines):
        line = re.sub(r":(?:ref|term):`([^`<]+?)\s*<[^`>]+>`", r"\1", line)
        lines[i] = re.sub(r":(?:ref|term):`([^`]+)`", r"\1", line)


def setup(app):
    app.connect("autodoc-process-docstring", _escape_shape_underscores, priority=400)
    app.connect("autodoc-process-docstring", _unlink_sklearn_user_guide, priority=400)


# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skvae {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]

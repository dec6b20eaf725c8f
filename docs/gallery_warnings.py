"""A warning in a gallery example fails the docs build (issue 30).

The rendered gallery is what a new user reads: a ``ConvergenceWarning`` (or any other
warning) printed under an example's code looks like a fault, and sphinx-gallery shows
it as output instead of failing. :func:`strict_warnings` runs before each example (it
is listed in ``sphinx_gallery_conf["reset_modules"]``, as a name, so that the worker
processes of a parallel build import it; they never read ``conf.py``) and turns every
warning into an error, so the example raises and ``make docs`` fails, naming it. After
the example it puts the filters back.

An example that is about a warning catches it itself (``warnings.catch_warnings``
sets its own filters inside the block), and the warning then shows only where the
example prints it.
"""

import warnings

__all__ = ["IGNORED", "strict_warnings"]

#: (message regex, category) pairs that stay quiet instead: none of them is skvae's,
#: and none tells a reader of the gallery anything.
IGNORED = (
    (r".*CUDA.*", UserWarning),  # CPU-only torch builds, as conf.py already ignores
)

_open = []  # the catch_warnings blocks entered before examples, not yet left


def strict_warnings(gallery_conf, fname, when):
    """sphinx-gallery's reset hook: every warning an example raises is an error."""
    if when == "before":
        block = warnings.catch_warnings()  # saves the filters; __exit__ restores them
        block.__enter__()
        _open.append(block)
        warnings.simplefilter("error")
        for message, category in IGNORED:
            warnings.filterwarnings("ignore", message=message, category=category)
    elif _open:
        _open.pop().__exit__(None, None, None)

"""The shared rules that turn an estimator's hyperparameters into stage settings.

Every model's :meth:`~skvae.models.Recipe.stages` reads its settings through these, so
one ``'auto'`` means the same in every model.
"""

import math

import numpy as np

from ..nn import check_image_shape, make_architecture
from ._labels import labelled_top_up

__all__ = ["alpha_of", "classifier_stage_settings", "epochs_for_steps", "hidden_sizes",
           "image_shape", "learning_rate_of", "reads_images", "resolve_batch_size",
           "training_settings"]

# batch_size='auto': 256 rows per step from this many rows on, else 128.
_LARGE_ROWS = 2000


def resolve_batch_size(batch_size, n_rows):
    """``batch_size`` as rows per step: ``'auto'`` is 256 from 2,000 rows on, else 128.

    Examples
    --------
    >>> resolve_batch_size("auto", 500), resolve_batch_size("auto", 5000)
    (128, 256)
    """
    if batch_size != "auto":
        return int(batch_size)
    return 256 if n_rows >= _LARGE_ROWS else 128


def epochs_for_steps(steps, n_rows, batch_size):
    """The number of epochs (at least 1) that gives about ``steps`` gradient steps.

    Examples
    --------
    >>> epochs_for_steps(5000, 60000, 256)
    22
    """
    return max(1, math.ceil(steps / math.ceil(n_rows / batch_size)))


def hidden_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a tuple of positive ints (an int is one layer).

    Examples
    --------
    >>> hidden_sizes(256), hidden_sizes([64, 32]), hidden_sizes(())
    ((256,), (64, 32), ())
    """
    value = hidden_layer_sizes
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        value = (value,)
    sizes = np.asarray(value).ravel()
    if sizes.size == 0 and np.asarray(value).ndim == 1:
        return ()
    if not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1):
        raise ValueError(
            "hidden_layer_sizes must be a positive integer or a sequence of them, e.g. "
            f"256 or (256, 128); got {hidden_layer_sizes!r}."
        )
    return tuple(int(s) for s in sizes)


def reads_images(params, name, shape=None):
    """Whether the networks of architecture ``name`` (with the user's modules) read images.

    Examples
    --------
    >>> params = {"encoder": None, "decoder": None}
    >>> reads_images(params, "conv"), reads_images(params, "mlp")
    (True, False)
    """
    if name is None:
        return False
    return make_architecture(name, (), shape if shape is not None else params.get("image_shape"),
                             params.get("encoder"), params.get("decoder")).needs_image


def image_shape(params, n_features, architectures):
    """The ``(C, H, W)`` rows are read as (``image_shape`` checked), or None.

    None when no network of ``architectures`` (names) reads images and no
    ``image_shape`` was given; a conv network without one takes a square image.
    """
    given = params.get("image_shape")
    needs = any(reads_images(params, name) for name in architectures)
    return check_image_shape(given, n_features) if needs or given is not None else None


def alpha_of(params, auto=10.0):
    """The weight of the cross-entropy: ``alpha``, with ``'auto'`` as ``auto``."""
    return auto if params["alpha"] == "auto" else float(params["alpha"])


def learning_rate_of(params, auto=1e-3):
    """The initial step size: ``learning_rate_init``, with ``'auto'`` as ``auto``."""
    value = params["learning_rate_init"]
    return auto if value == "auto" else float(value)


def training_settings(params, partial, learning_rate_auto=1e-3):
    """The settings of a stage's training run that come straight from ``params``.

    ``learning_rate_auto`` is the step size of ``learning_rate_init='auto'``.
    """
    return dict(
        learning_rate_init=learning_rate_of(params, learning_rate_auto),
        weight_decay=float(params["weight_decay"]),
        beta_warmup=int(params["beta_warmup"]),
        early_stopping=bool(params["early_stopping"]) and not partial,
        validation_fraction=float(params["validation_fraction"]),
        tol=params["tol"],
        n_iter_no_change=int(params["n_iter_no_change"]),
    )


def classifier_stage_settings(params, data, partial, max_iter_auto, schedule_auto,
                              batch_size_auto=None, labelled_auto=None):
    """Batch size, epochs, schedule and labelled top-up of a stage that learns labels.

    ``max_iter_auto(batch_size)`` gives the epochs of ``max_iter='auto'``;
    ``schedule_auto`` the schedule of ``learning_rate='auto'``; ``batch_size_auto`` and
    ``labelled_auto`` (when given) the rows of ``batch_size='auto'`` and of
    ``labelled_batch_size='auto'``, else the shared rules (:func:`resolve_batch_size`,
    :func:`~skvae.models._labels.labelled_top_up`).
    """
    batch_size = (batch_size_auto if params["batch_size"] == "auto" and batch_size_auto
                  else resolve_batch_size(params["batch_size"], data.n_rows))
    if partial:
        max_iter = 1
    elif params["max_iter"] == "auto":
        max_iter = max_iter_auto(batch_size)
    else:
        max_iter = int(params["max_iter"])
    schedule = params["learning_rate"]
    if partial:
        schedule = "constant"
    elif schedule == "auto":
        schedule = schedule_auto
    top_up = params["labelled_batch_size"]
    if top_up == "auto" and labelled_auto is not None:
        top_up = labelled_auto
    return dict(batch_size=batch_size, max_iter=max_iter, learning_rate=schedule,
                labelled_batch_size=labelled_top_up(top_up, data, batch_size))

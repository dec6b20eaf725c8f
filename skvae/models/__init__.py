"""Model recipes: how each generative model is planned, built, trained and queried.

A recipe is one file with one :class:`Recipe` subclass: the stages it trains and how
their ``'auto'`` settings resolve (:meth:`Recipe.stages`), how its torch module is
built (:meth:`Recipe.build`, which may train earlier stages first) and its inference
(``transform``, ``classify``, ``decode``, ``log_marginal``). :data:`MODELS` maps names
to recipes; an estimator's ``model`` hyperparameter picks one by name, ``'auto'`` by
the rule of :func:`resolve_model`. A new model is one new file and one entry here (or a
call to :func:`register` from user code); the estimators do not change.
"""

import math

import numpy as np

from ..nn import check_image_shape, make_architecture
from ._labels import UNLABELLED, LabelledTopUpIterator

__all__ = ["MODELS", "UNLABELLED", "LabelledTopUpIterator", "Recipe", "register",
           "resolve_model", "resolve_batch_size", "epochs_for_steps", "hidden_sizes",
           "image_shape", "training_settings", "alpha_of", "learning_rate_of"]

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


def image_shape(params, n_features, architectures):
    """The ``(C, H, W)`` rows are read as (``image_shape`` checked), or None.

    None when no network of ``architectures`` (names) reads images and no
    ``image_shape`` was given; a conv network without one takes a square image.
    """
    given = params.get("image_shape")
    needs = any(make_architecture(name, (), given, params.get("encoder"),
                                  params.get("decoder")).needs_image
                for name in architectures if name is not None)
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


class Recipe:
    """Base class of the model recipes (see the module docstring).

    Attributes
    ----------
    name : str
        The key in :data:`MODELS` and the value of ``model=``.
    task : {'unsupervised', 'classification'}
        ``'classification'`` models have ``q(y | x)`` and need labels
        (``VAEClassifier``); ``'unsupervised'`` ones do not (``VAETransformer``).
    summary : str
        One line on what the model is (shown in errors and in the fit plan).
    score : str
        What :meth:`log_marginal` estimates, in words (the estimators' ``score_samples``).
    """

    name = None
    task = "unsupervised"
    summary = ""
    score = "an importance-weighted lower bound on log p(x)"

    # -- planning ------------------------------------------------------------------
    def stages(self, params, data, *, seed, partial):
        """The :class:`~skvae._plan.StagePlan` list of a fit, every ``'auto'`` resolved.

        ``params`` are the estimator's hyperparameters (a dict, read only), ``data`` a
        :class:`~skvae._plan.DataInfo`, ``seed`` the fit's seed; ``partial`` for a
        ``partial_fit`` call (one epoch, constant step size, no early stopping).
        """
        raise NotImplementedError

    # -- building ------------------------------------------------------------------
    def build(self, plan, inputs, fit_stage):
        """The module of the last stage and its training inputs.

        Runs under the last stage's seed. ``inputs`` is a dict ``{'x': X}`` (float32
        rows), with ``'sample_weight'`` when the fit is weighted;
        ``fit_stage(stage, make_module, inputs)`` trains an earlier stage's module
        (built by ``make_module()`` under that stage's seed) and returns its fitted
        net. The inputs returned are ``inputs``, possibly with more entries: each
        reaches the module's ``forward`` by name (``sample_weight`` excepted).
        """
        raise NotImplementedError

    def iterator_params(self, stage):
        """skorch parameters of a stage's net for its batch composition."""
        return {}

    #: True when the recipe's callbacks schedule the step size per step themselves
    #: (the trainer then adds no epoch-wise cosine schedule).
    step_schedule = False

    def callbacks(self, stage, plan):
        """Further ``(name, callback)`` pairs of a stage's net (loss-term schedules...)."""
        return []

    @staticmethod
    def architecture(stage, name=None):
        """The :class:`skvae.nn.Architecture` of a stage (``name`` overrides its own)."""
        return make_architecture(name or stage.architecture, stage.hidden_layer_sizes,
                                 stage.image_shape, stage.encoder, stage.decoder)

    # -- inference (modules in eval mode, tensors on the net's device) ----------------
    def transform(self, module, x):
        """The posterior mean of the latent code."""
        return module.encode(x)[0]

    def classify(self, module, x):
        """Class logits of ``q(y | x)`` (classification models)."""
        return module.classify(x)

    def decode(self, module, z):
        """Decoded means for codes ``z`` (with one-hot classes appended, if any)."""
        return module.decode_mean(z)

    def n_score_latent(self, plan):
        """Width of the noise draws :meth:`log_marginal` takes."""
        return plan.final.n_components

    def log_marginal(self, module, x, eps):
        """Per-row estimate of what the recipe's ``score`` says, with draws ``eps``."""
        return module.log_marginal(x, eps)

    def __repr__(self):
        return f"<model recipe {self.name!r}: {self.summary}>"


#: The model recipes by name (see :func:`register`).
MODELS = {}


def register(recipe):
    """Add a :class:`Recipe` instance to :data:`MODELS` under ``recipe.name``; return it.

    Examples
    --------
    >>> sorted(MODELS)
    ['m1+m2', 'm2', 'shared-m2', 'vae']
    """
    if not isinstance(recipe, Recipe) or not isinstance(recipe.name, str):
        raise TypeError("register takes a Recipe instance with a name (a str).")
    if recipe.task not in ("unsupervised", "classification"):
        raise ValueError(f"Recipe.task must be 'unsupervised' or 'classification', "
                         f"got {recipe.task!r}.")
    MODELS[recipe.name] = recipe
    return recipe


def resolve_model(model, task, data, partial, conv=False):
    """The name of the recipe a fit uses (``model='auto'`` resolved), or raise ValueError.

    ``'auto'``: ``'vae'`` without labels. With labels, in ``fit``: ``'shared-m2'``
    when some rows are unlabelled, whatever the networks; when every row has a label,
    ``'shared-m2'`` for fully connected networks and ``'m2'`` with a convolutional one
    (``conv``: ``architecture`` or ``classifier_architecture`` ``'conv'``; measured
    best there: docs/classifier.md). In ``partial_fit``: ``'m2'`` (a call is one pass
    over its rows at a constant step size, while the other models need every row at
    once).
    """
    if model == "auto":
        if task == "unsupervised":
            return "vae"
        if partial:
            return "m2"
        if conv and not data.unlabelled:
            return "m2"
        return "shared-m2"
    fitting = sorted(name for name, r in MODELS.items() if r.task == task)
    if model not in MODELS or MODELS[model].task != task:
        what = ("a model with a classifier q(y|x)" if task == "classification"
                else "an unsupervised model")
        raise ValueError(f"model={model!r} is not {what}; choose 'auto' or one of {fitting}.")
    return model


from . import m2, shared, stacked, vae  # noqa: E402, F401  (the built-in recipes register themselves)

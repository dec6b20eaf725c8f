"""Models: how each generative model is planned, built, trained and queried.

A model is a :class:`Recipe` object: its own settings (constructor arguments, so
``get_params``/``set_params``/``clone`` work and ``GridSearchCV`` reaches
``model__<setting>``, as it reaches ``kernel__length_scale`` in
``GaussianProcessRegressor``), the stages it trains and how their ``'auto'`` settings
resolve (:meth:`Recipe.stages`), how its torch module is built (:meth:`Recipe.build`,
which may train earlier stages first), the inputs it adds to the rows
(:meth:`Recipe.inputs`, for ``fit`` and a continuing ``partial_fit`` alike), its prior
(:meth:`Recipe.sample_latent`; the module's ``prior`` for the bound) and its
inference (``transform``, ``classify``, ``decode``, ``log_marginal``).
:class:`ClassifierRecipe` is the base of the models with a classifier ``q(y|x)``.

:data:`MODELS` maps names to models; an estimator's ``model`` hyperparameter takes a
name, ``'auto'`` (the rule of :func:`resolve_model`) or a model object. A new model is
one new file and one entry here (or a call to :func:`register` from user code, or just
an object passed as ``model=``); the estimators do not change. The plan's types
(:class:`FitPlan`, :class:`StagePlan`, ...) live in ``skvae.models.plan``.
"""

import torch
from sklearn.base import BaseEstimator, clone

from .._compat import validate_parameter_constraints
from ..nn import make_architecture
from ..nn.priors import prior_of
from ._labels import UNLABELLED, LabelledTopUpIterator
from ._settings import (
    alpha_of,
    classifier_stage_settings,
    epochs_for_steps,
    hidden_sizes,
    image_shape,
    learning_rate_of,
    reads_images,
    resolve_batch_size,
    training_settings,
)
from .plan import ClassifierStage, DataInfo, FitPlan, MachineInfo, StagePlan

__all__ = ["MODELS", "UNLABELLED", "ClassifierRecipe", "ClassifierStage", "DataInfo",
           "FitPlan", "LabelledTopUpIterator", "MachineInfo", "Recipe", "StagePlan",
           "alpha_of", "classifier_stage_settings", "epochs_for_steps", "hidden_sizes",
           "image_shape", "learning_rate_of", "reads_images", "register",
           "resolve_batch_size", "resolve_model", "training_settings"]


class Recipe(BaseEstimator):
    """Base class of the models (see the module docstring).

    A model is an object with its own settings: a subclass takes them as keyword
    arguments of ``__init__``, which stores them unchanged (scikit-learn's rule), and
    declares their rules in ``_parameter_constraints``; they are checked when a fit
    is planned (:meth:`validate`). ``get_params``, ``set_params``, ``clone`` and
    pickling come from :class:`sklearn.base.BaseEstimator`, so an estimator's
    ``GridSearchCV`` reaches ``model__<setting>``. Of the built-in models only the
    VampPrior has a setting of its own; the others read the estimator's.

    Attributes
    ----------
    name : str
        The key in :data:`MODELS` and the value of ``model=`` (a model object without
        one is named after its class).
    task : {'unsupervised', 'classification'}
        ``'classification'`` models have ``q(y | x)`` and need labels
        (``VAEClassifier``); ``'unsupervised'`` ones do not (``VAETransformer``).
    summary : str
        One line on what the model is (shown in errors and in the fit plan).
    score : str
        What :meth:`log_marginal` estimates, in words (the estimators' ``score_samples``).
    structure : tuple of str
        The model's own settings that shape its network: a change between
        ``partial_fit`` calls is an error that names it.

    Examples
    --------
    A model with a setting of its own, tuned as ``model__n_pseudo_inputs``:

    >>> from sklearn.base import clone
    >>> from skvae.models import MODELS
    >>> model = clone(MODELS["vampprior"])  # a copy: the table's default stays as it is
    >>> model.set_params(n_pseudo_inputs=50).get_params()
    {'n_pseudo_inputs': 50}
    """

    name = None
    task = "unsupervised"
    summary = ""
    score = "an importance-weighted lower bound on log p(x)"
    structure = ()
    _parameter_constraints: dict = {}

    @property
    def model_name(self):
        """The model's name: ``name``, or the class name of a model without one."""
        return self.name if isinstance(self.name, str) else type(self).__name__

    def validate(self):
        """Check the model's own settings (``_parameter_constraints``); raise ValueError.

        Called when a fit is planned, as an estimator checks its hyperparameters.
        """
        validate_parameter_constraints(self._parameter_constraints,
                                       self.get_params(deep=False),
                                       caller_name=f"model {self.model_name!r}")

    # -- planning ------------------------------------------------------------------
    def stages(self, params, data, *, seed, partial):
        """The :class:`StagePlan` list of a fit, every ``'auto'`` resolved.

        ``params`` are the estimator's hyperparameters (a dict, read only), ``data`` a
        :class:`DataInfo`, ``seed`` the fit's seed; ``partial`` for a ``partial_fit``
        call (one epoch, constant step size, no early stopping).
        """
        raise NotImplementedError

    # -- building ------------------------------------------------------------------
    def build(self, plan, inputs, fit_stage):
        """The new module of the last stage.

        Runs under the last stage's seed. ``inputs`` is a dict ``{'x': X}`` (float32
        rows), with ``'sample_weight'`` when the fit is weighted;
        ``fit_stage(stage, make_module, inputs)`` trains an earlier stage's module
        (built by ``make_module()`` under that stage's seed) and returns its fitted
        net. The module's training inputs then come from :meth:`inputs`.
        """
        raise NotImplementedError

    def inputs(self, plan, net, inputs):
        """The training inputs of the last stage: ``inputs`` and any the model adds.

        Called by ``fit`` after :meth:`build` and by every continuing ``partial_fit``
        call, with the net that trains on (``net.module_`` the module,
        ``net.run_batched`` runs a function over rows in batches). ``inputs`` is ``{'x': X}`` (plus
        ``'sample_weight'`` in a weighted fit); each entry returned reaches the
        module's ``forward`` by name (``sample_weight`` excepted). The base adds none.
        """
        return inputs

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

    # -- the prior -------------------------------------------------------------------
    def sample_latent(self, plan, module, n_samples, generator):
        """``n_samples`` codes drawn from the fitted model's prior ``p(z)`` (``sample``).

        The base draws from the module's ``prior`` (a :class:`skvae.nn.Prior`), and
        from N(0, I) when it has none. ``generator`` is a CPU ``torch.Generator``; the
        module is in eval mode, on the net's device. Returns a tensor
        ``(n_samples, n_components)``.
        """
        prior = prior_of(module)
        if prior is not None:
            return prior.sample(n_samples, plan.final.n_components, generator)
        return torch.randn(n_samples, plan.final.n_components, generator=generator)

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
        """Per-row estimate of what the recipe's ``score`` says, with draws ``eps``.

        The module's bound uses its own prior (``module.prior``), as training did.
        """
        return module.log_marginal(x, eps)


class ClassifierRecipe(Recipe):
    """Base of the models with a classifier ``q(y|x)`` (``VAEClassifier``'s).

    Holds what they share: the stage settings of a run that learns labels
    (``classifier_stage_settings``, giving a :class:`ClassifierStage`), the
    labelled top-up batches and the text of ``score_samples``.
    """

    task = "classification"
    score = ("log p(x) with the class summed out: log sum_y p(y) p(x|y), each p(x|y) an "
             "importance-weighted bound from n_importance_samples draws of q(z|x,y)")

    @staticmethod
    def stage_settings(params, data, partial, max_iter_auto, schedule_auto, **auto):
        """``classifier_stage_settings`` (batch size, epochs, schedule, top-up)."""
        return classifier_stage_settings(params, data, partial, max_iter_auto,
                                         schedule_auto, **auto)

    def iterator_params(self, stage):
        if not isinstance(stage, ClassifierStage):  # e.g. M1 of 'm1+m2': no labels
            return {}
        return {"iterator_train": LabelledTopUpIterator,
                "iterator_train__labelled_batch_size": stage.labelled_batch_size}


#: The models by name (see :func:`register`).
MODELS = {}


def register(recipe):
    """Add a :class:`Recipe` instance to :data:`MODELS` under ``recipe.name``; return it.

    Examples
    --------
    >>> sorted(MODELS)
    ['m1+m2', 'm2', 'shared-m2', 'vae', 'vampprior']
    """
    if not isinstance(recipe, Recipe) or not isinstance(recipe.name, str):
        raise TypeError("register takes a Recipe instance with a name (a str).")
    if recipe.task not in ("unsupervised", "classification"):
        raise ValueError(f"Recipe.task must be 'unsupervised' or 'classification', "
                         f"got {recipe.task!r}.")
    MODELS[recipe.name] = recipe
    return recipe


def resolve_model(model, task, data, partial, conv=False, fitted=None):
    """The model a fit uses: a new copy of a :class:`Recipe`, or raise ValueError.

    ``model`` is a name of :data:`MODELS`, a model object (copied with ``clone``, so
    the user's object is never changed) or ``'auto'``: ``'vae'`` without labels.
    With labels, in ``fit``: ``'shared-m2'`` when some rows are unlabelled, whatever
    the networks; when every row has a label, ``'shared-m2'`` for fully connected
    networks and ``'m2'`` with a convolutional one (``conv``: ``architecture`` or
    ``classifier_architecture`` ``'conv'``; measured best there:
    docs/classifier.md). In ``partial_fit``: ``'m2'`` (a call is one pass over its
    rows at a constant step size, while the other models need every row at once).
    A continuing ``partial_fit`` with ``'auto'`` keeps the ``fitted`` model.
    """
    if isinstance(model, Recipe):
        if model.task != task:
            what = ("a model with a classifier q(y|x)" if task == "classification"
                    else "an unsupervised model")
            raise ValueError(f"model={model!r} is not {what} (its task is "
                             f"{model.task!r}).")
        recipe = clone(model)
        recipe.validate()
        return recipe
    if model == "auto":
        if fitted is not None:
            return clone(fitted)
        if task == "unsupervised":
            model = "vae"
        elif partial or (conv and not data.unlabelled):
            model = "m2"
        else:
            model = "shared-m2"
    fitting = sorted(name for name, r in MODELS.items() if r.task == task)
    if not isinstance(model, str) or model not in MODELS or MODELS[model].task != task:
        what = ("a model with a classifier q(y|x)" if task == "classification"
                else "an unsupervised model")
        raise ValueError(f"model={model!r} is not {what}; choose 'auto', one of {fitting}, "
                         "or pass a model object (a skvae.models.Recipe).")
    return clone(MODELS[model])


from . import m2, shared, stacked, vae, vampprior  # noqa: E402, F401  (the built-in models register themselves)

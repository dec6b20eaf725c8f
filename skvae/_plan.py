"""The fit plan: what one ``fit`` (or ``partial_fit`` call) will do, settled up front.

:func:`make_plan` turns an estimator's hyperparameters and the validated data into a
frozen :class:`FitPlan`: the model chosen, every ``'auto'`` resolved, and one
:class:`StagePlan` per network trained (M1 + M2 trains two). Building the modules, the
skorch nets and the training loop read only the plan; the estimators keep it as
``plan_`` so users can see what ``'auto'`` chose. ``partial_fit`` makes the plan again
from the current hyperparameters: :func:`check_same_structure` names any setting whose
change needs a new network.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

from ._threads import plan_threads, step_work
from .models import MODELS, UNLABELLED, resolve_model

__all__ = ["DataInfo", "FitPlan", "StagePlan", "check_same_structure", "make_plan",
           "resolve_architecture"]

#: StagePlan fields that shape a network: a change needs a new fit. The name of the
#: hyperparameter each comes from, for the error message.
STRUCTURE = {
    "n_components": "n_components", "hidden_layer_sizes": "hidden_layer_sizes",
    "architecture": "architecture", "classifier_architecture": "classifier_architecture",
    "image_shape": "image_shape", "encoder": "encoder", "decoder": "decoder",
    "likelihood": "likelihood",
}


def _same(a, b):
    """Whether two settings are the same (modules by identity, sequences by value)."""
    if a is b:
        return True
    if isinstance(a, torch.nn.Module) or isinstance(b, torch.nn.Module):
        return False
    try:
        return bool(np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object)))
    except (TypeError, ValueError):
        return False


def _short(value):
    """A setting as it reads in a plan's repr (modules and callables by their name)."""
    if isinstance(value, torch.nn.Module):
        return f"<{type(value).__name__} module>"
    if callable(value) and not isinstance(value, type):
        return f"<{getattr(value, '__name__', type(value).__name__)}>"
    if isinstance(value, type):
        return f"<{value.__name__}>"
    return repr(value)


@dataclass(frozen=True)
class DataInfo:
    """What the plan needs to know of the training data."""

    n_rows: int
    n_features: int
    classes: tuple | None = None  # the class labels (VAEClassifier), else None
    n_labelled: int | None = None  # rows with a label (VAEClassifier), else None

    @property
    def n_classes(self):
        return None if self.classes is None else len(self.classes)

    @property
    def unlabelled(self):
        """Whether some rows have no label (-1)."""
        return self.n_labelled is not None and self.n_labelled < self.n_rows


@dataclass(frozen=True)
class StagePlan:
    """One network trained by the fit: its shape, its loss weights and its training run.

    Every value is resolved (no ``'auto'``). ``encoder``/``decoder`` are the user's
    modules or factories (None: the architecture's).
    """

    name: str
    description: str
    n_components: int
    hidden_layer_sizes: tuple
    architecture: str
    likelihood: str
    loss_weights: tuple  # ((term, weight), ...)
    max_iter: int
    batch_size: int
    learning_rate: str
    learning_rate_init: float
    seed: int
    classifier_architecture: str | None = None
    image_shape: tuple | None = None
    encoder: object = None
    decoder: object = None
    beta_warmup: int = 0
    labelled_batch_size: int = 0
    weight_decay: float = 0.0
    early_stopping: bool = False
    validation_fraction: float = 0.1
    tol: float | None = None  # of the convergence check; None: not checked (e.g. M1)
    n_iter_no_change: int = 10
    user_callbacks: bool = True  # whether the user's callbacks run in this stage

    @property
    def weights(self):
        """The loss weights as a dict."""
        return dict(self.loss_weights)

    def lines(self):
        """The stage's settings, one ``'name: value'`` per line (for ``str(plan)``)."""
        out = []
        for f in dataclasses.fields(self):
            if f.name in ("name", "description"):
                continue
            value = getattr(self, f.name)
            if f.name == "loss_weights":
                text = ", ".join(f"{term}={weight:.4g}" for term, weight in value)
            else:
                text = _short(value)
            out.append(f"{f.name}: {text}")
        return out

    def brief(self):
        """``'M1 267 epochs x 128 rows'``, with the labelled top-up when there is one."""
        epochs = f"{self.max_iter} epoch{'s' * (self.max_iter != 1)}"
        rows = f"{self.batch_size} rows"
        if self.labelled_batch_size:
            rows += f" + {self.labelled_batch_size} labelled"
        return f"{self.name} {epochs} x {rows}"

    def __repr__(self):
        parts = [f"{f.name}={_short(getattr(self, f.name))}" for f in dataclasses.fields(self)
                 if f.name not in ("name", "description")]
        return f"{self.name} ({self.description}): " + ", ".join(parts)


@dataclass(frozen=True)
class FitPlan:
    """What a fit does: the model, the data's shape, the device and the stages.

    Attributes
    ----------
    model : str
        The model recipe's name in :data:`skvae.models.MODELS`.
    recipe : skvae.models.Recipe
        That recipe (kept with the fitted model, so it predicts without the table).
    data : DataInfo
    stages : tuple of StagePlan
        The networks trained, in order; the last one is the fitted ``net_``.
    device, precision, data_placement : str
        Resolved device; the forward pass's precision; where training data live.
    verbose : int
    partial : bool
        A ``partial_fit`` call (one epoch, constant step size, no early stopping).
    callbacks : tuple
        The user's skorch callbacks (copied into each net).
    n_threads : int or None
        torch's intra-op threads during the fit (the ``n_threads`` hyperparameter
        resolved, see :mod:`skvae._threads`); None: the process's setting, untouched.
        Set for the fit only: the process's own setting comes back afterwards.
    world_size, rank : int
        A data-parallel fit over ``world_size`` processes (torch.distributed, e.g.
        launched by ``torchrun``), of which this is process ``rank``; ``1, 0`` for
        a fit in one process. Each training batch of ``batch_size`` rows is shared
        among the processes; only rank 0 is ``verbose``.
    """

    model: str
    recipe: object = field(repr=False, compare=False)
    data: DataInfo = None
    stages: tuple = ()
    device: str = "cpu"
    precision: str = "32"
    data_placement: str = "auto"
    verbose: int = 0
    partial: bool = False
    callbacks: tuple = field(default=(), repr=False)
    world_size: int = 1
    rank: int = 0
    n_threads: int | None = None

    @property
    def final(self):
        """The stage whose net is the fitted ``net_``."""
        return self.stages[-1]

    def __repr__(self):
        d = self.data
        labels = ("" if d.classes is None
                  else f", classes={len(d.classes)}, n_labelled={d.n_labelled}")
        names = [_callback_name(item) for item in self.callbacks]
        head = (f"FitPlan(model={self.model!r}, n_rows={d.n_rows}, n_features={d.n_features}"
                f"{labels}, device={self.device!r}, n_threads={self.n_threads}, "
                f"world_size={self.world_size}, "
                f"rank={self.rank}, precision={self.precision!r}, "
                f"data_placement={self.data_placement!r}, verbose={self.verbose}, "
                f"partial={self.partial}, callbacks={names},")
        return "\n  ".join([head, *[repr(s) for s in self.stages]]) + ")"

    def _threads_text(self):
        from ._threads import process_threads

        if self.n_threads is None:
            n = process_threads()
            return f"{n} thread{'s' * (n != 1)} (torch's setting)"
        return f"{self.n_threads} thread{'s' * (self.n_threads != 1)}"

    def summary(self):
        """The plan in one line: model, stages, epochs, batch size, device, threads.

        What ``verbose=1`` prints before a fit (``verbose=2`` prints ``str(plan)``).

        Examples
        --------
        >>> import numpy as np
        >>> from skvae import VAETransformer
        >>> plan = make_plan(VAETransformer(random_state=0, device="cpu", n_threads=1),
        ...                  np.zeros((500, 64)), None, task="unsupervised")
        >>> print(plan.summary())
        skvae fit: model vae, 1 stage (VAE 100 epochs x 128 rows) on 500 rows, cpu, 1 thread
        """
        n = len(self.stages)
        stages = ", ".join(stage.brief() for stage in self.stages)
        mode = " (partial_fit)" if self.partial else ""
        world = f" x {self.world_size} processes" if self.world_size > 1 else ""
        return (f"skvae fit{mode}: model {self.model}, {n} stage{'s' * (n != 1)} "
                f"({stages}) on {self.data.n_rows} rows, {self.device}{world}, "
                f"{self._threads_text()}")

    def __str__(self):
        """Every setting of the plan, one per line (what ``verbose=2`` prints)."""
        d = self.data
        data = f"{d.n_rows} rows x {d.n_features} features"
        if d.classes is not None:
            data += f", {len(d.classes)} classes, {d.n_labelled} labelled"
        lines = [f"FitPlan: model {self.model!r}", f"  data: {data}",
                 f"  device: {self.device!r}", f"  n_threads: {self._threads_text()}",
                 f"  precision: {self.precision!r}",
                 f"  data_placement: {self.data_placement!r}",
                 f"  partial: {self.partial}", f"  verbose: {self.verbose}",
                 f"  callbacks: {[_callback_name(item) for item in self.callbacks]}"]
        if self.world_size > 1:
            lines.append(f"  world_size: {self.world_size} (this is rank {self.rank})")
        for number, stage in enumerate(self.stages, 1):
            lines.append(f"  stage {number} of {len(self.stages)}: {stage.name} "
                         f"({stage.description})")
            lines += [f"    {line}" for line in stage.lines()]
        return "\n".join(lines)


def _callback_name(item):
    if isinstance(item, tuple):
        return item[0]
    return (item if isinstance(item, type) else type(item)).__name__


def make_plan(estimator, X, targets, *, task, classes=None, partial=False, seed=None,
              fitted=None, device=None):
    """The :class:`FitPlan` of a fit of ``estimator`` on validated ``X`` and ``targets``.

    Parameters
    ----------
    estimator : BaseVAE
        Its hyperparameters are read (never changed).
    X : ndarray of shape (n_rows, n_features)
    targets : ndarray of shape (n_rows,) or None
        Encoded class indices with -1 for unlabelled rows (VAEClassifier), or None.
    task : {'unsupervised', 'classification'}
        What the estimator needs of the model.
    classes : sequence or None
        The class labels (VAEClassifier).
    partial : bool
        A ``partial_fit`` call.
    seed : int or None
        The fit's seed; None draws it from ``random_state``.
    fitted : FitPlan or None
        The plan of the fitted model a ``partial_fit`` call continues: ``'auto'`` then
        keeps its model.
    device : str or None
        The device of the fitted net a ``partial_fit`` call continues (it stays there);
        None resolves the ``device`` hyperparameter.
        In a process of a data-parallel fit (launched by ``torchrun``, or with a
        torch.distributed process group initialised) the device is that process's
        own (``skvae._devices.resolve_distributed``, which joins the group when
        needed), the seed is rank 0's, and the data must have the same shape in
        every process.

    Returns
    -------
    FitPlan

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> plan = make_plan(VAETransformer(random_state=0), np.zeros((500, 64)), None,
    ...                  task="unsupervised")
    >>> plan.model, plan.final.batch_size, plan.final.max_iter
    ('vae', 128, 100)
    """
    from ._devices import agree, resolve_distributed
    from ._train import seed_from

    # The hyperparameters, plus what an estimator's 'auto' training length aims at
    # (``_auto_training``: VAEOutlierDetector trains small data sets longer).
    params = resolve_architecture({**estimator.get_params(deep=False),
                                   **getattr(estimator, "_auto_training", {})})
    n_labelled = None if targets is None else int(np.sum(targets != UNLABELLED))
    data = DataInfo(len(X), X.shape[1], None if classes is None else tuple(classes),
                    n_labelled)
    model = params.get("model", "auto")
    if model == "auto" and fitted is not None:
        model = fitted.model
    model = resolve_model(model, task, data, partial,
                          conv="conv" in (params.get("architecture"),
                                          params.get("classifier_architecture")))
    device, world_size, rank = resolve_distributed(
        params["device"] if device is None else device, fitted=device is not None)
    seed = seed_from(params["random_state"]) if seed is None else seed
    if world_size > 1:
        seed = agree(seed, data, device)
        if data.n_rows < 2 * world_size:
            raise ValueError(
                f"A data-parallel fit over {world_size} processes needs at least "
                f"{2 * world_size} rows (two per process); X has {data.n_rows}."
            )
    recipe = MODELS[model]
    stages = recipe.stages(params, data, seed=seed, partial=partial)
    n_threads, wanted = None, params.get("n_threads", "auto")
    if wanted == "auto" and fitted is not None:  # partial_fit on: as the first call chose
        n_threads = getattr(fitted, "n_threads", None)
    elif not str(device).startswith("cuda") or wanted != "auto":
        n_threads = plan_threads(wanted, max(step_work(stage, data) for stage in stages))
    return FitPlan(
        model=model, recipe=recipe, data=data, stages=tuple(stages), device=device,
        precision=params["precision"], data_placement=params["data_placement"],
        verbose=int(params["verbose"]) if rank == 0 else 0, partial=partial,
        callbacks=tuple(params["callbacks"] or ()), world_size=world_size, rank=rank,
        n_threads=n_threads,
    )


def resolve_architecture(params):
    """``params`` with ``architecture='auto'`` resolved: ``'conv'`` for images, else ``'mlp'``.

    Images are rows with an ``image_shape``. Other values pass through unchanged.

    Examples
    --------
    >>> resolve_architecture({"architecture": "auto", "image_shape": (1, 8, 8)})["architecture"]
    'conv'
    >>> resolve_architecture({"architecture": "auto", "image_shape": None})["architecture"]
    'mlp'
    """
    if params.get("architecture") != "auto":
        return params
    images = params.get("image_shape") is not None
    return {**params, "architecture": "conv" if images else "mlp"}


def check_same_structure(old, new):
    """Raise ValueError naming the settings whose change needs a new network."""
    changed = []
    if old.model != new.model:
        changed.append("model")  # the stages then differ anyway
    elif old.data.n_features != new.data.n_features:
        changed.append("the number of features")
    for a, b in zip(old.stages, new.stages, strict=False) if not changed else ():
        for name, param in STRUCTURE.items():
            if not _same(getattr(a, name), getattr(b, name)) and param not in changed:
                changed.append(param)
    if changed:
        raise ValueError(
            f"{', '.join(changed)} changed since the model was fitted; partial_fit "
            "continues training the fitted network and cannot change its shape. "
            "Call fit to train a new model with the new settings."
        )

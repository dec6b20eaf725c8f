"""The types of a fit plan: what one ``fit`` (or ``partial_fit`` call) will do.

A leaf module: the plan (``skvae._plan``, which makes plans) and the model recipes
(:mod:`skvae.models`, which make their stages) both import it, and it imports neither.
Public as ``skvae.models.FitPlan``, ``skvae.models.StagePlan`` ...

- :class:`DataInfo`: what the plan knows of the training data;
- :class:`MachineInfo`: what it knows of the machine (gathered before planning);
- :class:`StagePlan`: one network trained, every ``'auto'`` resolved;
  :class:`ClassifierStage` adds what only a network with ``q(y | x)`` has;
- :class:`FitPlan`: the whole fit, kept by the estimators as ``plan_``.
"""

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["ClassifierStage", "DataInfo", "FitPlan", "MachineInfo", "StagePlan"]


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
    nbytes: int | None = None  # bytes of the rows in memory (None: read from disk)

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
    image_shape: tuple | None = None
    encoder: object = None
    decoder: object = None
    beta_warmup: int = 0
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

    #: Labelled rows added to each batch (a :class:`ClassifierStage` sets its own).
    labelled_batch_size = 0
    #: The network of q(y|x) (a :class:`ClassifierStage` sets its own).
    classifier_architecture = None

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
class ClassifierStage(StagePlan):
    """A :class:`~skvae.models.StagePlan` of a network that learns labels (classifiers).

    Adds what only a model with ``q(y | x)`` has: the network of its classifier and the
    labelled rows added to each batch.
    """

    classifier_architecture: str | None = None
    labelled_batch_size: int = 0


@dataclass(frozen=True)
class MachineInfo:
    """What the plan needs to know of the machine, gathered before planning.

    Made by ``skvae._plan.gather_machine`` (which joins a torch.distributed group
    when the process was launched into one and asks CUDA for its free memory), so that
    ``skvae._plan.make_plan`` itself starts nothing and talks to no other process.

    Attributes
    ----------
    device : str
        The resolved device of the fit.
    world_size, rank : int
        Processes of a data-parallel fit, and this one's rank (1, 0 alone).
    free_memory : int or None
        Free bytes of a CUDA device (None elsewhere): ``data_placement='auto'``.
    thread_limit : int
        torch's intra-op threads before the fit (``OMP_NUM_THREADS``, a joblib
        worker's limit or the user's ``torch.set_num_threads``): an upper bound of
        ``n_threads='auto'``.
    busy_cores : callable or None
        Returns how many cores other processes keep busy (a 0.1 s reading of
        ``/proc/stat``), or None when unknown. A reading, not a number: it is taken
        only when a plan needs it (a step large enough for more than one thread), so
        the many small fits of a grid search do not each wait for it.
    """

    device: str = "cpu"
    world_size: int = 1
    rank: int = 0
    free_memory: int | None = None
    thread_limit: int = 1
    busy_cores: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class FitPlan:
    """What a fit does: the model, the data's shape, the device and the stages.

    Attributes
    ----------
    model : str
        The model's name (a key of :data:`skvae.models.MODELS`, or the name of a
        model object's class).
    recipe : skvae.models.Recipe
        The model object with its settings: a copy of the ``model`` hyperparameter,
        or of the registered model of that name (kept with the fitted model, so it
        predicts without the table).
    data : DataInfo
    stages : tuple of StagePlan
        The networks trained, in order; the last one is the fitted ``net_``.
    device, precision, data_placement : str
        Resolved device; the forward pass's precision; where training data live
        (``'device'`` or ``'host'``: ``'auto'`` resolved from the data's size and the
        device's free memory).
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
        from .._threads import process_threads

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
        >>> from skvae._plan import plan_fit
        >>> plan = plan_fit(VAETransformer(random_state=0, device="cpu", n_threads=1),
        ...                 np.zeros((500, 64)), None, task="unsupervised")
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

    def _settings_lines(self):
        """The model object's own settings, one line (none when it has none)."""
        params = {} if self.recipe is None else self.recipe.get_params(deep=False)
        if not params:
            return []
        text = ", ".join(f"{name}={_short(value)}" for name, value in sorted(params.items()))
        return [f"  model settings: {text}"]

    def __str__(self):
        """Every setting of the plan, one per line (what ``verbose=2`` prints)."""
        d = self.data
        data = f"{d.n_rows} rows x {d.n_features} features"
        if d.classes is not None:
            data += f", {len(d.classes)} classes, {d.n_labelled} labelled"
        lines = [f"FitPlan: model {self.model!r}", *self._settings_lines(), f"  data: {data}",
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

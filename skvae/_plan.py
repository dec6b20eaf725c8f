"""Making the fit plan: what one ``fit`` (or ``partial_fit`` call) will do, settled up front.

:func:`make_plan` turns an estimator's hyperparameters, what it knows of the data
(:class:`~skvae.models.DataInfo`) and of the machine (:class:`~skvae.models.MachineInfo`)
into a frozen :class:`~skvae.models.FitPlan`: the model chosen, every ``'auto'``
resolved, and one :class:`~skvae.models.StagePlan` per network trained (M1 + M2 trains
two). It is a pure function: the facts that need the machine (joining a
torch.distributed group, agreeing on the seed, a device's free memory, the thread
limit) are gathered before it by :func:`plan_fit`, which is what the estimators call.
Building the modules, the skorch nets and the training loop read only the plan; the
estimators keep it as ``plan_`` so users can see what ``'auto'`` chose.
``partial_fit`` makes the plan again from the current hyperparameters:
:func:`check_same_structure` names any setting whose change needs a new network.

The plan's types live in :mod:`skvae.models.plan` (imported by the models too); they are
re-exported here.
"""

import numpy as np
import torch

from ._threads import busy_elsewhere, plan_threads, process_threads, step_work
from .models import UNLABELLED, resolve_model
from .models.plan import (
    ClassifierStage,
    DataInfo,
    FitPlan,
    MachineInfo,
    StagePlan,
    _same,
)

__all__ = ["ClassifierStage", "DataInfo", "FitPlan", "MachineInfo", "StagePlan",
           "check_same_structure", "gather_machine", "make_plan", "plan_fit",
           "resolve_architecture", "resolve_data_placement"]

#: StagePlan fields that shape a network: a change needs a new fit. The name of the
#: hyperparameter each comes from, for the error message.
STRUCTURE = {
    "n_components": "n_components", "hidden_layer_sizes": "hidden_layer_sizes",
    "architecture": "architecture", "classifier_architecture": "classifier_architecture",
    "image_shape": "image_shape", "encoder": "encoder", "decoder": "decoder",
    "likelihood": "likelihood",
}


def data_info(X, targets=None, classes=None):
    """The :class:`~skvae.models.DataInfo` of validated rows ``X`` (and encoded targets)."""
    n_labelled = None if targets is None else int(np.sum(targets != UNLABELLED))
    nbytes = X.nbytes if isinstance(X, np.ndarray) and not isinstance(X, np.memmap) else None
    return DataInfo(len(X), X.shape[1], None if classes is None else tuple(classes),
                    n_labelled, nbytes)


def gather_machine(device, fitted=False):
    """The :class:`~skvae.models.MachineInfo` of a fit on ``device`` (a hyperparameter).

    Resolves the device and, in a process launched into a data-parallel fit, joins the
    torch.distributed group (``skvae._devices.resolve_distributed``); reads a CUDA
    device's free memory and torch's thread count. ``fitted``: ``device`` is the one
    of a fitted net that a ``partial_fit`` call continues on.
    """
    from ._devices import resolve_distributed

    device, world_size, rank = resolve_distributed(device, fitted=fitted)
    free = None
    if str(device).startswith("cuda"):
        free = int(torch.cuda.mem_get_info(torch.device(device))[0])
    return MachineInfo(device=device, world_size=world_size, rank=rank, free_memory=free,
                       thread_limit=process_threads(), busy_cores=busy_elsewhere)


def plan_fit(estimator, X, targets, *, task, classes=None, partial=False, seed=None,
             fitted=None, device=None):
    """Gather the facts of a fit of ``estimator`` on validated ``X``, then plan it.

    What the estimators call: :func:`gather_machine`, the fit's seed (drawn from
    ``random_state``; in a data-parallel fit, rank 0's, after checking that every
    process holds data of the same shape), then :func:`make_plan`.

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
        The plan of the fitted model a ``partial_fit`` call continues.
    device : str or None
        The device of the fitted net a ``partial_fit`` call continues (it stays there);
        None resolves the ``device`` hyperparameter.

    Returns
    -------
    FitPlan

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> plan = plan_fit(VAETransformer(random_state=0), np.zeros((500, 64)), None,
    ...                 task="unsupervised")
    >>> plan.model, plan.final.batch_size, plan.final.max_iter
    ('vae', 128, 100)
    """
    from ._devices import agree
    from ._train import seed_from

    # The hyperparameters, plus what an estimator's 'auto' training length aims at
    # (``_auto_training``: VAEOutlierDetector trains small data sets longer).
    params = {**estimator.get_params(deep=False), **getattr(estimator, "_auto_training", {})}
    data = data_info(X, targets, classes)
    machine = gather_machine(params["device"] if device is None else device,
                             fitted=device is not None)
    seed = seed_from(params["random_state"]) if seed is None else seed
    if machine.world_size > 1:
        seed = agree(seed, data, machine.device)
    return make_plan(params, data, machine, task=task, seed=seed, partial=partial,
                     fitted=fitted)


def make_plan(params, data, machine, *, task, seed, partial=False, fitted=None):
    """The :class:`~skvae.models.FitPlan` of a fit: a pure function of what it is given.

    Parameters
    ----------
    params : dict
        The estimator's hyperparameters (``get_params(deep=False)``), read only.
    data : DataInfo
        The training data's facts (:func:`data_info`).
    machine : MachineInfo
        The machine's facts (:func:`gather_machine`).
    task : {'unsupervised', 'classification'}
    seed : int
        The fit's seed.
    partial : bool, default=False
        A ``partial_fit`` call.
    fitted : FitPlan or None
        The plan of the fitted model a ``partial_fit`` call continues: ``'auto'`` then
        keeps its model, and its thread count.

    Returns
    -------
    FitPlan

    Examples
    --------
    >>> from skvae import VAETransformer
    >>> from skvae.models import DataInfo, MachineInfo
    >>> plan = make_plan(VAETransformer().get_params(), DataInfo(500, 64, nbytes=128000),
    ...                  MachineInfo("cpu", thread_limit=1), task="unsupervised", seed=0)
    >>> plan.model, plan.final.max_iter, plan.n_threads, plan.data_placement
    ('vae', 100, 1, 'device')
    """
    params = resolve_architecture(params)
    world_size = machine.world_size
    if world_size > 1 and data.n_rows < 2 * world_size:
        raise ValueError(
            f"A data-parallel fit over {world_size} processes needs at least "
            f"{2 * world_size} rows (two per process); X has {data.n_rows}."
        )
    conv = "conv" in (params.get("architecture"), params.get("classifier_architecture"))
    recipe = resolve_model(params.get("model", "auto"), task, data, partial, conv=conv,
                           fitted=None if fitted is None else fitted.recipe)
    stages = recipe.stages(params, data, seed=seed, partial=partial)
    n_threads, wanted = None, params.get("n_threads", "auto")
    if wanted == "auto" and fitted is not None:  # partial_fit on: as the first call chose
        n_threads = getattr(fitted, "n_threads", None)
    elif not str(machine.device).startswith("cuda") or wanted != "auto":
        n_threads = plan_threads(wanted, max(step_work(stage, data) for stage in stages),
                                 sample=machine.busy_cores or (lambda: None),
                                 limit=machine.thread_limit)
    return FitPlan(
        model=recipe.model_name, recipe=recipe, data=data, stages=tuple(stages),
        device=machine.device, precision=params["precision"],
        data_placement=resolve_data_placement(params["data_placement"], data, machine),
        verbose=int(params["verbose"]) if machine.rank == 0 else 0, partial=partial,
        callbacks=tuple(params["callbacks"] or ()), world_size=world_size,
        rank=machine.rank, n_threads=n_threads,
    )


def resolve_data_placement(value, data, machine):
    """``data_placement`` resolved: ``'auto'`` is ``'host'`` for rows read from disk or
    rows over half a CUDA device's free memory, else ``'device'``.

    Examples
    --------
    >>> from skvae.models import DataInfo, MachineInfo
    >>> resolve_data_placement("auto", DataInfo(10, 2, nbytes=80), MachineInfo("cpu"))
    'device'
    >>> resolve_data_placement("auto", DataInfo(10, 2, nbytes=80),
    ...                        MachineInfo("cuda", free_memory=100))
    'host'
    """
    if value != "auto":
        return value
    if data.nbytes is None:  # on disk: read batch by batch, wherever the net is
        return "host"
    if machine.free_memory is not None and data.nbytes > machine.free_memory // 2:
        return "host"
    return "device"


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
    """Raise ValueError naming the settings whose change needs a new network.

    The estimator's (:data:`STRUCTURE`) and the model's own (its ``structure``, named
    ``model__<setting>``, as ``set_params`` takes them).
    """
    changed = []
    if old.model != new.model:
        changed.append("model")  # the stages then differ anyway
    elif old.data.n_features != new.data.n_features:
        changed.append("the number of features")
    if not changed:
        before, after = old.recipe.get_params(deep=False), new.recipe.get_params(deep=False)
        changed += [f"model__{name}" for name in new.recipe.structure
                    if not _same(before.get(name), after.get(name))]
    for a, b in zip(old.stages, new.stages, strict=False) if not changed else ():
        for name, param in STRUCTURE.items():
            if (not _same(getattr(a, name, None), getattr(b, name, None))
                    and param not in changed):
                changed.append(param)
    if changed:
        raise ValueError(
            f"{', '.join(changed)} changed since the model was fitted; partial_fit "
            "continues training the fitted network and cannot change its shape. "
            "Call fit to train a new model with the new settings."
        )

"""Training the stages of a fit plan: devices, seeds, the skorch net and the run.

This module is over 400 lines because the data-parallel part (the process group, the
agreement between processes, the DDP wrapping) lives beside the one-process training
it extends.

One function builds a stage's net (:func:`new_net`) and one applies a plan to a fitted
net (:func:`configure`), both from :func:`net_settings`, so ``partial_fit`` runs with
exactly the settings a ``fit`` would (precision, callbacks, step size, ...).
:func:`train` runs a stage: seeded, stopped cleanly by Ctrl-C, checked for divergence.

Data-parallel fits (torch.distributed): :func:`resolve_distributed` finds the
processes of a fit (a process group already initialised, or the variables ``torchrun``
sets, in which case it initialises torch's default group), :func:`agree` makes every
process use rank 0's seed and checks they hold the same data, and :func:`data_parallel`
wraps a net's module in ``DistributedDataParallel`` while it trains. The batches are
shared among the processes by :class:`skvae._net.BatchIterator`.

The module is over 400 lines because the data-parallel setup (finding the processes,
their devices and the agreed seed) belongs with the devices and seeds of one-process
fits, with their documentation.
"""

import contextlib
import copy
import multiprocessing
import os
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from skorch.callbacks import EarlyStopping, LRScheduler

from ._net import RandomSplit, VAENet, WeightWarmup
from ._progress import Progress

__all__ = ["agree", "configure", "data_parallel", "distributed_env", "new_net",
           "resolve_device", "resolve_distributed", "seed_from", "seeded", "share_buffers",
           "train"]

#: Name of the step-size schedule's callback in a net, and of its column in the history.
SCHEDULE = "lr_schedule"


def resolve_device(device):
    """Turn a ``device`` hyperparameter into a torch device string, or raise ValueError.

    Parameters
    ----------
    device : str
        ``'auto'`` (CUDA when available, else Apple's MPS when available, else CPU),
        ``'cpu'``, ``'cuda'``, ``'cuda:N'`` or ``'mps'``.

    Returns
    -------
    str

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(
            f"device={device!r} is not a device skvae can use; pass 'auto', 'cpu', "
            "'cuda', 'cuda:N' (N the GPU index) or 'mps' (Apple GPUs)."
        )
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            f"device={device!r} was requested but Apple's MPS backend is not available "
            "here (torch.backends.mps.is_available() is False). Use device='cpu', or "
            "device='auto' to take a GPU only when there is one."
        )
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available here "
                "(torch.cuda.is_available() is False). Use device='cpu', or device='auto' "
                "to take a GPU only when there is one."
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"device={device!r} names GPU {parsed.index} but this machine has {count} "
                f"(indices 0 to {count - 1})."
            )
    return str(parsed)


def distributed_env():
    """The processes of a data-parallel fit: ``(world_size, rank, local_rank)``.

    From torch's default process group when one is initialised, else from the
    variables ``torchrun`` sets (``WORLD_SIZE > 1``, ``RANK``, ``LOCAL_RANK``), else
    ``(1, 0, None)``: a fit in one process. A process that a torchrun process started
    (a joblib or multiprocessing worker) inherits those variables but not the group:
    it fits on its own. ``local_rank`` is None when unknown (a group initialised
    without ``LOCAL_RANK`` in the environment).

    Returns
    -------
    world_size : int
    rank : int
    local_rank : int or None

    Examples
    --------
    >>> distributed_env()  # a plain Python process
    (1, 0, None)
    """
    dist = torch.distributed
    local = os.environ.get("LOCAL_RANK")
    local = int(local) if local not in (None, "") else None
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size(), dist.get_rank(), local
    world = int(os.environ.get("WORLD_SIZE") or 1)
    if (world > 1 and "RANK" in os.environ and dist.is_available()
            and multiprocessing.parent_process() is None):
        return world, int(os.environ["RANK"]), 0 if local is None else local
    return 1, 0, None


def resolve_distributed(device, fitted=False):
    """A fit's ``(device, world_size, rank)``, joining torch.distributed when launched so.

    In one process this is ``(resolve_device(device), 1, 0)``. In a data-parallel fit
    (see :func:`distributed_env`) each process trains on its own device: with CUDA,
    GPU ``LOCAL_RANK`` (``device='auto'`` or ``'cuda'``; another ``'cuda:N'`` is an
    error), else the CPU. When no process group is initialised yet (a script started
    by ``torchrun``), torch's default group is initialised here from the environment
    (``init_process_group``: nccl for CUDA tensors, gloo for CPU ones) and kept for
    the process's later fits.

    Parameters
    ----------
    device : str
        The ``device`` hyperparameter, or the device of a fitted net.
    fitted : bool, default=False
        ``device`` is a fitted net's (a ``partial_fit`` call): in one process it is
        kept as it is.

    Returns
    -------
    device : str
    world_size : int
    rank : int

    Examples
    --------
    >>> resolve_distributed("cpu")  # a plain Python process
    ('cpu', 1, 0)
    """
    world, rank, local = distributed_env()
    if world == 1:
        return (str(device) if fitted else resolve_device(device)), 1, 0
    dist = torch.distributed
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    parsed = torch.device(resolve_device(device))
    if parsed.type == "mps":
        raise ValueError(
            f"device={device!r}: a data-parallel fit (torch.distributed, {world} "
            "processes) runs on CUDA GPUs or on CPUs; Apple's MPS backend is not "
            "supported. Use device='cpu', or launch a single process."
        )
    if parsed.type == "cuda":
        if local is None:
            local = torch.cuda.current_device() if parsed.index is None else parsed.index
        if parsed.index is not None and parsed.index != local:
            raise ValueError(
                f"device={device!r} contradicts LOCAL_RANK={local}: in a data-parallel "
                f"fit each process trains on its own GPU, cuda:LOCAL_RANK (here "
                f"cuda:{local}). Pass device='cuda' or 'auto', or launch the process "
                "with the LOCAL_RANK of that GPU (CUDA_VISIBLE_DEVICES selects GPUs)."
            )
        parsed = torch.device("cuda", local)
        torch.cuda.set_device(parsed)
    if not dist.is_initialized():
        dist.init_process_group(
            backend="cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")
    elif parsed.type == "cpu" and dist.get_backend() == "nccl":
        raise ValueError(
            f"device={device!r}: the process group was initialised with the nccl "
            "backend, which only exchanges CUDA tensors. Train on the GPUs "
            "(device='cuda'), or initialise the group with backend='gloo' (or "
            "'cpu:gloo,cuda:nccl') for CPU training."
        )
    return str(parsed), world, rank


def agree(seed, data, device):
    """Rank 0's ``seed``, after checking every process holds data of the same shape.

    A data-parallel fit needs the same rows, in the same order, in every process, and
    the same seed (``random_state=None`` draws a different one in each). This checks
    the rows, features and labelled rows of ``data`` (a
    :class:`~skvae._plan.DataInfo`) against every other process's, raising the same
    ValueError in all of them when they differ, and returns rank 0's seed.

    Parameters
    ----------
    seed : int
        This process's seed.
    data : DataInfo
    device : str
        The fit's device (where nccl needs the exchanged tensor to be).

    Returns
    -------
    int
    """
    dist = torch.distributed
    where = device if str(device).startswith("cuda") and dist.get_backend() != "gloo" else "cpu"
    mine = torch.tensor([seed, data.n_rows, data.n_features,
                         -1 if data.n_labelled is None else data.n_labelled],
                        dtype=torch.int64, device=where)
    every = [torch.zeros_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(every, mine)
    shapes = [tuple(t[1:].tolist()) for t in every]
    if len(set(shapes)) > 1:
        raise ValueError(
            "The processes of a data-parallel fit hold different data (rows, features, "
            f"labelled rows by rank: {shapes}). Every process must pass the same X (and "
            "y) to fit, in the same order: each trains on its share of every batch."
        )
    return int(every[0][0])


@contextlib.contextmanager
def data_parallel(net, plan):
    """Wrap ``net.module_`` in ``DistributedDataParallel`` inside the block.

    Does nothing in a one-process fit. ``DistributedDataParallel`` copies rank 0's
    weights to every process when it wraps the module and averages the gradients
    over the processes in every backward pass. When the block ends (also on error)
    the plain module is put back and the net's ``world_size`` and ``rank`` are reset
    to 1 and 0, so the fitted net predicts, pickles and trains on without
    torch.distributed (``plan_`` keeps the record of the processes).
    """
    if plan.world_size == 1:
        yield net
        return
    from torch.nn.parallel import DistributedDataParallel

    module = net.module_
    device = torch.device(net.device)
    # No buffer exchange in forward passes: processes may run different numbers of
    # them (validation), and the buffers of skvae's modules (M1 + M2's
    # standardisation) are fixed and the same in every process.
    net.module_ = DistributedDataParallel(
        module, device_ids=[device.index] if device.type == "cuda" else None,
        forward_sync_buffers=False)
    try:
        yield net
    finally:
        net.module_ = module
        net.world_size, net.rank = 1, 0


def share_buffers(module):
    """Copy rank 0's buffers (e.g. a user's BatchNorm statistics) to every process.

    ``DistributedDataParallel`` keeps the parameters the same in every process; the
    buffers a module updates itself while training (running statistics) follow each
    process's own shards, so they are made rank 0's at the end of the run.
    """
    dist = torch.distributed
    gloo = dist.get_backend() == "gloo"  # exchanges CPU tensors (nccl: CUDA ones)
    for buffer in module.buffers():
        where = buffer.cpu() if gloo else buffer
        dist.broadcast(where, src=0)
        if where is not buffer:
            buffer.copy_(where)


def seed_from(random_state):
    """A fit's torch seed from a ``random_state`` (int, RandomState or None)."""
    return int(check_random_state(random_state).randint(2**31 - 1))


@contextlib.contextmanager
def seeded(seed, device):
    """Seed torch for a block without touching the caller's global RNG state."""
    devices = []
    device = str(device)  # skorch may hold a torch.device (e.g. after unpickling)
    if device.startswith("cuda"):
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _fused_adam_ok(device):
    """Whether ``torch.optim.AdamW(fused=True)`` runs on ``device`` in this torch."""
    try:
        torch.optim.AdamW([torch.zeros(1, device=device, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return None  # torch's default choice (foreach where it can)
    return True


def _callbacks(stage, plan):
    """The skorch callbacks of a stage's net (the user's deep-copied: never changed)."""
    callbacks = [("kl_warmup", WeightWarmup("kl", stage.weights.get("kl", 1.0),
                                            stage.beta_warmup))]
    if stage.learning_rate == "cosine":
        # Stepped after each epoch: epoch e (0-based) of max_iter runs at
        # learning_rate_init * (1 + cos(pi * e / max_iter)) / 2, recorded as 'lr'.
        callbacks.append((SCHEDULE, LRScheduler(
            torch.optim.lr_scheduler.CosineAnnealingLR, T_max=stage.max_iter,
            event_name="lr")))
    # Progress on the console (verbose) and the 'skvae' logger (always), in place of
    # skorch's ProgressBar and PrintLog table; a stage of several is numbered.
    number = plan.stages.index(stage) + 1
    progress = Progress(stage.name, stage.max_iter, verbose=plan.verbose,
                        description=(f"stage {number} of {len(plan.stages)}: "
                                     f"{stage.description}" if len(plan.stages) > 1 else None))
    callbacks.append(("progress", progress))
    if stage.early_stopping or stage.tol is not None:
        callbacks.append((
            "early_stopping",
            EarlyStopping(
                monitor="valid_loss" if stage.early_stopping else "train_loss",
                patience=stage.n_iter_no_change, load_best=stage.early_stopping,
                **({} if stage.tol is None
                   else {"threshold": stage.tol, "threshold_mode": "abs"}),
                sink=progress.say,
            ),
        ))
    if stage.user_callbacks:
        callbacks += copy.deepcopy(list(plan.callbacks))
    return callbacks


def net_settings(stage, plan):
    """Every setting of a stage's net that a plan decides (all but the module)."""
    return dict(
        loss_weights=stage.weights,
        lr=stage.learning_rate_init,
        optimizer__weight_decay=stage.weight_decay,
        precision=plan.precision,
        data_placement=plan.data_placement,
        max_epochs=stage.max_iter,
        batch_size=stage.batch_size,
        train_split=(
            RandomSplit(stage.validation_fraction,
                        stratify=plan.recipe.task == "classification")
            if stage.early_stopping else None
        ),
        callbacks=_callbacks(stage, plan),
        verbose=int(plan.verbose),
        world_size=plan.world_size,
        rank=plan.rank,
        seed=stage.seed,
        **plan.recipe.iterator_params(stage),
    )


def new_net(module, stage, plan):
    """A new, initialised :class:`~skvae._net.VAENet` training ``module`` for ``stage``."""
    net = VAENet(
        module,
        optimizer=torch.optim.AdamW,
        # One fused kernel per step instead of one per parameter and moment:
        # ~0.8x the epoch time of the default Adam on CPU (benchmarks/bench_speed.py).
        optimizer__fused=_fused_adam_ok(plan.device),
        device=plan.device,
        callbacks__print_log=None,  # Progress reports each epoch
        **net_settings(stage, plan),
    )
    net.initialize()
    return net


def configure(net, stage, plan):
    """Apply ``plan`` to a fitted net that trains on (``partial_fit``): all it can change."""
    settings = net_settings(stage, plan)
    net.set_params(lr=settings.pop("lr"), batch_size=settings.pop("batch_size"),
                   optimizer__weight_decay=settings.pop("optimizer__weight_decay"))
    net.loss_weights = settings.pop("loss_weights")
    for name, value in settings.items():
        setattr(net, name, value)
    net.initialize_callbacks()


def train(net, inputs, targets, stage, plan, start=0, final=True):
    """Train ``net`` for ``stage.max_iter`` epochs from epoch ``start`` (all or nothing).

    Ctrl-C before an epoch of this call ends, or during a stage that is not the
    ``final`` one, raises KeyboardInterrupt (the estimator then stays as it was);
    later in the final stage it stops with a warning, keeping the weights reached.
    """
    try:
        with seeded(stage.seed + start, net.device), data_parallel(net, plan):
            net.partial_fit(inputs, targets, epochs=stage.max_iter)
    except KeyboardInterrupt:
        if not stopped_early(net):  # skorch's EarlyStopping stops this way too
            done = [row for row in net.history[start:] if "train_loss" in row]
            if not done or not final:
                raise
            del net.history[start + len(done):]
            warnings.warn(
                f"Training interrupted by user after {len(done)} epoch(s); the model keeps "
                "the weights reached so far.", UserWarning, stacklevel=5,
            )
    if plan.world_size > 1:
        share_buffers(net.module_)
    if not all(torch.isfinite(p).all() for p in net.module_.parameters()):
        raise FloatingPointError(
            f"Training {stage.name} produced non-finite weights: training diverged. Lower "
            "learning_rate_init (e.g. by a factor of 10) or check the input scaling."
        )
    run = len(net.history) - start
    if (stage.tol is not None and not plan.partial and run == stage.max_iter
            and not stopped_early(net)):
        warnings.warn(
            f"Stopped at max_iter={stage.max_iter} epochs while the loss still improved "
            f"by more than tol={stage.tol} per epoch: the model has not converged. "
            "Raise max_iter (or tol).", ConvergenceWarning, stacklevel=5,
        )
    return net


def stopped_early(net):
    """Whether skorch's EarlyStopping ended the run."""
    stopper = dict(net.callbacks_).get("early_stopping")
    return stopper is not None and stopper.misses_ >= stopper.patience

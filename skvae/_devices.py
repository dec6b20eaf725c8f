"""Devices and processes: which device a fit trains on, and data-parallel fits.

:func:`resolve_device` turns the ``device`` hyperparameter into a torch device.
Data-parallel fits (torch.distributed): :func:`resolve_distributed` finds the processes
of a fit (a process group already initialised, or the variables ``torchrun`` sets, in
which case it initialises torch's default group), :func:`agree` makes every process use
rank 0's seed and checks they hold the same data, :func:`data_parallel` wraps a net's
module in ``DistributedDataParallel`` while it trains and :func:`share_buffers` leaves
every process with rank 0's buffers. The batches are shared among the processes by
:class:`skvae._batches.BatchIterator`.
"""

import contextlib
import multiprocessing
import os

import torch

__all__ = ["agree", "data_parallel", "distributed_env", "resolve_device",
           "resolve_distributed", "share_buffers"]


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

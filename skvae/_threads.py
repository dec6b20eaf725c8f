"""Threads as a planned setting: how many intra-op threads a fit uses, and setting them.

torch runs each operation on a pool of threads (``torch.set_num_threads``): one size per
calling thread in an OpenMP build (the usual one), one for the process otherwise. Its
default, one thread per core, suits large operations on an idle machine. skvae's
networks are small: a step of a few million multiply-adds gains little from a second
thread, and beside other work on the same cores the threads wait for each other (a
thread spins at a barrier while its partner is descheduled): on a busy 2-core machine
fits with torch's default were measured 7 to 80 times slower than with one thread.

:func:`plan_threads` resolves the ``n_threads`` hyperparameter for a fit plan:

- a number is used as it is;
- ``None`` leaves the process's setting alone;
- ``'auto'`` takes one thread for a step of little work (:data:`MIN_PARALLEL_WORK`);
  else one per core that no other process keeps busy, niced ones included where they
  compete with ours (sampled from ``/proc/stat`` over :data:`SAMPLE_SECONDS` when the
  fit is planned), never more than the process's own limit
  (``torch.get_num_threads()`` before the fit: ``OMP_NUM_THREADS``, a joblib or Dask
  worker's limit, or the user's ``torch.set_num_threads`` stay an upper bound).

:func:`using_threads` sets the count for the duration of a fit, under a lock; the
setting before it comes back when the last running fit ends. Under OpenMP each thread
keeps its own count (fits in several threads do not disturb each other); with a
process-wide pool, fits running at once share it (the last one started sets it) and
the process's setting comes back when the last of them ends.
"""

import contextlib
import math
import os
import threading
import time

import torch

__all__ = ["MIN_PARALLEL_WORK", "plan_threads", "process_threads", "step_work",
           "using_threads"]

#: Multiply-adds per training step (forward and backward) below which one thread is
#: planned: a step this small is over before a second thread pays for waking it.
MIN_PARALLEL_WORK = 20e6

#: How long ``'auto'`` watches the cores to count those other processes keep busy.
SAMPLE_SECONDS = 0.1

_lock = threading.Lock()
_states = {}  # scope -> {"running": fits in it now, "saved": its setting before them}


def _per_thread():
    """Whether torch's thread count belongs to each thread (OpenMP) or to the process."""
    try:
        return "OpenMP" in torch.__config__.parallel_info()
    except Exception:  # pragma: no cover - an unusual build: assume the process
        return False


_PER_THREAD = _per_thread()


def _scope():
    """Who shares a thread setting: this thread under OpenMP, else the whole process."""
    return threading.get_ident() if _PER_THREAD else None


def process_threads():
    """The intra-op thread count before any running fit (of this thread, under OpenMP).

    Examples
    --------
    >>> import torch
    >>> process_threads() == torch.get_num_threads()  # no fit running
    True
    """
    with _lock:
        state = _states.get(_scope())
        saved = state["saved"] if state else None
    return torch.get_num_threads() if saved is None else saved


def _cores():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _cpu_times():
    """``(busy, busy_niced, total, n_cpus)`` of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        lines = f.read().splitlines()
    fields = [int(v) for v in lines[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    n_cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    busy = user + system + irq + softirq + steal
    return busy, nice, busy + nice + idle + iowait, max(n_cpus, 1)


def _niced_work_competes():
    """Whether other processes' niced work takes our cores' time as if it were not niced.

    A niced process yields its core to ours only when the scheduler weighs the two
    against each other: not under Linux's autogroup scheduling (on by default on many
    distributions), which shares the cores between sessions first, whatever their nice
    values (a niced job started from another terminal then takes a whole core's share),
    and not when this process is niced itself. Only autogroup read as off
    (``/proc/sys/kernel/sched_autogroup_enabled`` is 0) with this process not niced
    leaves niced work out.
    """
    try:
        if os.nice(0) > 0:
            return True
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            return f.read().strip() != "0"
    except (OSError, AttributeError):
        return True  # unknown: count it (too few threads cost far less than too many)


def busy_elsewhere(seconds=SAMPLE_SECONDS):
    """Cores kept busy by other processes over ``seconds`` (a float), or None if unknown.

    Other processes' CPU time on the whole machine, our own process's taken out; their
    niced work too where it competes with ours (``_niced_work_competes``). Beside
    one busy niced job of another session (nice 10, autogroup on) on 2 cores, a conv fit
    (``benchmarks/bench_threads.py``, conv4k) took 143 to 148 s on 2 threads against
    26 to 28 s on one: each slice the job gets stalls the fit's thread on that core
    while its partner spins at the next barrier. Beside niced loops of the fit's own
    session, which do yield, 2 threads took 21.5 s and one 27.6 to 31.0 s: counting
    niced work that yields costs up to the second thread's gain; leaving out niced
    work that does not yield cost 5x here.
    """
    try:
        before, own_before, start = _cpu_times(), time.process_time(), time.monotonic()
        time.sleep(seconds)
        after, own_after, end = _cpu_times(), time.process_time(), time.monotonic()
    except (OSError, ValueError, IndexError):
        return None  # not Linux, or no /proc
    total = after[2] - before[2]
    if total <= 0:
        return None
    busy = (after[0] - before[0]) + ((after[1] - before[1]) if _niced_work_competes() else 0)
    others = busy / total * after[3] - (own_after - own_before) / max(end - start, 1e-9)
    return max(others, 0.0)


def _layers_work(widths):
    return sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=False))


def step_work(stage, data):
    """Rough multiply-adds of one training step of ``stage`` (forward and backward).

    Counts the fully connected layers of encoder and decoder (and a classifier body for
    a classification model) and, for a conv network, its two 3 x 3 stride-2
    convolutions and their mirror in the decoder; times the rows of a step (with the
    labelled top-up) and 3 for the backward pass. It orders settings by cost; it is not
    a measurement.

    Examples
    --------
    >>> from skvae import VAETransformer
    >>> from skvae._plan import plan_fit
    >>> import numpy as np
    >>> plan = plan_fit(VAETransformer(), np.zeros((1797, 64)), None, task="unsupervised")
    >>> f"{step_work(plan.final, plan.data) / 1e6:.0f} M"
    '27 M'
    """
    n, hidden, k = data.n_features, list(stage.hidden_layer_sizes), stage.n_components
    n_in = n
    conv = 0
    shape = stage.image_shape
    if "conv" in (stage.architecture, stage.classifier_architecture) and shape is not None:
        c, h, w = shape
        h1, w1, h2, w2 = math.ceil(h / 2), math.ceil(w / 2), math.ceil(h / 4), math.ceil(w / 4)
        conv = 2 * (h1 * w1 * 32 * 9 * c + h2 * w2 * 64 * 9 * 32)
        n_in = 64 * h2 * w2
    classes = data.n_classes or 0
    per_row = (conv + _layers_work([n_in, *hidden, 2 * k])
               + _layers_work([k + classes, *hidden[::-1], n]))
    if classes:
        per_row += _layers_work([n_in, *hidden, classes])
    rows = stage.batch_size + (stage.labelled_batch_size or 0)
    return 3.0 * per_row * rows


def plan_threads(n_threads, work, sample=busy_elsewhere, limit=None):
    """The intra-op thread count of a fit: ``n_threads`` resolved (see the module doc).

    Parameters
    ----------
    n_threads : int, 'auto' or None
        The hyperparameter.
    work : float
        Multiply-adds per training step (:func:`step_work`; the largest stage's).
    sample : callable
        Returns the cores busy with other processes (or None when unknown).
    limit : int or None
        The process's thread limit (:func:`process_threads`, read now when None).

    Returns
    -------
    int or None
        None: the process's setting is left as it is.

    Examples
    --------
    >>> plan_threads(3, 1e3)
    3
    >>> plan_threads("auto", 1e3)  # a tiny step: one thread
    1
    >>> plan_threads(None, 1e9) is None
    True
    """
    if n_threads is None or n_threads != "auto":
        return None if n_threads is None else int(n_threads)
    limit = process_threads() if limit is None else limit
    if work < MIN_PARALLEL_WORK or limit <= 1:
        return 1
    busy = sample()
    free = _cores() if busy is None else _cores() - math.ceil(busy - 0.25)
    return max(1, min(limit, free))


@contextlib.contextmanager
def using_threads(n_threads):
    """Run a block with ``n_threads`` intra-op threads (None: as they are), then restore.

    The process's setting is saved when the first of the fits running at once starts
    and restored when the last one ends, under a lock, so nothing leaks however the
    block ends (an error, Ctrl-C).

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with using_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    scope = _scope()
    with _lock:
        state = _states.setdefault(scope, {"running": 0, "saved": None})
        if state["running"] == 0:
            state["saved"] = torch.get_num_threads()
        state["running"] += 1
        if n_threads is not None and torch.get_num_threads() != n_threads:
            torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        with _lock:
            state["running"] -= 1
            if state["running"] == 0:
                if torch.get_num_threads() != state["saved"]:
                    torch.set_num_threads(state["saved"])
                del _states[scope]

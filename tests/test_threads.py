"""Threads as a planned setting (issue 30.1): resolved in plan_, set for the fit only."""

import threading

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skvae import VAEClassifier, VAETransformer
from skvae._compat import InvalidParameterError
from skvae._plan import plan_fit
from skvae._threads import plan_threads, step_work, using_threads

TINY = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=2, device="cpu",
            random_state=0, tol=None)


class RecordThreads(Callback):
    """Records torch's thread count at each epoch's end (in a list shared by its copies)."""

    def __init__(self, seen):
        self.seen = seen

    def __deepcopy__(self, memo):  # skvae deep-copies user callbacks: keep the list
        return RecordThreads(self.seen)

    def on_epoch_end(self, net, **kwargs):
        self.seen.append(torch.get_num_threads())


class Boom(Callback):
    def on_epoch_end(self, net, **kwargs):
        raise RuntimeError("boom")


@pytest.fixture
def two_threads():
    """The process set to 2 threads (as torch's default on 2 cores), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("n_threads, during, planned", [(1, 1, 1), (3, 3, 3), (None, 2, None)])
def test_fit_uses_the_planned_threads_and_restores_them(X300, two_threads, n_threads,
                                                        during, planned):
    seen = []
    vae = VAETransformer(n_threads=n_threads, callbacks=[RecordThreads(seen)], **TINY)
    vae.fit(X300)
    assert vae.plan_.n_threads == planned
    assert seen == [during, during]
    assert torch.get_num_threads() == 2  # the process's setting is back
    vae.transform(X300[:5])
    assert torch.get_num_threads() == 2


def test_auto_takes_one_thread_for_a_small_step(X300, two_threads):
    seen = []
    clf = VAEClassifier(callbacks=[RecordThreads(seen)], **TINY).fit(X300, np.arange(300) % 3)
    work = step_work(clf.plan_.final, clf.plan_.data)
    assert work < 20e6
    assert clf.plan_.n_threads == 1 and set(seen) == {1}
    assert torch.get_num_threads() == 2
    assert "n_threads: 1 thread" in str(clf.plan_)
    assert clf.plan_.summary().endswith(", cpu, 1 thread")


def test_threads_are_restored_when_the_fit_fails(X300, two_threads):
    vae = VAETransformer(n_threads=1, callbacks=[Boom()], **TINY)
    with pytest.raises(RuntimeError, match="boom"):
        vae.fit(X300)
    assert torch.get_num_threads() == 2


def test_auto_counts_free_cores_and_keeps_the_process_limit(monkeypatch):
    from skvae import _threads

    monkeypatch.setattr(_threads, "_cores", lambda: 4)
    big = 1e9
    monkeypatch.setattr(_threads, "process_threads", lambda: 4)
    assert plan_threads("auto", big, sample=lambda: 0.0) == 4  # idle: a thread per core
    assert plan_threads("auto", big, sample=lambda: 2.0) == 2  # two cores busy elsewhere
    assert plan_threads("auto", big, sample=lambda: 3.9) == 1  # every core busy: one
    assert plan_threads("auto", big, sample=lambda: None) == 4  # unknown load: the cores
    assert plan_threads("auto", 1e5, sample=lambda: 0.0) == 1  # a small step: one
    # A joblib or Dask worker limited to one thread (or OMP_NUM_THREADS=1) stays there.
    monkeypatch.setattr(_threads, "process_threads", lambda: 1)
    assert plan_threads("auto", big, sample=lambda: 0.0) == 1
    # The user's number and None are taken as they are.
    assert plan_threads(6, big, sample=lambda: 3.9) == 6
    assert plan_threads(None, big) is None


def test_busy_elsewhere_counts_niced_work_that_competes(monkeypatch):
    """A niced busy process of another session counts under autogroup scheduling: it
    takes its core's share whatever its nice value."""
    import time

    from skvae import _threads

    # /proc/stat over the sample, 2 cores: 100 of 1,000 ticks at normal priority and
    # 800 niced, from other processes (this process used no CPU time meanwhile).
    samples = iter([(1000, 5000, 20000, 2), (1100, 5800, 21000, 2)])
    monkeypatch.setattr(_threads, "_cpu_times", lambda: next(samples))
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    monkeypatch.setattr(time, "process_time", lambda: 3.0)
    monkeypatch.setattr(_threads, "_niced_work_competes", lambda: True)  # autogroup on
    assert _threads.busy_elsewhere() == pytest.approx(1.8)
    # Where niced work yields to ours (autogroup off, this process not niced), it is
    # left out.
    samples = iter([(1000, 5000, 20000, 2), (1100, 5800, 21000, 2)])
    monkeypatch.setattr(_threads, "_niced_work_competes", lambda: False)
    assert _threads.busy_elsewhere() == pytest.approx(0.2)
    # One niced busy job elsewhere on 2 cores: 'auto' takes one thread.
    monkeypatch.setattr(_threads, "_cores", lambda: 2)
    monkeypatch.setattr(_threads, "process_threads", lambda: 2)
    assert plan_threads("auto", 1e9, sample=lambda: 0.95) == 1


def test_step_work_orders_the_settings():
    X = np.zeros((4000, 784), dtype=np.float32)

    def work(**params):
        plan = plan_fit(VAETransformer(device="cpu", **params), X, None, task="unsupervised")
        return step_work(plan.final, plan.data)

    assert work(architecture="conv") > work() > work(hidden_layer_sizes=(16,))
    assert work(batch_size=512) == 2 * work(batch_size=256)


def test_overlapping_fits_restore_the_setting_when_the_last_ends(two_threads):
    from skvae import _threads

    first_in, second_done = threading.Event(), threading.Event()
    seen = {}

    def first():
        with using_threads(1):
            first_in.set()
            second_done.wait(10)
            seen["first"] = torch.get_num_threads()
        seen["first after"] = torch.get_num_threads()

    worker = threading.Thread(target=first)
    worker.start()
    first_in.wait(10)
    with using_threads(3):
        seen["second"] = torch.get_num_threads()
    if _threads._PER_THREAD:  # OpenMP: each thread has its own setting
        assert torch.get_num_threads() == 2
    else:  # one pool: the first fit still runs, nothing restored yet
        assert torch.get_num_threads() == 3
    second_done.set()
    worker.join(10)
    assert seen["second"] == 3
    assert seen["first"] == (1 if _threads._PER_THREAD else 3)
    assert torch.get_num_threads() == 2
    assert not _threads._states  # nothing left behind


@pytest.mark.parametrize("bad", [0, -1, "many", 1.5])
def test_n_threads_is_validated(X300, bad):
    with pytest.raises(InvalidParameterError, match="n_threads"):
        VAETransformer(n_threads=bad, **TINY).fit(X300)


def test_partial_fit_keeps_the_first_calls_count(X300, monkeypatch):
    from skvae import _threads

    vae = VAETransformer(**TINY).partial_fit(X300)
    first = vae.plan_.n_threads

    def sampled(*args, **kwargs):
        raise AssertionError("a continuing partial_fit planned its threads again")

    monkeypatch.setattr(_threads, "plan_threads", sampled)
    monkeypatch.setattr("skvae._plan.plan_threads", sampled)
    assert vae.partial_fit(X300).plan_.n_threads == first

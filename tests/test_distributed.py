"""Data-parallel fits on torch.distributed: sharded batches, DDP gradients, same weights.

The multi-process checks run once, in two gloo processes started by torch.multiprocessing
(a process group initialised by the caller, through a file store: no port to pick), and
once under ``torchrun`` (the example script, which initialises the group from the
environment). Each worker writes what it saw to a file; the tests read them here, in a
process without torch.distributed.
"""

import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from skvae import VAEClassifier, VAETransformer
from skvae._batches import BatchIterator, TensorData
from skvae._devices import (
    data_parallel,
    distributed_env,
    resolve_distributed,
    share_buffers,
)
from skvae._net import VAENet
from skvae._plan import plan_fit
from skvae.models import LabelledTopUpIterator

ROOT = Path(__file__).resolve().parents[1]
WORLD = 2

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="no torch.distributed")


# -- one process: the sharding itself ----------------------------------------------
def shards(make, world_size):
    """Row ids of every batch as each rank sees it (the same generator seed)."""
    return [[xi["x"].flatten().long().tolist() for xi, _ in make(rank, world_size)]
            for rank in range(world_size)]


def test_ranks_take_disjoint_shares_that_make_up_the_one_process_batches():
    data = TensorData(torch.arange(103.0).reshape(-1, 1))

    def make(rank, world_size):
        return BatchIterator(data, 16, shuffle=True, rank=rank, world_size=world_size,
                             generator=torch.Generator().manual_seed(3))

    (whole,) = shards(make, 1)
    for world_size in (2, 3):
        parts = shards(make, world_size)
        assert all(len(p) == len(whole) == len(make(0, world_size)) for p in parts)
        for b, batch in enumerate(whole):
            mine = [set(p[b]) for p in parts]
            assert sum(map(len, mine)) == len(batch)  # disjoint ...
            assert set().union(*mine) == set(batch)  # ... and the whole batch
            assert max(map(len, mine)) - min(map(len, mine)) <= 1


def test_batch_share_makes_the_mean_of_shard_losses_the_batch_mean():
    data = TensorData(torch.arange(25.0).reshape(-1, 1))
    for b, n_batch in enumerate([10, 10, 5]):
        total = 0.0
        for rank in range(WORLD):
            xi, _ = list(BatchIterator(data, 10, rank=rank, world_size=WORLD))[b]
            x, share = xi["x"].flatten(), xi["batch_share"]
            assert torch.allclose(share, torch.full_like(x, WORLD * len(x) / n_batch))
            total += float(x.mean() * share[0]) / WORLD  # what DDP's averaging does
        assert total == pytest.approx(float(torch.arange(25.0)[b * 10:b * 10 + n_batch]
                                            .mean()))


def test_a_batch_smaller_than_the_world_is_skipped_on_every_rank():
    data = TensorData(torch.arange(9.0).reshape(-1, 1))
    for rank in range(3):
        it = BatchIterator(data, 4, rank=rank, world_size=3)
        assert len(it) == len(list(it)) == 2  # the last batch has 1 row < 3 ranks


def test_labelled_top_up_rows_are_spread_over_the_ranks():
    y = torch.full((60,), -1)
    y[:6] = torch.arange(6)
    data = TensorData(torch.arange(60.0).reshape(-1, 1), y)

    def make(rank, world_size):
        return LabelledTopUpIterator(data, 20, labelled_batch_size=4, rank=rank,
                                     world_size=world_size,
                                     generator=torch.Generator().manual_seed(0))

    (whole,) = shards(make, 1)
    parts = shards(make, WORLD)
    for b, batch in enumerate(whole):
        assert sorted(parts[0][b] + parts[1][b]) == sorted(batch)
        for p in parts:  # each rank gets its share of the 4 labelled rows
            assert sum(row < 6 for row in p[b]) >= 1


def test_one_process_runs_are_not_distributed(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert distributed_env() == (1, 0, None)
    assert resolve_distributed("cpu") == ("cpu", 1, 0)
    plan = plan_fit(VAETransformer(device="cpu"), np.zeros((20, 4)), None,
                     task="unsupervised")
    assert (plan.world_size, plan.rank) == (1, 0)
    assert "world_size=1, rank=0" in repr(plan)


def test_torchrun_variables_make_a_distributed_run(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert distributed_env() == (4, 3, 1)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert distributed_env() == (1, 0, None)


def test_device_that_contradicts_local_rank_is_a_clear_error(monkeypatch):
    import skvae._devices as devices

    monkeypatch.setattr(devices, "distributed_env", lambda: (2, 0, 0))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    with pytest.raises(ValueError, match="contradicts LOCAL_RANK=0"):
        resolve_distributed("cuda:1")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    with pytest.raises(ValueError, match="MPS backend is not supported"):
        resolve_distributed("mps")


# -- two processes -------------------------------------------------------------------
class RowLoss(torch.nn.Module):
    """A deterministic module with per-row terms (no noise: gradients compare exactly)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(),
                                        torch.nn.Linear(5, 6))

    def forward(self, x, y=None):
        return {"reconstruction": ((self.body(x) - x) ** 2).sum(1),
                "kl": self.body[0](x).pow(2).mean(1)}


def batch_gradients(rank, world_size):
    """Gradients of each batch's loss (25 rows, batches of 10: 10, 10, 5), per batch."""
    gen = torch.Generator().manual_seed(1)
    X = torch.rand(25, 6, generator=gen)
    weights = torch.rand(25, generator=gen)
    net = VAENet(RowLoss(), loss_weights={"kl": 0.5}, batch_size=10, train_split=None,
                 device="cpu", world_size=world_size, rank=rank)
    net.initialize()
    data = net.get_dataset({"x": X, "sample_weight": weights})
    batches = BatchIterator(data, 10, shuffle=True, rank=rank, world_size=world_size,
                            generator=torch.Generator().manual_seed(2))
    grads = []
    with data_parallel(net, SimpleNamespace(world_size=world_size)):
        for xi, yi in batches:
            net.module_.zero_grad()
            net.module_.train()
            net.get_loss(net.infer(xi), yi, X=xi, training=True).backward()
            grads.append([p.grad.clone() for p in net.module_.parameters()])
    return grads


def _worker(rank, store, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=WORLD)
    try:
        from contextlib import redirect_stdout
        from io import StringIO

        from sklearn.datasets import load_digits

        result = {"grads": batch_gradients(rank, WORLD)}
        norm = torch.nn.BatchNorm1d(3)  # statistics a process updates on its own shards
        norm.running_mean.fill_(float(rank))
        share_buffers(norm)
        result["buffers"] = norm.running_mean.tolist()
        X, y = load_digits(return_X_y=True)
        X = (X / 16.0)[:300]
        y = y[:300]
        small = dict(n_components=2, hidden_layer_sizes=(16,), batch_size=64, device="cpu")
        printed = StringIO()
        with redirect_stdout(printed):
            # random_state=None: each process would draw its own seed; rank 0's is used.
            vae = VAETransformer(**small, max_iter=4, early_stopping=True,
                                 n_iter_no_change=1, verbose=1).fit(X)
        result["printed"] = printed.getvalue()
        try:  # rank 1 holds one row less: every rank must refuse to fit
            VAETransformer(**small, max_iter=1).fit(X[:300 - rank])
        except ValueError as exc:
            result["mismatch"] = str(exc)
        result["vae"] = pickle.dumps(vae)
        vae.partial_fit(X)
        result["vae_partial"] = pickle.dumps(vae)
        y_partial = np.where(np.arange(300) % 6 == 0, y, -1)  # 50 labels
        result["clf"] = pickle.dumps(VAEClassifier(**small, max_iter=1, random_state=0)
                                     .fit(X, y_partial))
        result["conv"] = pickle.dumps(VAETransformer(
            **small, architecture="conv", image_shape=(1, 8, 8), max_iter=1,
            random_state=0).fit(X))
        with open(os.path.join(out, f"rank{rank}.pkl"), "wb") as f:
            pickle.dump(result, f)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """What each of two gloo processes saw and fitted (one run for the module)."""
    tmp = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(str(tmp / "store"), str(tmp)), nprocs=WORLD,
                       join=True, start_method="spawn")
    return [pickle.loads((tmp / f"rank{r}.pkl").read_bytes()) for r in range(WORLD)]


def weights(estimator):
    return dict(estimator.net_.module_.state_dict())


def assert_same_weights(a, b):
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        assert torch.equal(wa[name], wb[name]), name


def test_two_process_gradients_equal_one_process_gradients_of_the_batch(ranks):
    whole = batch_gradients(0, 1)
    assert len(whole) == 3 and all(len(r["grads"]) == 3 for r in ranks)
    for b in range(3):  # batches of 10, 10 and 5 rows (shards of 5/5, 5/5, 3/2)
        for one, two_0, two_1 in zip(whole[b], ranks[0]["grads"][b], ranks[1]["grads"][b],
                                     strict=True):
            assert torch.equal(two_0, two_1)  # DDP's average, the same on both ranks
            torch.testing.assert_close(two_0, one, rtol=1e-5, atol=1e-6)


def test_buffers_end_as_rank_zeros(ranks):
    assert ranks[0]["buffers"] == ranks[1]["buffers"] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["vae", "vae_partial", "clf", "conv"])
def test_both_ranks_end_with_the_same_weights(ranks, name):
    a, b = (pickle.loads(r[name]) for r in ranks)
    assert (a.plan_.world_size, a.plan_.rank, b.plan_.rank) == (WORLD, 0, 1)
    assert a.plan_.final.seed == b.plan_.final.seed
    assert_same_weights(a, b)
    assert a.loss_curve_ == b.loss_curve_  # the history is shared, so early stopping too


def test_semi_supervised_default_trains_on_both_ranks(ranks):
    clf = pickle.loads(ranks[1]["clf"])
    assert clf.plan_.model == "shared-m2" and len(clf.plan_.stages) == 1
    assert clf.plan_.final.labelled_batch_size > 0


def test_fitted_estimator_predicts_and_pickles_without_torch_distributed(ranks):
    from sklearn.datasets import load_digits

    assert not dist.is_initialized()
    X = load_digits().data[:40] / 16.0
    for name in ("vae", "clf", "conv"):
        a, b = (pickle.loads(r[name]) for r in ranks)
        assert type(a.net_.module_).__name__ != "DistributedDataParallel"
        assert a.net_.world_size == 1  # the net alone would train in one process
        np.testing.assert_array_equal(a.transform(X), b.transform(X))
        np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
        again = pickle.loads(pickle.dumps(a))
        np.testing.assert_array_equal(again.transform(X), a.transform(X))
    clf = pickle.loads(ranks[0]["clf"])
    assert clf.predict(X).shape == (40,)
    # Training on in one process: the batches are no longer shared.
    vae = pickle.loads(ranks[0]["vae"]).partial_fit(X)
    assert vae.plan_.world_size == 1 and vae.net_.world_size == 1


def test_different_data_on_the_ranks_is_a_clear_error_on_every_rank(ranks):
    for r in ranks:
        assert "hold different data" in r.get("mismatch", "")


def test_only_rank_zero_prints(ranks):
    printed = ranks[0]["printed"]
    assert "cpu x 2 processes" in printed and "training for" in printed
    assert ranks[1]["printed"] == ""


def test_example_runs_under_torchrun():
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed next to this Python")
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [str(torchrun), "--standalone", f"--nproc_per_node={WORLD}",
         str(ROOT / "examples" / "distributed_fit.py"), "--max-iter", "1", "--device", "cpu"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if "test accuracy" in line]
    assert len(lines) == 1 and f"on {WORLD} process(es)" in lines[0]  # rank 0 alone


def test_quiet_early_stopping_pickles(digits):
    """Rank > 0 is never verbose: its early stopping must still pickle (it did not)."""
    X = digits[0][:200]
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=2,
                         early_stopping=True, device="cpu", random_state=0).fit(X)
    again = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(again.transform(X), vae.transform(X))


def test_an_iterator_that_cannot_shard_is_a_clear_error():
    class Plain:
        def __init__(self, dataset, batch_size, **kwargs):
            pass

    net = VAENet(RowLoss(), iterator_train=Plain, world_size=2, rank=0, device="cpu")
    net.initialize()
    with pytest.raises(TypeError, match="subclass BatchIterator"):
        net.get_iterator(TensorData(torch.zeros(4, 6)), training=True)

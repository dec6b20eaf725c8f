"""The whole-batch data path: same batches as a hand-written loop, no per-row Python,
and skorch's callbacks, history, progress bar, early stopping and NaN stop intact."""

import pytest
import torch
from skorch.callbacks import Callback

from skvae import VAETransformer
from skvae._batches import BatchIterator, RandomSplit, TensorData
from skvae._net import VAENet, flush_denormal


def small(**kw):
    params = {"n_components": 2, "hidden_layer_sizes": (8,), "max_iter": 3, "batch_size": 16,
                  "device": "cpu", "random_state": 0}
    params.update(kw)
    return VAETransformer(**params)


def test_shuffled_batches_cover_every_row_once_per_epoch():
    data = TensorData(torch.arange(103.0).reshape(-1, 1))
    it = BatchIterator(data, 16, shuffle=True)
    assert len(it) == 7
    orders = []
    for _ in range(2):
        batches = [xi["x"] for xi, _ in it]
        assert [len(b) for b in batches] == [16] * 6 + [7]
        rows = torch.cat(batches).flatten()
        assert sorted(rows.tolist()) == list(range(103))
        orders.append(rows)
    assert not torch.equal(orders[0], orders[1])  # a new permutation each epoch


def test_batches_match_a_hand_written_randperm_loop():
    X_random = torch.randn(50, 3)
    y = torch.arange(50)
    torch.manual_seed(7)
    ours = [(xi["x"], yb) for xi, yb in BatchIterator(TensorData(X_random, y), 8, shuffle=True)]
    torch.manual_seed(7)
    order = torch.randperm(50)
    for i, (xb, yb) in enumerate(ours):
        idx = order[i * 8:(i + 1) * 8]
        assert torch.equal(xb, X_random[idx]) and torch.equal(yb, y[idx])


def test_unshuffled_batches_are_slices_in_order():
    X_random = torch.arange(10.0).reshape(-1, 1)
    batches = [xi["x"] for xi, _ in BatchIterator(TensorData(X_random), 4)]
    assert [b.flatten().tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_training_never_builds_batches_row_by_row(X_random, monkeypatch):
    def no_rows(self, i):
        raise AssertionError("per-row __getitem__ called on the fast path")

    monkeypatch.setattr(TensorData, "__getitem__", no_rows)
    vae = small(early_stopping=True, validation_fraction=0.2, n_iter_no_change=2).fit(X_random)
    vae.transform(X_random)
    vae.score_samples(X_random)


class CountBatches(Callback):
    def initialize(self):
        self.train_rows = 0
        self.batches = 0
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if training:
            self.batches += 1
            self.train_rows += len(batch[0]["x"])


def test_callbacks_history_and_progress_bar(X_random, capsys):
    vae = small(verbose=1, beta=1.0, callbacks=[("count", CountBatches())]).fit(X_random)
    count = dict(vae.net_.callbacks_)["count"]
    assert count.batches == 3 * 7 and count.train_rows == 3 * 103
    for key in ("train_loss", "train_reconstruction", "train_kl", "dur"):
        assert len(vae.history_[:, key]) == 3
    # The recorded parts add up to the loss (beta=1).
    h = vae.history_[-1]
    assert h["train_reconstruction"] + h["train_kl"] == pytest.approx(h["train_loss"], rel=1e-4)
    out = capsys.readouterr().out
    assert "VAE: epoch 3 of 3 | loss " in out and "reconstruction" in out and "kl" in out


def test_early_stopping_records_validation_parts(X_random):
    vae = small(max_iter=50, early_stopping=True, validation_fraction=0.2,
                n_iter_no_change=2, learning_rate_init=0.05).fit(X_random)
    assert vae.n_iter_ < 50
    assert "valid_reconstruction" in vae.history_[-1] and "valid_loss" in vae.history_[-1]


def test_nan_loss_still_stops_with_the_epoch(X_random):
    class Poison(Callback):
        def on_batch_end(self, net, **kwargs):
            with torch.no_grad():
                next(net.module_.parameters()).fill_(float("nan"))

    with pytest.raises(FloatingPointError, match="epoch 1"):
        small(callbacks=[Poison()]).fit(X_random)


def test_fused_adam_on_cpu(X_random):
    vae = small(max_iter=1).fit(X_random)
    assert vae.net_.optimizer_.defaults["fused"] is True


def _ftz_on():
    return bool(torch.tensor([1e-40]) * 1.0 == 0)


def test_flush_denormal_only_during_fit(X_random):
    seen = []

    class Probe(Callback):
        def on_epoch_begin(self, net, **kwargs):
            seen.append(_ftz_on())

    assert not _ftz_on()
    small(max_iter=1, callbacks=[Probe()]).fit(X_random)
    assert seen == [True]
    assert not _ftz_on()  # the process-wide mode is restored


def test_flush_denormal_keeps_a_mode_that_was_already_on():
    torch.set_flush_denormal(True)
    try:
        with flush_denormal(True):
            pass
        assert _ftz_on()
    finally:
        torch.set_flush_denormal(False)


def test_vaenet_with_a_plain_dataset_falls_back_to_skorch(X_random):
    # Anything that is not TensorData goes through skorch's DataLoader unchanged.
    from skvae.nn import VAE, MLPDecoder, MLPEncoder, make_likelihood

    module = VAE(MLPEncoder(12, (8,), 2), MLPDecoder(2, (8,), 12),
                 make_likelihood("bernoulli", 12))
    net = VAENet(module, max_epochs=1, batch_size=32, train_split=None)
    it = net.get_iterator(torch.utils.data.TensorDataset(torch.as_tensor(X_random)), training=True)
    assert isinstance(it, torch.utils.data.DataLoader)


@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.25, 0.5, 0.7, 0.9, 0.99, 0.999])
def test_random_split_min_rows_is_the_fewest_that_split(fraction):
    split = RandomSplit(fraction)
    fits = [n for n in range(1, 3000) if 1 <= split.n_valid(n) <= n - 1]
    assert split.min_rows() == fits[0]
    assert fits == list(range(fits[0], 3000))  # and every larger count splits too
    with pytest.raises(ValueError, match=f"at least {fits[0]} rows"):
        split.check(fits[0] - 1)
    split.check(fits[0])


@pytest.mark.parametrize("stratify", [False, True])
def test_random_split_leaves_a_row_on_each_side(stratify):
    # Stratified with one row per class (and an unlabelled stratum) falls back to a
    # plain split when a stratified one would leave a side empty.
    for n in (2, 3, 7, 40):
        for fraction in (0.5, 0.9):
            split = RandomSplit(fraction, stratify=stratify)
            if n < split.min_rows():
                continue
            data = TensorData(torch.zeros(n, 2), torch.arange(n) % 4 - 1)
            train, valid = split(data)
            assert len(train) >= 1 and len(valid) >= 1 and len(train) + len(valid) == n
            rows = torch.cat([train.rows, valid.rows]).sort().values
            assert torch.equal(rows.cpu(), torch.arange(n))

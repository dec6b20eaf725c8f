"""The skorch layer: a NeuralNet that sums a module's loss terms over fast batches.

Nothing here knows about scikit-learn estimators or about any particular model: a
module's ``forward(x, y=None)`` returns a dict of per-row loss terms, and the net
minimises the batch mean of their weighted sum (``loss_weights``). The estimators
in ``_base.py`` build a :class:`VAENet` inside ``fit``.

Speed: the batches come from :mod:`skvae._batches` (whole tensors on the device, each
batch a slice of them), not from skorch's row-by-row ``Dataset`` and collate.
"""

import contextlib

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from ._batches import BatchIterator, RowsTensor, TensorData, as_tensor
from ._rows import Rows, is_file_backed

__all__ = ["VAENet", "WeightWarmup", "PRECISIONS", "DATA_PLACEMENTS", "flush_denormal"]


#: Values of ``precision``: full float32, or bfloat16 autocast for the forward pass.
PRECISIONS = ("32", "bf16-mixed")

#: Values of ``data_placement``: where the training data live during ``fit``.
DATA_PLACEMENTS = ("auto", "device", "host")

#: Batch entries read by ``VAENet.get_loss``, never passed to the module.
_LOSS_INPUTS = ("sample_weight", "batch_share")

#: Rows per inference batch (every batch is padded to this size; see ``run_batched``).
INFERENCE_BATCH_SIZE = 512


@contextlib.contextmanager
def flush_denormal(enabled):
    """Flush denormal floats to zero inside the block, restoring the old mode after.

    Adam's second-moment estimates decay towards denormal magnitudes as training
    goes on, and denormal arithmetic is slow on x86 CPUs; flushing them changes
    values below ~1e-38 only. ``torch.set_flush_denormal`` is process-global, hence
    the save and restore. (torch has no getter: the current mode is probed by
    flushing a denormal literal.)
    """
    if not enabled:
        yield
        return
    tiny = torch.tensor([1e-40], dtype=torch.float32)
    was_on = bool((tiny * 1.0) == 0)
    supported = torch.set_flush_denormal(True)
    try:
        yield
    finally:
        if supported and not was_on:
            torch.set_flush_denormal(False)


class _Interrupted(BaseException):  # noqa: N818 - a KeyboardInterrupt in transit
    """A KeyboardInterrupt on its way out of ``fit_loop``, past skorch's handler."""


class WeightWarmup(Callback):
    """Raise a loss term's weight linearly from 0 over the first epochs (KL warm-up).

    At epoch ``e`` (1-based) the weight of ``term`` is ``target * min(1, (e - 1) /
    epochs)``: 0 in the first epoch, ``target`` from epoch ``epochs + 1`` on
    (Bowman et al. 2016; Sonderby et al. 2016). The weight used is recorded in the
    history as ``<term>_weight``.

    Parameters
    ----------
    term : str
        Name of the module's loss term, e.g. ``'kl'``.
    target : float
        The weight after the warm-up.
    epochs : int
        Length of the warm-up; 0 switches it off.
    """

    def __init__(self, term, target, epochs):
        self.term = term
        self.target = target
        self.epochs = epochs

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history)  # skorch has already added this epoch's row
        ramp = 1.0 if self.epochs <= 0 else min(1.0, (epoch - 1) / self.epochs)
        net.loss_weights[self.term] = self.target * ramp
        net.history.record(f"{self.term}_weight", net.loss_weights[self.term])


class VAENet(NeuralNet):
    """skorch net minimising the batch mean of a module's weighted per-row loss terms.

    The module's ``forward(x, y=None)`` returns a dict ``{name: (n,) tensor}``; the
    loss is the batch mean of ``sum(loss_weights.get(name, 1) * term)``. Each term's
    epoch mean is recorded in the history as ``train_<name>`` / ``valid_<name>``, and
    its weighted epoch mean, its share of the loss, as ``train_loss_<name>`` /
    ``valid_loss_<name>`` (these sum to ``train_loss`` / ``valid_loss``); a
    non-finite loss stops the fit with :class:`FloatingPointError`. The net knows no
    particular model: what is model-specific reaches it through skorch's own
    parameters (e.g. ``iterator_train`` for a different batch composition).

    Parameters
    ----------
    module : torch.nn.Module
        The initialised module (``skvae.nn.VAE``, ``skvae.nn.M2`` or compatible).
    loss_weights : dict, optional
        Weight of each named term (1 when absent), e.g. ``{'kl': beta}``. Callbacks
        may change it between epochs.
    precision : {'32', 'bf16-mixed'}
        ``'bf16-mixed'`` runs the whole forward pass, every loss term included, under
        ``torch.autocast`` with bfloat16; the terms are summed in float32.
    flush_denormal : bool
        Flush denormal floats to zero during fit on CPU (see :func:`flush_denormal`).
    data_placement : {'auto', 'device', 'host'}
        ``'device'`` moves the training data to the net's device once (fastest);
        ``'host'`` keeps them in (pinned, on CUDA) host memory and copies each batch
        with a non-blocking copy; ``'auto'`` keeps them on the host only when they
        would take more than half of the device's free memory.
    world_size, rank : int, default=1, 0
        A data-parallel fit over ``world_size`` processes (torch.distributed), of
        which this is process ``rank``: each training batch is shared among the
        processes (see :class:`BatchIterator`) and each epoch's losses are averaged
        over them, so every process records the same history and early stopping
        stops them together. The module must then be wrapped in
        ``DistributedDataParallel`` while training (``skvae._devices.data_parallel``).
    seed : int, default=0
        With ``world_size > 1``: seeds the batch order, the same in every process,
        and (with the rank) each process's own random draws in training.
    **kwargs
        Passed on to :class:`skorch.NeuralNet`.
    """

    def __init__(self, module, *args, loss_weights=None, precision="32",
                 flush_denormal=True, data_placement="auto", criterion=torch.nn.Module,
                 world_size=1, rank=0, seed=0, **kwargs):
        kwargs.setdefault("iterator_train", BatchIterator)
        kwargs.setdefault("iterator_valid", BatchIterator)
        kwargs.setdefault("iterator_train__shuffle", True)
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.loss_weights = dict(loss_weights or {})
        self.precision = precision
        self.flush_denormal = flush_denormal
        self.data_placement = data_placement
        self.world_size = world_size
        self.rank = rank
        self.seed = seed

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt as exc:  # carried past skorch's partial_fit, which
            raise _Interrupted from exc  # would swallow it (see partial_fit)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, with three differences.

        - A KeyboardInterrupt (Ctrl-C, or skorch's EarlyStopping ending the run) is
          raised again after ``on_train_end``, not swallowed: the estimator decides
          what an interrupt means. The epochs completed stay in the history.
        - Denormal floats are flushed to zero on the CPU (:func:`flush_denormal`).
        - After an error, callbacks still end (``on_train_end``), but an error of theirs
          does not replace the one that stopped training: skorch's EarlyStopping reads
          the last epoch of the history, an IndexError when the train/validation split
          failed before the first epoch.
        """
        cpu = torch.device(self.device).type == "cpu" if self.device else True
        with flush_denormal(self.flush_denormal and cpu):
            try:
                return super().partial_fit(X, y, classes, **fit_params)
            except _Interrupted:
                self.notify("on_train_end", X=X, y=y)
                raise KeyboardInterrupt from None
            except Exception:
                with contextlib.suppress(Exception):
                    self.notify("on_train_end", X=X, y=y)
                raise

    # -- data path -------------------------------------------------------------
    def keeps_data_on_host(self, nbytes):
        """Whether training data of ``nbytes`` bytes stay in host memory."""
        device = torch.device(self.device)
        if self.data_placement == "host":
            return True
        if self.data_placement == "device" or device.type != "cuda":
            return False
        free, _ = torch.cuda.mem_get_info(device)
        return nbytes > free // 2

    def get_dataset(self, X, y=None):
        """A :class:`TensorData`; ``X`` may be a dict ``{'x': X, name: extra, ...}``."""
        if isinstance(X, TensorData):
            return X
        extras = {}
        if isinstance(X, dict):
            extras = {k: as_tensor(v) for k, v in X.items() if k != "x"}
            X = X["x"]
        if isinstance(X, Rows):
            # On disk: each batch is read on the host as it is needed, then moved.
            on_cpu = torch.device(self.device).type == "cpu"
            return TensorData(RowsTensor(X), None if y is None else as_tensor(y),
                              device=None if on_cpu else self.device, extras=extras)
        mapped = is_file_backed(X)  # a float32 memmap, used in place
        X, y = as_tensor(X), None if y is None else as_tensor(y)
        nbytes = X.nelement() * X.element_size()
        if self.keeps_data_on_host(nbytes):
            if torch.device(self.device).type == "cuda":
                # (Pinning a memmap would copy the whole file into memory.)
                X = X if mapped else X.pin_memory()
                y = None if y is None else y.pin_memory()
                extras = {k: v.pin_memory() for k, v in extras.items()}
            return TensorData(X, y, device=self.device, extras=extras)
        return TensorData(X.to(self.device), None if y is None else y.to(self.device),
                          extras={k: v.to(self.device) for k, v in extras.items()})

    def get_iterator(self, dataset, training=False):
        world_size = getattr(self, "world_size", 1)  # nets pickled before it existed
        if isinstance(dataset, TensorData) and training and world_size > 1:
            # A data-parallel fit: every process draws the same batches (one generator
            # seeded alike) and takes its share of each. Each process's own draws in
            # training (the reparameterisation noise) are seeded by its rank, so the
            # processes do not repeat each other's noise. Seeds follow the epoch
            # reached, so partial_fit calls continue with new orders.
            if not (isinstance(self.iterator_train, type)
                    and issubclass(self.iterator_train, BatchIterator)):
                raise TypeError(
                    f"iterator_train={self.iterator_train!r}: a data-parallel fit shares "
                    "each batch among the processes, which skvae's BatchIterator (and its "
                    "subclasses) do; subclass BatchIterator and override batch_rows()."
                )
            epoch = len(self.history)
            batches, own = np.random.SeedSequence([self.seed, epoch]).generate_state(2)
            torch.manual_seed(int(own) + self.rank)
            kwargs = self.get_params_for("iterator_train")
            kwargs.setdefault("batch_size", self.batch_size)
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            return self.iterator_train(
                dataset, rank=self.rank, world_size=world_size,
                generator=torch.Generator().manual_seed(int(batches)), **kwargs)
        if isinstance(dataset, TensorData):
            return super().get_iterator(dataset, training=training)
        # Anything else (a user's torch Dataset) goes through a plain DataLoader.
        return torch.utils.data.DataLoader(dataset, batch_size=self.batch_size,
                                           shuffle=training)

    def infer(self, x, **fit_params):
        # Batches already live on the device as tensors.
        if not isinstance(x, dict):
            x = {"x": x}
        if any(name in x for name in _LOSS_INPUTS):  # read by get_loss, not the module
            x = {name: t for name, t in x.items() if name not in _LOSS_INPUTS}
        if self.precision == "32":
            return self.module_(**x, **fit_params)
        if self.precision != "bf16-mixed":
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}.")
        with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16):
            terms = self.module_(**x, **fit_params)
        return {name: term.float() for name, term in terms.items()}

    # -- loss ------------------------------------------------------------------
    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The batch mean of the weighted terms, each row's times its ``sample_weight``.

        A shard of a data-parallel batch has its mean times its ``batch_share``
        (see :class:`BatchIterator`).
        """
        row_weights = X.get("sample_weight") if isinstance(X, dict) else None
        share = X.get("batch_share") if isinstance(X, dict) else None
        if row_weights is not None:
            y_pred = {name: term * row_weights for name, term in y_pred.items()}
        weights = self.loss_weights
        weighted = {name: weights.get(name, 1.0) * term for name, term in y_pred.items()}
        loss = sum(weighted.values())
        n = len(next(iter(y_pred.values())))
        self._accumulate(y_pred, n, training, weighted)
        return loss.mean() if share is None else loss.mean() * share[0]

    def _accumulate(self, terms, n, training, weighted):
        """Add a batch's terms, and its weighted terms (as ``loss_<name>``), to the sums."""
        sums = self._part_sums.setdefault(training, {})
        for name, value in [*terms.items(),
                            *((f"loss_{name}", v) for name, v in weighted.items())]:
            sums[name] = sums.get(name, 0.0) + value.detach().sum()
        counts = self._part_counts
        counts[training] = counts.get(training, 0) + n

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self._part_sums, self._part_counts = {}, {}

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        if getattr(self, "world_size", 1) > 1:
            self._average_over_processes()
        epoch = len(self.history)
        for training, sums in self._part_sums.items():
            prefix = "train" if training else "valid"
            count = self._part_counts[training]
            for name, total in sums.items():
                self.history.record(f"{prefix}_{name}", float(total) / count)
        losses = self.history[-1, "batches", :, "train_loss"]
        if not np.all(np.isfinite(losses)):
            raise FloatingPointError(
                f"The training loss became {float(np.asarray(losses)[~np.isfinite(losses)][0])}"
                f" at epoch {epoch}: training diverged. Lower learning_rate_init (e.g. by a "
                "factor of 10), check the input scaling, or use a smaller beta."
            )

    def _average_over_processes(self):
        """Make this epoch's losses those of all processes together (one all_reduce).

        Each process trained on its shard of every batch: a batch's loss becomes the
        mean of the processes' (shares of the batch mean, so their mean is the
        batch's loss) and its size the sum; validation losses (every process
        validates on all held-out rows) are averaged; the loss parts' sums and
        counts are summed. Every process then records the same numbers, so
        callbacks such as early stopping decide the same everywhere.
        """
        import torch.distributed as dist

        batches = self.history[-1]["batches"]
        keys = [(i, key) for i, row in enumerate(batches)
                for key in ("train_loss", "train_batch_size", "valid_loss") if key in row]
        parts = [(training, name) for training in sorted(self._part_sums)
                 for name in sorted(self._part_sums[training])]
        values = ([float(batches[i][key]) for i, key in keys]
                  + [float(self._part_sums[t][name]) for t, name in parts]
                  + [float(self._part_counts[t]) for t in sorted(self._part_counts)])
        device = torch.device(self.device) if dist.get_backend() == "nccl" else "cpu"
        total = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(total)
        total = total.cpu().tolist()
        for (i, key), value in zip(keys, total, strict=False):
            batches[i][key] = value if key == "train_batch_size" else value / self.world_size
        total = total[len(keys):]
        for (training, name), value in zip(parts, total, strict=False):
            self._part_sums[training][name] = value
        for training, value in zip(sorted(self._part_counts), total[len(parts):],
                                   strict=True):
            self._part_counts[training] = value

    def initialize(self):
        self._part_sums, self._part_counts = {}, {}
        return super().initialize()

    # -- inference helpers used by the estimators --------------------------------
    def run_batched(self, fn, *arrays, batch_size=None, dtype=np.float32, pad=True):
        """Apply ``fn`` to row-aligned ``arrays`` in batches on the net's device.

        ``fn`` takes one batch tensor per array and returns a tensor or a tuple of
        tensors; the results are concatenated on the CPU. Runs in eval mode without
        gradients. Each batch is cast to ``dtype`` on its own (memory stays bounded by
        the batch size), and every batch has the same number of rows, the last one
        padded by repeating its first row (the padding is trimmed from the result):
        the kernels then see the same shapes whatever the number of rows asked for,
        so a row's result does not depend on the other rows passed with it.
        ``pad=False`` skips the padding (for float64 work, whose rounding is far below
        any tolerance, and for costly functions where a full batch would be waste).
        """
        n = len(arrays[0])
        bs = batch_size or INFERENCE_BATCH_SIZE
        self.module_.eval()
        outs = []
        with torch.inference_mode():
            for start in range(0, n, bs):
                stop = min(start + bs, n)
                batch = []
                for a in arrays:
                    t = as_tensor(np.asarray(a[start:stop], dtype=dtype))
                    if pad and stop - start < bs:
                        t = torch.cat([t, t[:1].expand(bs - (stop - start), *t.shape[1:])])
                    batch.append(t.to(self.device))
                out = fn(*batch)
                m = stop - start
                outs.append(tuple(o[:m].cpu() for o in out) if isinstance(out, tuple)
                            else out[:m].cpu())
        if outs and isinstance(outs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outs, strict=True))
        return torch.cat(outs)

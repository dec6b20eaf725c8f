"""The skorch layer: a NeuralNet that owns the VAE loss and a fast batch path.

Nothing here knows about scikit-learn estimators. The estimators in ``_base.py``
build a :class:`VAENet` inside ``fit`` and talk to it through the methods below.

Speed: skorch's default path builds every batch one row at a time through
``Dataset.__getitem__`` and a collate function (skorch issue #1100). Here the data
are moved to the device once, as one tensor, and each batch is a slice (or an
index into it when shuffling), with no per-row Python.
"""

import contextlib
import math

import numpy as np
import torch
from skorch import NeuralNet

__all__ = ["VAENet", "TensorData", "BatchIterator", "RandomSplit", "PRECISIONS"]

#: Values of ``precision``: full float32, or bfloat16 autocast for the forward pass.
PRECISIONS = ("32", "bf16-mixed")


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


class TensorData(torch.utils.data.Dataset):
    """Whole tensors (already on their device) standing in for a skorch Dataset.

    Parameters
    ----------
    X : torch.Tensor of shape (n, ...)
        Inputs.
    y : torch.Tensor of shape (n,), optional
        Targets, if any.
    """

    def __init__(self, X, y=None):
        if y is not None and len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}.")
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        # Only for code that insists on single rows; the fast path never calls it.
        return self.X[i], (self.y[i] if self.y is not None else torch.zeros(()))

    def subset(self, idx):
        """Rows ``idx`` (a LongTensor) as a new :class:`TensorData`."""
        idx = idx.to(self.X.device)
        return TensorData(self.X[idx], None if self.y is None else self.y[idx])


class BatchIterator:
    """Iterate over a :class:`TensorData` in batches of whole-tensor slices.

    Yields ``(X_batch, y_batch)`` (``y_batch`` is None without targets), the
    shape skorch's ``train_step`` unpacks. A new permutation is drawn from torch's
    global generator at each pass when ``shuffle`` is True (the estimators seed it).

    With ``labelled_batch_size > 0`` (and shuffling, and targets where -1 marks an
    unlabelled row), every batch is topped up with that many labelled rows, taken in
    turn from a shuffled pass over the labelled rows that starts again whenever it
    runs out: with few labels, each one is then seen many times per epoch.
    """

    def __init__(self, dataset, batch_size, shuffle=False, labelled_batch_size=0):
        self.dataset = dataset
        self.batch_size = len(dataset) if batch_size == -1 else int(batch_size)
        self.shuffle = shuffle
        self.labelled_batch_size = int(labelled_batch_size or 0)

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def _labelled_stream(self, rows):
        """Endless shuffled passes over ``rows``, ``labelled_batch_size`` at a time."""
        k, pool = self.labelled_batch_size, rows[:0]
        while True:
            while len(pool) < k:
                pool = torch.cat([pool, rows[torch.randperm(len(rows)).to(rows.device)]])
            yield pool[:k]
            pool = pool[k:]

    def __iter__(self):
        X, y = self.dataset.X, self.dataset.y
        n, bs = len(X), self.batch_size
        if self.shuffle:
            order = torch.randperm(n).to(X.device)
            extra = None
            if self.labelled_batch_size and y is not None:
                labelled = torch.nonzero(y >= 0).flatten()
                if len(labelled):
                    extra = self._labelled_stream(labelled)
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                if extra is not None:
                    idx = torch.cat([idx, next(extra)])
                # index_select: ~2x faster than X[idx] (advanced indexing) on CPU.
                yield (torch.index_select(X, 0, idx),
                       None if y is None else torch.index_select(y, 0, idx))
        else:
            for start in range(0, n, bs):
                yield X[start:start + bs], (None if y is None else y[start:start + bs])


class RandomSplit:
    """skorch ``train_split``: hold out a random fraction of the rows for validation.

    Parameters
    ----------
    fraction : float
        Share of rows held out, in (0, 1).
    stratify : bool
        Keep class proportions (needs targets; unlabelled rows, coded -1, form
        their own stratum).
    """

    def __init__(self, fraction, stratify=False):
        self.fraction = fraction
        self.stratify = stratify

    def __call__(self, dataset, y=None, **fit_params):
        n = len(dataset)
        n_valid = int(round(self.fraction * n))
        if n_valid < 1 or n_valid >= n:
            raise ValueError(
                f"validation_fraction={self.fraction} leaves {n_valid} of {n} rows for "
                "validation; early stopping needs at least one row on each side. "
                "Pass more data, change validation_fraction, or set early_stopping=False."
            )
        if self.stratify and dataset.y is not None:
            labels = dataset.y.cpu()
            valid = []
            for label in torch.unique(labels):
                rows = torch.nonzero(labels == label).flatten()
                rows = rows[torch.randperm(len(rows))]
                valid.append(rows[: int(round(self.fraction * len(rows)))])
            valid = torch.cat(valid)
            mask = torch.ones(n, dtype=torch.bool)
            mask[valid] = False
            train = torch.nonzero(mask).flatten()
        else:
            order = torch.randperm(n)
            valid, train = order[:n_valid], order[n_valid:]
        return dataset.subset(train), dataset.subset(valid)


class VAENet(NeuralNet):
    """skorch net for a module with ``forward`` and ``loss_terms`` (see ``skvae.nn.VAE``).

    The loss is the batch mean of ``reconstruction + beta * kl`` (plus
    ``alpha * classification`` when the module reports such a term). Each part's
    epoch mean is recorded in the history as ``train_<part>`` / ``valid_<part>``;
    a non-finite loss stops the fit with :class:`FloatingPointError`.

    Parameters
    ----------
    module : torch.nn.Module
        The initialised module (``skvae.nn.VAE`` or compatible).
    beta : float
        Weight of the KL term.
    alpha : float
        Weight of a ``'classification'`` term, if the module has one.
    shuffle : bool
        Shuffle the training rows at every epoch.
    precision : {'32', 'bf16-mixed'}
        ``'bf16-mixed'`` runs the forward pass under ``torch.autocast`` with bfloat16
        (the loss is still summed in float32, and no gradient scaling is needed).
    flush_denormal : bool
        Flush denormal floats to zero during fit on CPU (see :func:`flush_denormal`).
    labelled_batch_size : int
        Labelled rows added to every training batch (see :class:`BatchIterator`); 0 for none.
    **kwargs
        Passed on to :class:`skorch.NeuralNet`.
    """

    def __init__(self, module, *args, beta=1.0, alpha=1.0, shuffle=True, precision="32",
                 flush_denormal=True, labelled_batch_size=0, criterion=torch.nn.Module,
                 **kwargs):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.labelled_batch_size = labelled_batch_size
        self.beta = beta
        self.alpha = alpha
        self.shuffle = shuffle
        self.precision = precision
        self.flush_denormal = flush_denormal

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        cpu = torch.device(self.device).type == "cpu" if self.device else True
        with flush_denormal(self.flush_denormal and cpu):
            return super().partial_fit(X, y, classes=classes, **fit_params)

    # -- data path -------------------------------------------------------------
    def get_dataset(self, X, y=None):
        if isinstance(X, TensorData):
            return X
        X = torch.as_tensor(X).to(self.device)
        y = None if y is None else torch.as_tensor(y).to(self.device)
        return TensorData(X, y)

    def get_iterator(self, dataset, training=False):
        if not isinstance(dataset, TensorData):
            return super().get_iterator(dataset, training=training)
        return BatchIterator(dataset, self.batch_size, shuffle=training and self.shuffle,
                             labelled_batch_size=self.labelled_batch_size if training else 0)

    def infer(self, x, **fit_params):
        # Batches already live on the device as tensors.
        if self.precision == "32":
            return self.module_(x, **fit_params)
        if self.precision != "bf16-mixed":
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}.")
        with torch.autocast(torch.device(self.device).type, dtype=torch.bfloat16):
            out = self.module_(x, **fit_params)
        # The loss (a sum over many pixels) is computed in float32.
        return tuple(o.float() if o.is_floating_point() else o for o in out)

    # -- loss ------------------------------------------------------------------
    def get_loss(self, y_pred, y_true, X=None, training=False):
        terms = self.module_.loss_terms(X, y_pred, y_true)
        loss = terms["reconstruction"] + self.beta * terms["kl"]
        if "classification" in terms:
            loss = loss + self.alpha * terms["classification"]
        loss = loss.mean() if loss.ndim else loss
        self._accumulate(terms, len(X), training)
        return loss

    def _accumulate(self, terms, n, training):
        sums = self._part_sums.setdefault(training, {})
        for name, value in terms.items():
            value = value.detach()
            total = value.sum() if value.ndim else value * n
            sums[name] = sums.get(name, 0.0) + total
        counts = self._part_counts
        counts[training] = counts.get(training, 0) + n

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self._part_sums, self._part_counts = {}, {}

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
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
                f" at epoch {epoch}: training diverged. Lower learning_rate (e.g. by a "
                "factor of 10), check the input scaling, or use a smaller beta."
            )

    def initialize(self):
        self._part_sums, self._part_counts = {}, {}
        return super().initialize()

    # -- inference helpers used by the estimators --------------------------------
    def run_batched(self, fn, *arrays, batch_size=None):
        """Apply ``fn`` to row-aligned ``arrays`` in batches on the net's device.

        ``fn`` takes one batch tensor per array and returns a tensor or a tuple of
        tensors; the results are concatenated on the CPU. Runs in eval mode without
        gradients.
        """
        tensors = [torch.as_tensor(a) for a in arrays]
        bs = batch_size or max(self.batch_size, 1024)
        self.module_.eval()
        outs = []
        with torch.inference_mode():
            for start in range(0, len(tensors[0]), bs):
                out = fn(*(t[start:start + bs].to(self.device) for t in tensors))
                outs.append(tuple(o.cpu() for o in out) if isinstance(out, tuple) else out.cpu())
        if outs and isinstance(outs[0], tuple):
            return tuple(torch.cat(parts) for parts in zip(*outs, strict=True))
        return torch.cat(outs)

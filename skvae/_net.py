"""The skorch layer: a NeuralNet that sums a module's loss terms, and a fast batch path.

Nothing here knows about scikit-learn estimators or about any particular model: a
module's ``forward(x, y=None)`` returns a dict of per-row loss terms, and the net
minimises the batch mean of their weighted sum (``loss_weights``). The estimators
in ``_base.py`` build a :class:`VAENet` inside ``fit``.

Speed: skorch's default path builds every batch one row at a time through
``Dataset.__getitem__`` and a collate function (skorch issue #1100). Here the data
are moved to the device once, as one tensor, and each batch is a slice (or an
index into it when shuffling), with no per-row Python.

The module is over 400 lines because the data path (TensorData, BatchIterator,
RandomSplit) and the net that uses it belong together, with their documentation.
"""

import contextlib
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

from ._rows import Rows, is_file_backed

__all__ = ["VAENet", "TensorData", "BatchIterator", "RandomSplit", "WeightWarmup", "PRECISIONS",
           "DATA_PLACEMENTS"]


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


class _WritableAlias:
    """Exposes a NumPy array's memory through the array interface, marked writable.

    ``np.asarray(_WritableAlias(a))`` is an array on ``a``'s memory (no copy) whose
    base is this object, which holds ``a``: the memory lives as long as any view.
    """

    def __init__(self, array):
        self.array = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)  # (address, read-only flag)
        self.__array_interface__ = interface


def as_tensor(data):
    """``torch.as_tensor(data)``; a read-only NumPy array is shared, not copied, silently.

    torch has no read-only tensors, so ``torch.as_tensor`` on a read-only array
    (``X.setflags(write=False)``, a memmap opened with ``mode='r'``) shares its memory
    and warns once per process that writing through the tensor would be undefined
    behaviour. skvae never writes its input: training takes batches by slicing and
    ``index_select``, inference reads them (see :meth:`VAENet.run_batched`). So the
    array reaches torch through a writable alias of the same memory (see
    :class:`_WritableAlias`): no copy of X (which may be larger than memory), no
    warning, and no change to the process-wide warning filters
    (``warnings.catch_warnings`` is not thread-safe, and fits run in threads).

    Examples
    --------
    >>> X = np.zeros((3, 2), dtype=np.float32)
    >>> X.setflags(write=False)
    >>> np.shares_memory(as_tensor(X).numpy(), X)
    True
    """
    if isinstance(data, np.ndarray) and not data.flags.writeable:
        return torch.from_numpy(np.asarray(_WritableAlias(data)))
    return torch.as_tensor(data)


class RowsTensor:
    """A :class:`skvae.Rows` that batch iterators index like a CPU tensor.

    :class:`BatchIterator` takes a batch as ``X[start:stop]`` or
    ``torch.index_select(X, 0, idx)``; here each reads just those rows from the array
    on disk (``index_select`` through torch's ``__torch_function__`` protocol), in
    increasing order, and returns them as a float32 tensor in the order asked for.
    Nothing else of the tensor interface is offered: the rows are never loaded whole.

    Parameters
    ----------
    rows : skvae.Rows

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import Rows
    >>> X = RowsTensor(Rows(np.arange(6, dtype=np.uint8).reshape(3, 2)))
    >>> torch.index_select(X, 0, torch.tensor([2, 0]))
    tensor([[4., 5.],
            [0., 1.]])
    """

    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self, rows):
        self.rows = rows

    @property
    def shape(self):
        return torch.Size(self.rows.shape)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, key):
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        return as_tensor(self.rows[key])

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.index_select:
            names = ("input", "dim", "index")
            bound = dict(zip(names, args, strict=False)) | kwargs
            if bound.get("dim") == 0 and isinstance(bound.get("input"), cls):
                return bound["input"][bound["index"]]
        return NotImplemented


class TensorData(torch.utils.data.Dataset):
    """Whole tensors (already on their device) standing in for a skorch Dataset.

    A subset (see :meth:`subset`) keeps the full tensors and a row index, so the
    train/validation split of early stopping copies no data.

    Parameters
    ----------
    X : torch.Tensor of shape (n, ...)
        Inputs.
    y : torch.Tensor of shape (n,), optional
        Targets, if any.
    rows : torch.LongTensor, optional
        The rows of ``X`` (and ``y``) this dataset holds; all of them when omitted.
    device : str or torch.device, optional
        Where batches go when ``X`` stays elsewhere (data kept in host memory while
        the model trains on a GPU): each batch is copied there on its own. None: the
        batches stay where ``X`` is.
    extras : dict of str to torch.Tensor, optional
        Further row-aligned inputs, passed to the module's ``forward`` under their
        names with every batch (e.g. a precomputed ``code``).
    """

    def __init__(self, X, y=None, rows=None, device=None, extras=None):
        if y is not None and len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}.")
        self.X = X
        self.y = y
        self.extras = dict(extras or {})
        self.rows = None if rows is None else rows.to(X.device)
        self.device = device

    def to_device(self, t):
        """``t`` on the batch device (a non-blocking copy from pinned host memory)."""
        if t is None or self.device is None:
            return t
        return t.to(self.device, non_blocking=True)

    def __len__(self):
        return len(self.X) if self.rows is None else len(self.rows)

    def __getitem__(self, i):
        # Only for code that insists on single rows; the fast path never calls it.
        i = i if self.rows is None else self.rows[i]
        return self.X[i], (self.y[i] if self.y is not None else torch.zeros(()))

    @property
    def targets(self):
        """The targets of this dataset's rows (None without targets)."""
        if self.y is None or self.rows is None:
            return self.y
        return self.y[self.rows]

    def subset(self, idx):
        """Rows ``idx`` (positions in this dataset, a LongTensor) as a new view."""
        idx = idx.to(self.X.device)
        return TensorData(self.X, self.y, idx if self.rows is None else self.rows[idx],
                          self.device, self.extras)


class BatchIterator:
    """Iterate over a :class:`TensorData` in batches of whole-tensor slices.

    Yields ``(Xi, y_batch)`` with ``Xi = {'x': X_batch, 'y': y_batch, **extras}``
    (``'y'`` only when there are targets), which skorch passes to the module as
    ``module(**Xi)``.
    A new permutation is drawn at each pass when ``shuffle`` is True, from
    ``generator`` (torch's global generator when None; the estimators seed it).
    Subclasses change which rows form a batch by overriding :meth:`batch_rows`.

    In a data-parallel fit (``world_size > 1``) every process builds the same
    batches (the same ``generator`` seed) and keeps its own share of each:
    positions ``rank, rank + world_size, ...`` of the batch (so the rows a subclass
    adds, such as labelled top-up rows, are spread over the processes too). A batch
    of fewer than ``world_size`` rows is skipped. ``Xi`` then also holds
    ``'batch_share'``: ``world_size * n_shard / n_batch`` for each row of the shard,
    by which :meth:`VAENet.get_loss` scales the shard's mean loss, so that the mean
    of the processes' gradients (what ``DistributedDataParallel`` computes) is the
    gradient of the whole batch's mean loss, also when the shards differ in size.

    Parameters
    ----------
    dataset : TensorData
    batch_size : int
        Rows per batch (-1: all rows); in a data-parallel fit, rows per batch over
        all processes together.
    shuffle : bool, default=False
    rank : int, default=0
        This process's index among the ``world_size`` processes of a data-parallel fit.
    world_size : int, default=1
        Processes sharing each batch (1: no sharing).
    generator : torch.Generator, optional
        Source of the permutations (and of a subclass's draws).

    Examples
    --------
    >>> import torch
    >>> data = TensorData(torch.arange(10.0).reshape(5, 2))
    >>> [xi["x"][:, 0].tolist() for xi, _ in BatchIterator(data, 4)]
    [[0.0, 2.0, 4.0, 6.0], [8.0]]
    >>> shard = BatchIterator(data, 4, rank=1, world_size=2)
    >>> [(xi["x"][:, 0].tolist(), xi["batch_share"].tolist()) for xi, _ in shard]
    [([2.0, 6.0], [1.0, 1.0])]
    """

    def __init__(self, dataset, batch_size, shuffle=False, rank=0, world_size=1,
                 generator=None):
        self.dataset = dataset
        self.batch_size = len(dataset) if batch_size == -1 else int(batch_size)
        self.shuffle = shuffle
        if not 0 <= rank < world_size:
            raise ValueError(f"rank={rank} is not in [0, world_size={world_size}).")
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.generator = generator

    def __len__(self):
        n, bs = len(self.dataset), self.batch_size
        count = math.ceil(n / bs)
        if self.world_size > 1 and count and n - (count - 1) * bs < self.world_size:
            count -= 1  # the short last batch is skipped (see the class docstring)
        return count

    def permutation(self, n):
        """A random order of ``n`` positions (a LongTensor on the data's device)."""
        return torch.randperm(n, generator=self.generator).to(self.dataset.X.device)

    def batch_rows(self):
        """Yield each batch's row positions in the dataset (a LongTensor or a slice)."""
        n, bs = len(self.dataset), self.batch_size
        if self.shuffle:
            order = self.permutation(n)
            for start in range(0, n, bs):
                yield order[start:start + bs]
        else:
            for start in range(0, n, bs):
                yield slice(start, start + bs)

    def _shard(self, idx):
        """This process's share of a batch's positions, and its ``batch_share``."""
        if isinstance(idx, slice):
            idx = torch.arange(idx.start, min(idx.stop, len(self.dataset)),
                               device=self.dataset.X.device)
        n_batch = len(idx)
        if n_batch < self.world_size:
            return None, None
        mine = idx[self.rank::self.world_size]
        share = torch.full((len(mine),), self.world_size * len(mine) / n_batch,
                           device=self.dataset.X.device)
        return mine, share

    def __iter__(self):
        data = self.dataset
        rows = data.rows
        for idx in self.batch_rows():
            share = None
            if self.world_size > 1:
                idx, share = self._shard(idx)
                if idx is None:
                    continue
            if rows is not None:
                idx = rows[idx]
            batch = {"x": data.X, "y": data.y, **data.extras}
            for name, t in list(batch.items()):
                if t is None:
                    del batch[name]
                elif isinstance(idx, slice):
                    batch[name] = data.to_device(t[idx])
                else:
                    # index_select: ~2x faster than t[idx] (advanced indexing) on CPU.
                    batch[name] = data.to_device(torch.index_select(t, 0, idx))
            if share is not None:
                batch["batch_share"] = data.to_device(share)
            yield batch, batch.get("y")


class RandomSplit:
    """skorch ``train_split``: hold out a random fraction of the rows for validation.

    Parameters
    ----------
    fraction : float
        Share of rows held out, in (0, 1).
    stratify : bool
        Keep the proportions of the target values (needs targets; every distinct
        value, such as a marker of unlabelled rows, is its own stratum). When a
        stratified draw would leave a side empty (few rows per class), the split
        falls back to a plain random one.
    """

    def __init__(self, fraction, stratify=False):
        self.fraction = fraction
        self.stratify = stratify

    def n_valid(self, n_rows):
        """Rows held out for validation out of ``n_rows``: ``round(fraction * n_rows)``."""
        return int(round(self.fraction * n_rows))

    def min_rows(self):
        """The fewest rows that leave at least one row on each side of the split.

        Examples
        --------
        >>> RandomSplit(0.1).min_rows(), RandomSplit(0.99).min_rows()
        (6, 51)
        """
        # Both sides grow with n (by at most one row each step, as fraction < 1), so
        # the valid row counts are [min_rows, inf). Neither side can have a row while
        # fraction * n < 0.5 or (1 - fraction) * n < 0.5: start there, step up.
        n = max(2, math.floor(0.5 / self.fraction), math.floor(0.5 / (1.0 - self.fraction)))
        while not 1 <= self.n_valid(n) <= n - 1:
            n += 1
        return n

    def check(self, n_rows):
        """Raise ValueError unless ``n_rows`` rows leave a row on each side of the split.

        Examples
        --------
        >>> RandomSplit(0.1).check(5)
        Traceback (most recent call last):
        ...
        ValueError: early_stopping=True holds out validation_fraction=0.1 of the rows ...
        """
        n_valid = self.n_valid(n_rows)
        if 1 <= n_valid <= n_rows - 1:
            return
        raise ValueError(
            f"early_stopping=True holds out validation_fraction={self.fraction} of the rows "
            f"for validation: {n_valid} of {n_rows}, leaving {n_rows - n_valid} to train "
            f"on, and both sides need at least one row. The split needs at least "
            f"{self.min_rows()} rows at this fraction: pass more rows, change "
            "validation_fraction, or set early_stopping=False."
        )

    def __call__(self, dataset, y=None, **fit_params):
        n = len(dataset)
        self.check(n)
        n_valid = self.n_valid(n)
        valid = None
        targets = dataset.targets
        if self.stratify and targets is not None:
            labels = targets.cpu()
            parts = []
            for label in torch.unique(labels):
                members = torch.nonzero(labels == label).flatten()
                members = members[torch.randperm(len(members))]
                parts.append(members[: int(round(self.fraction * len(members)))])
            valid = torch.cat(parts)
            if not 0 < len(valid) < n:
                valid = None  # too few rows per stratum: plain random split
        if valid is None:
            valid = torch.randperm(n)[:n_valid]
        mask = torch.ones(n, dtype=torch.bool)
        mask[valid] = False
        return dataset.subset(torch.nonzero(mask).flatten()), dataset.subset(valid)


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
    epoch mean is recorded in the history as ``train_<name>`` / ``valid_<name>``; a
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
        ``DistributedDataParallel`` while training (``skvae._train.data_parallel``).
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

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Train; unlike skorch's, a KeyboardInterrupt is raised again, not swallowed.

        ``on_train_end`` still runs (so callbacks such as early stopping finish), and
        the epochs completed before the interrupt stay in the history.
        """
        if not self.initialized_:
            self.initialize()
        cpu = torch.device(self.device).type == "cpu" if self.device else True
        with flush_denormal(self.flush_denormal and cpu):
            self.notify("on_train_begin", X=X, y=y)
            error = None
            try:
                self.fit_loop(X, y, **fit_params)
            except Exception as exc:
                error = exc
                raise
            finally:
                if error is None:  # done, stopped early, or Ctrl-C
                    self.notify("on_train_end", X=X, y=y)
                else:
                    # Callbacks still end, but an error of theirs must not replace the
                    # one that stopped training: skorch's EarlyStopping reads the last
                    # epoch of the history, an IndexError when the train/validation
                    # split failed before the first epoch.
                    with contextlib.suppress(Exception):
                        self.notify("on_train_end", X=X, y=y)
        return self

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
        loss = sum(weights.get(name, 1.0) * term for name, term in y_pred.items())
        n = len(next(iter(y_pred.values())))
        self._accumulate(y_pred, n, training)
        return loss.mean() if share is None else loss.mean() * share[0]

    def _accumulate(self, terms, n, training):
        sums = self._part_sums.setdefault(training, {})
        for name, value in terms.items():
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

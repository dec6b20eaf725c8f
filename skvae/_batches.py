"""The fast batch path: whole tensors on the device, batches as slices of them.

skorch's default path builds every batch one row at a time through
``Dataset.__getitem__`` and a collate function (skorch issue #1100). Here the data are
moved to the device once, as one tensor (:class:`TensorData`), and each batch is a slice
or an ``index_select`` of it (:class:`BatchIterator`), with no per-row Python. Arrays on
disk take the same path through :class:`RowsTensor`, which reads just a batch's rows;
read-only arrays are shared, never copied (:func:`as_tensor`). :class:`RandomSplit` holds
out rows for early stopping without copying them. :class:`skvae._net.VAENet` uses all of
this; nothing here knows a model or an estimator.
"""

import math

import numpy as np
import torch

__all__ = ["BatchIterator", "RandomSplit", "RowsTensor", "TensorData", "as_tensor"]


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

"""Labels in the fit pipeline: the unlabelled marker and labelled top-up batches."""

import math

import torch

from .._batches import BatchIterator

__all__ = ["UNLABELLED", "LabelledTopUpIterator", "labelled_top_up"]

#: Label of an unlabelled row (scikit-learn's semi-supervised convention).
UNLABELLED = -1


def labelled_top_up(labelled_batch_size, data, batch_size):
    """Labelled rows added to each batch: ``labelled_batch_size`` resolved and bounded.

    ``'auto'``: ``min(n_labelled, batch_size)`` when some rows are unlabelled, else 0;
    None: 0. A number larger than the training rows is refused: each step would then
    process more rows than the data hold (and the labelled stream would grow with it).
    """
    if labelled_batch_size == "auto":
        return min(data.n_labelled, batch_size) if data.unlabelled else 0
    k = int(labelled_batch_size or 0)
    if k > data.n_rows:
        raise ValueError(
            f"labelled_batch_size={k} is more than the {data.n_rows} training rows; it "
            f"adds that many labelled rows to every batch, so at most n_rows "
            f"({data.n_rows}) is allowed. Use 'auto' (min(n_labelled, batch_size)) or a "
            "smaller number."
        )
    return k


class LabelledTopUpIterator(BatchIterator):
    """Training batches topped up with labelled rows (Kingma et al.'s labelled minibatch).

    Every batch of the shuffled pass gets ``labelled_batch_size`` extra labelled rows
    (targets other than -1), taken in turn from a shuffled pass over the labelled
    rows that starts again whenever it runs out: with few labels, each one is then
    seen many times per epoch. Reaches the net as skorch's ``iterator_train``.
    In a data-parallel fit each process keeps its share of every topped-up batch, the
    labelled rows included (see :class:`~skvae._batches.BatchIterator`).

    Parameters
    ----------
    dataset : skvae._batches.TensorData
        Rows with targets, -1 marking an unlabelled row.
    batch_size : int
    shuffle : bool, default=True
    labelled_batch_size : int, default=0
        Labelled rows added to each batch (0: none, a plain :class:`BatchIterator`).
    rank, world_size, generator
        As for :class:`~skvae._batches.BatchIterator` (the labelled rows are drawn from
        ``generator`` too).

    Examples
    --------
    >>> import torch
    >>> from skvae._batches import TensorData
    >>> data = TensorData(torch.zeros(6, 2), torch.tensor([0, 1, -1, -1, -1, -1]))
    >>> it = LabelledTopUpIterator(data, batch_size=3, labelled_batch_size=2)
    >>> [len(idx) for idx in it.batch_rows()]
    [5, 5]
    """

    def __init__(self, dataset, batch_size, shuffle=True, labelled_batch_size=0, rank=0,
                 world_size=1, generator=None):
        super().__init__(dataset, batch_size, shuffle, rank=rank, world_size=world_size,
                         generator=generator)
        self.labelled_batch_size = int(labelled_batch_size or 0)

    def _labelled_stream(self, rows):
        """Endless shuffled passes over ``rows``, ``labelled_batch_size`` at a time."""
        k, pool = self.labelled_batch_size, rows[:0]
        while True:
            if len(pool) < k:  # as many new passes as the next batch needs, at once
                passes = math.ceil((k - len(pool)) / len(rows))
                pool = torch.cat([pool, *(rows[self.permutation(len(rows)).to(rows.device)]
                                          for _ in range(passes))])
            yield pool[:k]
            pool = pool[k:]

    def batch_rows(self):
        targets = self.dataset.targets
        extra = None
        if self.shuffle and self.labelled_batch_size and targets is not None:
            labelled = torch.nonzero(targets != UNLABELLED).flatten()
            if len(labelled):
                extra = self._labelled_stream(labelled)
        for idx in super().batch_rows():
            yield idx if extra is None else torch.cat([idx, next(extra)])

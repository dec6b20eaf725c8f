"""Data larger than memory: rows read from an array on disk as they are needed.

:class:`Rows` wraps any array that can be sliced by rows (a ``np.memmap``, an
``h5py.Dataset``, a ``zarr`` array, or an ordinary array) and hands out float32 rows,
scaled as they are read (``scale=1/255`` for uint8 pixels), never the whole array. The
estimators take a :class:`Rows` wherever they take X, and wrap a memmap, an h5py
dataset or a zarr array in one themselves (:func:`as_rows`). Validation reads the rows
chunk by chunk (:meth:`Rows.scan`); training reads each batch's rows in increasing
order (HDF5 requires it) and puts them back in the batch's order.

Nothing here writes to the array, and nothing knows about estimators or torch.
"""

import math
from numbers import Integral, Real

import numpy as np

__all__ = ["Rows", "as_rows", "is_file_backed"]

#: Bytes of float32 rows read at once by ``chunk_rows='auto'`` (validation, ``np.asarray``).
CHUNK_BYTES = 2**24


def _module(obj):
    return type(obj).__module__.split(".")[0]


def is_file_backed(array):
    """Whether the NumPy array ``array`` views a memory-mapped file (``np.memmap``).

    Examples
    --------
    >>> import numpy as np
    >>> is_file_backed(np.zeros(3))
    False
    """
    import mmap

    while isinstance(array, np.ndarray):
        if isinstance(array, np.memmap):
            return True
        array = array.base
    return isinstance(array, mmap.mmap)


def as_rows(X):
    """``X`` as a :class:`Rows` when it lives on disk, else None (an in-memory array).

    A :class:`Rows` is returned as it is; a ``np.memmap``, an ``h5py.Dataset`` and a
    ``zarr`` array are wrapped in one (no scaling). Any other input is left to
    scikit-learn's usual validation, which loads it whole.

    Examples
    --------
    >>> import numpy as np
    >>> as_rows(np.zeros((2, 3))) is None
    True
    """
    if isinstance(X, Rows):
        return X
    if isinstance(X, np.memmap) or _module(X) in ("h5py", "zarr"):
        return Rows(X)
    return None


def _source(array):
    """``'dataset /x of file data.h5'`` for an open h5py dataset, else None."""
    try:
        return f"dataset {array.name} of file {array.file.filename}"
    except Exception:  # not h5py, or closed already: h5py cannot tell the file
        return None


def _check_open(array, source=None):
    """Raise ValueError, naming the file, when ``array`` is an h5py dataset of a closed file."""
    if _module(array) == "h5py" and not getattr(getattr(array, "id", None), "valid", True):
        raise ValueError(
            f"X is {source or 'an h5py dataset'}, whose file is closed: h5py can no longer "
            "read it. Keep the file open while the estimator reads X (fit and predict "
            "inside `with h5py.File(path) as f:`), or open it again and pass its dataset.")


class Rows:
    """Rows of a large array, read as they are needed and returned as float32.

    Pass a ``Rows`` to ``fit``, ``partial_fit``, ``transform``, ``predict`` or
    ``score_samples`` in place of X: skvae then reads the rows a batch at a time and
    never holds the whole array (or a float32 copy of it) in memory. Memory-mapped
    arrays, ``h5py`` datasets and ``zarr`` arrays are recognised without the wrapper;
    wrap them to scale their values as they are read, for instance uint8 pixels to
    [0, 1] with ``scale=1/255``, or to wrap any other array that can be sliced by rows.

    Parameters
    ----------
    array : array-like of shape (n_samples, ...)
        Any object with ``shape``, ``dtype`` and row slicing (``array[start:stop]``):
        ``np.memmap``, ``np.ndarray``, ``h5py.Dataset``, ``zarr.Array``. The dimensions
        after the first are flattened: images stored as ``(n, 28, 28)`` give rows of
        784 features (pass ``image_shape`` to a conv net as usual). Never written to.
    scale : float, default=None
        Each value read is multiplied by ``scale`` (after conversion to float32);
        None: 1.
    offset : float, default=0.0
        Added after scaling: a row is ``array[i] * scale + offset``.
    chunk_rows : int or 'auto', default='auto'
        Rows read at once where skvae reads everything in turn (validation, ``np.asarray``):
        ``'auto'`` reads about 16 MiB of float32 at a time (whole HDF5 / zarr chunks).

    Attributes
    ----------
    shape : tuple of int
        ``(n_samples, n_features)``, the array's shape with its trailing dimensions
        flattened.
    dtype : numpy.dtype
        float32, the type of the rows returned.

    See Also
    --------
    numpy.memmap : An array on disk, read through the page cache.

    Notes
    -----
    What is bounded: ``fit`` holds one batch (and its shuffled order, ``n_samples``
    int64), ``transform`` and ``predict`` one inference batch and their result, the
    validation one chunk. Reading a shuffled batch from HDF5 or zarr reads every chunk
    that holds one of its rows: store such files with small chunks along the rows
    (e.g. ``chunks=(64, n_features)``) or use a memmap for speed. ``np.asarray(rows)``
    loads every row (for code that needs the whole array).

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import Rows
    >>> pixels = np.array([[0, 255], [51, 102]], dtype=np.uint8)
    >>> rows = Rows(pixels, scale=1 / 255)
    >>> rows.shape
    (2, 2)
    >>> rows[1:]
    array([[0.2, 0.4]], dtype=float32)
    >>> rows[[1, 0]]
    array([[0.2, 0.4],
           [0. , 1. ]], dtype=float32)

    Training from uint8 images in a file, scaled to [0, 1] batch by batch:

    >>> from skvae import VAETransformer
    >>> images = np.random.default_rng(0).integers(0, 256, (100, 16), dtype=np.uint8)
    >>> vae = VAETransformer(n_components=2, max_iter=1, random_state=0)
    >>> vae.fit(Rows(images, scale=1 / 255)).transform(Rows(images, scale=1 / 255)).shape
    (100, 2)
    """

    def __init__(self, array, *, scale=None, offset=0.0, chunk_rows="auto"):
        self._source = _source(array) if _module(array) == "h5py" else None
        _check_open(array, self._source)
        shape = getattr(array, "shape", None)
        if shape is None or not hasattr(array, "__getitem__") or not hasattr(array, "dtype"):
            raise TypeError(
                f"Rows needs an array with shape, dtype and row slicing (a np.memmap, an "
                f"h5py.Dataset, a zarr array); got {type(array).__name__}."
            )
        if len(shape) < 2:
            raise ValueError(
                f"Rows needs a 2-D (or higher) array, one sample per row; got shape "
                f"{tuple(shape)}. Reshape a single sample with .reshape(1, -1)."
            )
        for name, value in (("scale", scale), ("offset", offset)):
            if value is not None and (not isinstance(value, Real) or isinstance(value, bool)
                                      or not math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number, got {value!r}.")
        if scale == 0:
            raise ValueError("scale=0 would turn every value into the offset; pass a "
                             "non-zero scale (e.g. 1/255 for uint8 pixels).")
        if chunk_rows != "auto" and (not isinstance(chunk_rows, Integral)
                                     or isinstance(chunk_rows, bool) or chunk_rows < 1):
            raise ValueError(f"chunk_rows must be 'auto' or a positive int, got {chunk_rows!r}.")
        self.array = array
        self.scale = scale
        self.offset = offset
        self.chunk_rows = chunk_rows
        self._clip = None  # (low, high) set by the estimators' validation, see clipped()

    # -- what the rows look like --------------------------------------------------
    @property
    def shape(self):
        _check_open(self.array, getattr(self, "_source", None))
        shape = tuple(int(s) for s in self.array.shape)
        return (shape[0], math.prod(shape[1:]))

    @property
    def dtype(self):
        return np.dtype(np.float32)

    @property
    def source_dtype(self):
        """The dtype of the wrapped array."""
        return np.dtype(self.array.dtype)

    ndim = 2

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        extra = "".join(f", {n}={getattr(self, n)!r}" for n in ("scale", "offset")
                        if getattr(self, n) not in (None, 0.0))
        return (f"Rows(<{type(self.array).__name__} of shape {tuple(self.array.shape)}, "
                f"{self.source_dtype}>{extra})")

    @property
    def is_plain(self):
        """Whether the rows are the array itself: C-ordered 2-D float32, unscaled.

        Such an array (a float32 memmap, say) is used by the estimators in place,
        as a tensor on the same memory, the fastest path.
        """
        a = self.array
        return (isinstance(a, np.ndarray) and a.ndim == 2 and a.dtype == np.float32
                and a.flags.c_contiguous and self.scale is None and not self.offset
                and self._clip is None)

    def chunk_size(self):
        """Rows per chunk of :meth:`chunks` (``chunk_rows`` resolved)."""
        if self.chunk_rows != "auto":
            return int(self.chunk_rows)
        rows = max(1, CHUNK_BYTES // (4 * max(1, self.shape[1])))
        stored = getattr(self.array, "chunks", None)  # HDF5 / zarr: whole chunks
        if isinstance(stored, tuple) and stored and isinstance(stored[0], Integral):
            rows = max(1, rows // stored[0]) * stored[0]
        return rows

    def chunks(self):
        """Yield ``(start, stop)`` of consecutive row chunks covering every row."""
        n, size = len(self), self.chunk_size()
        for start in range(0, n, size):
            yield start, min(start + size, n)

    # -- reading --------------------------------------------------------------------
    def _convert(self, raw):
        """Raw rows read from the array as C-ordered float32, scaled and clipped."""
        raw = np.asarray(raw)
        raw = raw.reshape(raw.shape[0], -1)
        if raw.dtype.kind not in "biuf":
            raise ValueError(
                f"Rows reads numbers, but the array holds {raw.dtype} values; store "
                "numeric data (e.g. uint8 pixels or float32 features)."
            )
        if self.scale is not None or self.offset:
            # In float64 (one batch), rounded once: uint8 / 255 as exactly as in memory.
            out = raw.astype(np.float64)
            if self.scale is not None:
                out *= self.scale
            out += self.offset
            out = out.astype(np.float32)
        else:
            out = np.asarray(raw, dtype=np.float32)
        if self._clip is not None:
            # np.clip makes a new array: the user's memory is never written.
            out = np.clip(out, *self._clip).astype(np.float32, copy=False)
        return np.ascontiguousarray(out)

    def read_raw(self, start, stop):
        """Rows ``start`` to ``stop`` as stored (no conversion)."""
        _check_open(self.array, getattr(self, "_source", None))
        return np.asarray(self.array[start:stop])

    def _read_sorted(self, idx):
        """Raw rows at increasing, distinct positions ``idx`` (an int64 array)."""
        a = self.array
        _check_open(a, getattr(self, "_source", None))
        if len(idx) == 0:
            return np.asarray(a[0:0])
        if isinstance(a, np.ndarray):
            return np.take(a, idx, axis=0)
        if hasattr(a, "oindex"):  # zarr: orthogonal selection along the rows
            return np.asarray(a.oindex[idx])
        if _module(a) == "h5py" and a.chunks is None:
            # h5py: increasing indices only. On a contiguous dataset one selection of the
            # rows was measured fastest (4 ms for 256 rows of 784 float32, 9 ms by runs);
            # on a chunked one, reading by runs (13 ms, 26 ms by selection).
            return np.asarray(a[idx])
        # Anything else that slices by rows: one read per run of consecutive rows.
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1
        runs = np.split(idx, breaks)
        return np.concatenate([np.asarray(a[int(r[0]):int(r[-1]) + 1]) for r in runs])

    def take(self, idx):
        """Rows at positions ``idx`` (any order, repeats allowed), as float32.

        Rows are read once each, in increasing order, then put in ``idx``'s order.
        """
        idx = np.asarray(idx).reshape(-1)
        if idx.dtype == bool:
            if len(idx) != len(self):
                raise IndexError(f"boolean index of {len(idx)} values for {len(self)} rows")
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64, copy=False)
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"row index out of range for {n} rows")
        idx = np.where(idx < 0, idx + n, idx)
        unique, inverse = np.unique(idx, return_inverse=True)
        rows = self._convert(self._read_sorted(unique))
        if len(unique) == len(idx) and np.array_equal(unique, idx):
            return rows
        return rows[inverse.reshape(-1)]

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                return self._convert(self.read_raw(start, max(start, stop)))
            return self.take(np.arange(start, stop, step))
        if isinstance(key, Integral) and not isinstance(key, bool):
            return self.take([key])[0]
        if isinstance(key, tuple):
            raise IndexError("Rows are indexed by rows only (an int, a slice or row positions)")
        return self.take(key)

    def __array__(self, dtype=None, copy=None):
        """Every row in one array (loads them all: for code that needs the whole X)."""
        if copy is False:
            raise ValueError("Rows cannot be viewed as an array without reading them.")
        out = np.empty(self.shape, dtype=np.float32)
        for start, stop in self.chunks():
            out[start:stop] = self[start:stop]
        return out if dtype is None else out.astype(dtype, copy=False)

    # -- validation -------------------------------------------------------------------
    def clipped(self, low, high):
        """A copy whose rows are clipped to ``[low, high]`` as they are read."""
        new = Rows(self.array, scale=self.scale, offset=self.offset,
                   chunk_rows=self.chunk_rows)
        new._clip = (float(low), float(high))
        return new

    def _scaled(self, value):
        return value * (1.0 if self.scale is None else self.scale) + self.offset

    def scan(self, support=None, count_outside=False, far=0.0):
        """Read every row once, chunk by chunk; return what validation needs.

        Raises ValueError for non-numeric values, NaN or infinity (naming the first
        row that holds one) and values beyond float32's range once scaled.

        Parameters
        ----------
        support : tuple of float, optional
            ``(low, high)``: with ``count_outside``, values outside it are counted.
        count_outside : bool, default=False
        far : float, default=0.0
            Values more than ``far`` outside ``support`` are counted apart.

        Returns
        -------
        dict
            ``min`` and ``max`` of the scaled values, ``size`` (the number of values),
            ``n_outside`` and ``n_far`` (0 unless counted).

        Examples
        --------
        >>> import numpy as np
        >>> Rows(np.array([[0, 255]], dtype=np.uint8), scale=1 / 255).scan()["max"]
        1.0
        """
        kind = self.source_dtype.kind
        if kind not in "biuf":
            raise ValueError(
                f"X holds {self.source_dtype} values, but skvae needs numbers. Store numeric "
                "data (e.g. uint8 pixels or float32 features)."
            )
        lo, hi, n_out, n_far = math.inf, -math.inf, 0, 0
        big = float(np.finfo(np.float32).max)
        for start, stop in self.chunks():
            raw = self.read_raw(start, stop)
            raw = raw.reshape(raw.shape[0], -1)
            if raw.size == 0:
                continue
            a, b = float(raw.min()), float(raw.max())
            if kind == "f" and not (math.isfinite(a) and math.isfinite(b)):
                bad = np.flatnonzero(~np.isfinite(raw).all(axis=1))[0] + start
                raise ValueError(
                    f"Input X contains NaN or infinity (first in row {bad}). Remove or "
                    "impute those values first (e.g. sklearn.impute.SimpleImputer)."
                )
            a, b = sorted((self._scaled(a), self._scaled(b)))
            if max(abs(a), abs(b)) > big:
                raise ValueError(
                    f"X has values beyond float32's range (|x| > {big:.3g}), which the "
                    "network computes in: rescale X (e.g. scale= of skvae.Rows) first."
                )
            lo, hi = min(lo, a), max(hi, b)
            if count_outside and support is not None and (a < support[0] or b > support[1]):
                values = self._scaled(raw.astype(np.float64))
                low, high = support
                n_out += int(np.count_nonzero((values < low) | (values > high)))
                n_far += int(np.count_nonzero((values < low - far) | (values > high + far)))
        return {"min": lo, "max": hi, "size": len(self) * self.shape[1],
                "n_outside": n_out, "n_far": n_far}

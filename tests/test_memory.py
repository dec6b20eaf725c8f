"""Data larger than memory (issue 23.2): memmaps, HDF5 and other row-sliceable arrays are
read batch by batch, never loaded or copied whole, never written; bad values in any
chunk still get a clear ValueError."""

import hashlib
import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from skvae import Rows, VAEClassifier, VAETransformer
from skvae._batches import RowsTensor

FAST = {"n_components": 2, "hidden_layer_sizes": (16,), "max_iter": 2, "batch_size": 32,
        "device": "cpu", "random_state": 0}


def _fingerprint(path):
    """A file's bytes (hashed) and modification time."""
    stat = os.stat(path)
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_mtime_ns, stat.st_size


class SliceOnly:
    """An array that can only be sliced by rows (like many on-disk formats); it logs
    the reads."""

    def __init__(self, array):
        self._array = array
        self.shape, self.dtype = array.shape, array.dtype
        self.reads = []

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("only row slices")
        self.reads.append((key.start, key.stop))
        return self._array[key].copy()


# -- bounded memory (subprocess: a fresh process, and a hard limit on its heap) ---------
_CHILD = textwrap.dedent("""
    import resource, sys, warnings
    import numpy as np, torch
    torch.set_num_threads(1)
    from skvae import Rows, VAETransformer

    path, kind, n, d = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    dtype = np.uint8 if kind == "uint8" else np.float32
    X = np.memmap(path, dtype=dtype, mode="r", shape=(n, d))  # read-only
    X = Rows(X, scale=1 / 255) if kind == "uint8" else X

    def vae():
        return VAETransformer(n_components=2, hidden_layer_sizes=(8,), batch_size=256,
                              max_iter=1, device="cpu", random_state=0)

    vae().fit(np.zeros((300, d), np.float32))  # one-time costs (lazy imports, pools)

    def vm_data():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmData:"))

    # The process's private writable memory (heap, anonymous maps; not the file's
    # pages, which the kernel may drop) may grow by less than half of X from here:
    # a full copy of X, or of its float32 version, fails with MemoryError.
    budget = n * d * 4 // 2
    resource.setrlimit(resource.RLIMIT_DATA, (vm_data() + budget, resource.RLIM_INFINITY))
    if kind == "copy":
        np.array(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = vae().fit(X)
        assert est.transform(X[:10] if kind != "uint8" else X.array[:10] / 255).shape == (10, 2)
    print("fitted", est.n_iter_)
""")


def _fit_in_child(tmp_path, kind, n=60_000, d=784):
    path = tmp_path / f"X_{kind}.bin"
    with open(path, "wb") as f:  # a sparse, zero-filled file: quick to make
        f.truncate(n * d * (1 if kind == "uint8" else 4))
    before = _fingerprint(path)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), kind, str(n), str(d)],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert _fingerprint(path) == before  # nothing written to the user's file
    return out


needs_linux = pytest.mark.skipif(not os.path.exists("/proc/self/status"),
                                 reason="measures VmData in /proc (Linux)")


@needs_linux
@pytest.mark.parametrize("kind", ["float32", "uint8"])
def test_fit_on_a_memmap_larger_than_its_memory_budget(tmp_path, kind):
    # 60,000 x 784 (188 MB as float32): a read-only float32 memmap, or uint8 pixels
    # scaled by Rows as they are read, fit with no warning while the heap may grow by
    # less than half of X.
    out = _fit_in_child(tmp_path, kind)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "fitted 1" in out.stdout


@needs_linux
def test_the_memory_budget_refuses_a_full_copy(tmp_path):
    # The check above has teeth: the same budget refuses one in-memory copy of X.
    out = _fit_in_child(tmp_path, "copy", n=20_000)
    assert out.returncode != 0 and "MemoryError" in out.stderr


# -- the same model as from memory -------------------------------------------------------
@pytest.fixture
def data(digits_full):
    X, y = digits_full
    return X[:400], y[:400]


def test_memmap_gives_the_same_model_and_answers(data, tmp_path):
    X, _ = data
    path = tmp_path / "X.npy"
    np.save(path, X.astype(np.float64))
    mapped = np.load(path, mmap_mode="r+")  # writable, yet never written
    before = _fingerprint(path)
    ref = VAETransformer(**FAST).fit(X.astype(np.float64))
    vae = VAETransformer(**FAST).fit(mapped)
    assert vae.loss_curve_ == pytest.approx(ref.loss_curve_, rel=1e-5)
    Z = vae.transform(mapped)
    assert Z.dtype == np.float64  # as for a float64 array in memory
    np.testing.assert_allclose(Z, ref.transform(X.astype(np.float64)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(vae.score_samples(mapped), ref.score_samples(X), rtol=1e-4)
    vae.partial_fit(mapped)
    assert vae.n_iter_ == FAST["max_iter"] + 1
    weights = np.r_[np.ones(200), np.full(200, 2.0)]
    weighted = VAETransformer(**FAST).fit(mapped, sample_weight=weights)
    assert weighted.loss_curve_ == pytest.approx(
        VAETransformer(**FAST).fit(X, sample_weight=weights).loss_curve_, rel=1e-5)
    del mapped
    assert _fingerprint(path) == before


def test_uint8_rows_scaled_as_read_match_scaled_arrays(data, tmp_path):
    X, y = data
    pixels = np.round(X * 255).astype(np.uint8)
    path = tmp_path / "pixels.npy"
    np.save(path, pixels)
    rows = Rows(np.load(path, mmap_mode="r"), scale=1 / 255)
    ref = VAEClassifier(**FAST).fit(pixels / 255, y)
    clf = VAEClassifier(**FAST).fit(rows, y)
    assert clf.loss_curve_ == pytest.approx(ref.loss_curve_, rel=1e-4)
    np.testing.assert_array_equal(clf.predict(rows), ref.predict(pixels / 255))
    assert clf.n_features_in_ == X.shape[1] and not hasattr(clf, "feature_names_in_")


def test_h5py_dataset_trains_and_predicts(data, tmp_path):
    h5py = pytest.importorskip("h5py")
    X, y = data
    y = y.copy()
    y[::3] = -1  # partly labelled: pseudo-labels read the rows on disk (and transduction_)
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=np.round(X * 255).astype(np.uint8).reshape(-1, 8, 8),
                         chunks=(16, 8, 8))
        f.create_dataset("X", data=X, chunks=(32, 64))
        f.create_dataset("contiguous", data=X)  # read by one selection per batch
    before = _fingerprint(path)
    with h5py.File(path, "r") as f:
        ref = VAEClassifier(**FAST).fit(X, y)
        clf = VAEClassifier(**{**FAST, "early_stopping": True}).fit(f["X"], y)
        assert clf.model_ == "shared-m2"
        clf = VAEClassifier(**FAST).fit(f["X"], y)  # shuffled batches: sorted reads
        np.testing.assert_array_equal(clf.predict(f["X"]), ref.predict(X))
        np.testing.assert_array_equal(clf.transduction_, ref.transduction_)
        np.testing.assert_allclose(clf.score_samples(f["X"]), ref.score_samples(X),
                                   rtol=1e-4)
        images = Rows(f["images"], scale=1 / 255)  # (n, 8, 8) uint8: rows of 64
        vae = VAETransformer(**FAST).fit(images)
        assert vae.transform(images).shape == (len(X), 2)
        with pytest.raises(ValueError, match="features"):
            vae.transform(f["X"][:, :10])
        flat = VAETransformer(**FAST).fit(f["contiguous"])
        assert flat.loss_curve_ == pytest.approx(VAETransformer(**FAST).fit(X).loss_curve_,
                                                 rel=1e-5)
    assert _fingerprint(path) == before
    # The fitted estimators keep no reference to the (now closed) file.
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), ref.predict(X))
    assert pickle.loads(pickle.dumps(vae)).transform(X).shape == (len(X), 2)


def test_zarr_array_trains(data):
    zarr = pytest.importorskip("zarr")
    X, _ = data
    z = zarr.array(X, chunks=(32, 64))
    vae = VAETransformer(**FAST).fit(z)
    ref = VAETransformer(**FAST).fit(X)
    np.testing.assert_allclose(vae.transform(z), ref.transform(X), rtol=1e-4, atol=1e-5)


class OrthogonalOnly(SliceOnly):
    """zarr's interface for a set of rows: ``array.oindex[rows]`` (rows increasing)."""

    @property
    def oindex(self):
        outer = self

        class Index:
            def __getitem__(self, rows):
                assert np.all(np.diff(rows) > 0)
                outer.reads.append(("oindex", len(rows)))
                return outer._array[rows]

        return Index()


def test_arrays_with_orthogonal_indexing_read_a_batch_at_once(data):
    # What skvae asks of a zarr array, checked without zarr installed.
    X, _ = data
    z = OrthogonalOnly(X)
    vae = VAETransformer(**FAST).fit(Rows(z))
    assert vae.loss_curve_ == pytest.approx(VAETransformer(**FAST).fit(X).loss_curve_,
                                            rel=1e-5)
    batches = [n for kind, n in z.reads if kind == "oindex"]
    assert len(batches) == 2 * 13 and sum(batches) == 2 * len(X)


def test_any_row_sliceable_array_is_read_in_increasing_runs(data):
    X, y = data
    sliced = SliceOnly(X)
    clf = VAEClassifier(**FAST).fit(Rows(sliced), y)
    ref = VAEClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.predict(Rows(sliced)), ref.predict(X))
    starts = [start for start, _ in sliced.reads]
    assert len(sliced.reads) > len(X)  # shuffled batches: one read per run of rows
    # Within a batch the runs come in increasing order: the reads go back only when a
    # new batch starts (2 epochs of 13 batches, then the scans and predict's reads).
    backwards = sum(b < a for a, b in zip(starts, starts[1:], strict=False))
    assert backwards <= 2 * 13 + 2


# -- bad values in a chunk ------------------------------------------------------------
@pytest.mark.parametrize("bad, match", [(np.nan, "NaN or infinity .*row 350"),
                                        (np.inf, "NaN or infinity .*row 350"),
                                        (1.5, r"needs X in \[0, 1\].*1\.5.*skvae.Rows")])
def test_a_bad_value_in_a_late_chunk_is_refused(data, tmp_path, bad, match):
    X, _ = data
    X = X.copy()
    X[350, 7] = bad
    path = tmp_path / "X.npy"
    np.save(path, X)
    rows = Rows(np.load(path, mmap_mode="r"), chunk_rows=50)
    vae = VAETransformer(**FAST)
    with pytest.raises(ValueError, match=match):
        vae.fit(rows)
    assert not hasattr(vae, "net_")
    fitted = VAETransformer(**FAST).fit(X[:300])
    with pytest.raises(ValueError, match=match):
        fitted.score_samples(rows)
    if np.isfinite(bad):  # transform and predict clip what lies outside [0, 1]
        np.testing.assert_allclose(fitted.transform(rows), fitted.transform(np.clip(X, 0, 1)),
                                   rtol=1e-5, atol=1e-6)
    else:
        with pytest.raises(ValueError, match=match):
            fitted.transform(rows)


def test_badly_scaled_rows_warn_at_prediction_as_arrays_do(data):
    X, _ = data
    vae = VAETransformer(**FAST).fit(X)
    with pytest.warns(UserWarning, match="looks scaled unlike") as caught:
        Z = vae.transform(Rows(X * 16))
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(Z, vae.transform(X * 16), rtol=1e-5, atol=1e-6)


def test_text_on_disk_is_refused():
    with pytest.raises(ValueError, match="needs numbers"):
        VAETransformer(**FAST).fit(Rows(np.array([["a", "b"]] * 4)))


@pytest.mark.parametrize("shape", [(0, 4), (4, 0)])
def test_empty_data_on_disk_is_refused(shape):
    with pytest.raises(ValueError, match="at least one row and one feature"):
        VAETransformer(**FAST).fit(Rows(np.zeros(shape, np.float32)))


# -- Rows itself -------------------------------------------------------------------------
def test_rows_reads_any_order_once_per_row():
    stored = np.arange(24, dtype=np.uint8).reshape(4, 3, 2)
    rows = Rows(stored, scale=0.5, offset=1.0)
    assert rows.shape == (4, 6) and len(rows) == 4 and rows.dtype == np.float32
    np.testing.assert_array_equal(rows[[3, 0, 3]],
                                  stored.reshape(4, 6)[[3, 0, 3]] * 0.5 + 1.0)
    np.testing.assert_array_equal(rows[-1], stored[-1].ravel() * 0.5 + 1.0)
    np.testing.assert_array_equal(rows[np.array([True, False, True, False])],
                                  rows[::2])
    np.testing.assert_array_equal(np.asarray(rows), stored.reshape(4, 6) * 0.5 + 1.0)
    assert stored[0, 0, 0] == 0  # the source is never written
    with pytest.raises(IndexError):
        rows[4]


def test_rows_tensor_batches_like_a_tensor():
    import torch

    stored = np.arange(12, dtype=np.float32).reshape(6, 2)
    stored.setflags(write=False)
    X = RowsTensor(Rows(stored))
    idx = torch.tensor([5, 1, 1])
    np.testing.assert_array_equal(torch.index_select(X, 0, idx).numpy(), stored[[5, 1, 1]])
    np.testing.assert_array_equal(X[2:4].numpy(), stored[2:4])
    assert len(X) == 6 and X.device.type == "cpu"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"array": np.zeros(3)}, ValueError, "2-D"),
    ({"array": [[1, 2]]}, TypeError, "shape, dtype and row slicing"),
    ({"array": np.zeros((2, 2)), "scale": 0}, ValueError, "non-zero scale"),
    ({"array": np.zeros((2, 2)), "scale": "1/255"}, ValueError, "finite number"),
    ({"array": np.zeros((2, 2)), "chunk_rows": 0}, ValueError, "chunk_rows"),
])
def test_rows_refuses_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Rows(**kwargs)

"""Tests for skvae.datasets: IDX parsing, MNIST-layout directories, Fashion-MNIST fetcher."""

import gzip
import hashlib
import io
import os
import re
import tracemalloc
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from skvae import datasets
from skvae.datasets import fetch_fashion_mnist, load_idx, load_idx_dir

SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}


def idx_bytes(array):
    """IDX encoding of ``array``: magic, big-endian uint32 sizes, big-endian values."""
    array = np.asarray(array)
    header = bytes([0, 0, _CODES[array.dtype], array.ndim])
    header += np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=None):
    """Write ``array`` as IDX to ``path``, gzipped when ``gz`` (default: name ends in .gz)."""
    path = Path(path)
    payload = idx_bytes(array)
    if gz is None:
        gz = path.suffix == ".gz"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def make_images(n, h=4, w=3, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, h, w), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # make the [0, 1] range exact
    return images


def write_mnist_dir(directory, n_train=6, n_test=4, gz=True, h=4, w=3):
    """Write a tiny data set in MNIST layout; return the uint8 arrays written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = {}
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images = make_images(n, h, w, seed)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        arrays[prefix] = images, labels
    return arrays


# --------------------------------------------------------------------------- load_idx


@pytest.mark.parametrize("dtype", list(_CODES))
@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_round_trip(tmp_path, dtype, gz):
    rng = np.random.default_rng(0)
    array = (rng.normal(size=(3, 2, 5)) * 50).astype(dtype)
    path = write_idx(tmp_path / ("a-idx3" + (".gz" if gz else "")), array)
    loaded = load_idx(path)
    assert loaded.dtype == dtype
    assert loaded.dtype.isnative
    assert loaded.shape == (3, 2, 5)
    np.testing.assert_array_equal(loaded, array)
    assert loaded.flags.writeable
    assert loaded.flags.owndata


def test_load_idx_1d_and_str_path(tmp_path):
    path = write_idx(tmp_path / "labels-idx1-ubyte", np.array([7, 8, 9], dtype=np.uint8))
    loaded = load_idx(str(path))
    np.testing.assert_array_equal(loaded, [7, 8, 9])
    assert loaded.dtype == np.uint8


def test_load_idx_gzip_detected_by_content(tmp_path):
    # gzipped data without a .gz name is still read correctly
    path = write_idx(tmp_path / "noext", np.arange(4, dtype=np.uint8), gz=True)
    np.testing.assert_array_equal(load_idx(path), np.arange(4))


def test_load_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "nope")


def _corrupt(tmp_path, name, payload, gz=False):
    path = tmp_path / name
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


GOOD = idx_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x01\x00" + GOOD[2:], "bad magic number"),
        (b"\x00\x00\x07" + GOOD[3:], "unknown IDX type code 0x07"),
        (GOOD[:-1], "truncated data"),
        (GOOD[:10], "truncated header"),
        (GOOD[:2], "shorter than the 4-byte header"),
        (GOOD + b"\x00", "trailing bytes"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
    ],
    ids=["magic", "dtype", "truncated", "short-header", "tiny", "trailing", "ndim0"],
)
def test_load_idx_corrupt(tmp_path, payload, message, gz):
    path = _corrupt(tmp_path, "bad-idx2-ubyte" + (".gz" if gz else ""), payload, gz=gz)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + message):
        load_idx(path)


def test_load_idx_corrupt_gzip(tmp_path):
    compressed = bytearray(gzip.compress(GOOD))
    compressed[len(compressed) // 2] ^= 0xFF  # flip bits inside the deflate stream
    path = _corrupt(tmp_path, "flipped.gz", bytes(compressed))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*gzip"):
        load_idx(path)


def test_load_idx_truncated_gzip(tmp_path):
    path = _corrupt(tmp_path, "cut.gz", gzip.compress(GOOD)[:-6])
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*gzip"):
        load_idx(path)


def test_load_idx_bad_crc(tmp_path):
    compressed = bytearray(gzip.compress(GOOD))
    compressed[-8] ^= 0xFF  # the CRC32 in the trailer
    path = _corrupt(tmp_path, "crc.gz", bytes(compressed))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*gzip"):
        load_idx(path)


def test_load_idx_gz_name_but_not_gzip(tmp_path):
    path = _corrupt(tmp_path, "plain.gz", GOOD)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*not gzip-compressed"):
        load_idx(path)


# ----------------------------------------------------------------------- load_idx_dir


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_dir_train_test(tmp_path, gz):
    arrays = write_mnist_dir(tmp_path, n_train=6, n_test=4, gz=gz)
    for subset, prefix in (("train", "train"), ("test", "t10k")):
        images, labels = arrays[prefix]
        bunch = load_idx_dir(tmp_path, subset)
        n = len(images)
        assert bunch.data.shape == (n, 12)
        assert bunch.data.dtype == np.float32
        assert bunch.images.shape == (n, 4, 3)
        assert bunch.images.dtype == np.float32
        assert bunch.target.shape == (n,)
        assert bunch.target.dtype == np.int64
        assert bunch.image_shape == (1, 4, 3)
        assert bunch.target_names is None
        assert isinstance(bunch.DESCR, str)
        assert bunch.DESCR
        assert bunch.data.min() == 0.0
        assert bunch.data.max() == 1.0
        np.testing.assert_array_equal(bunch.data, images.reshape(n, -1) / np.float32(255))
        np.testing.assert_array_equal(bunch.images.reshape(n, -1), bunch.data)
        np.testing.assert_array_equal(bunch.target, labels)
        assert len(bunch.filenames) == 2


def test_load_idx_dir_all_concatenates_train_then_test(tmp_path):
    arrays = write_mnist_dir(tmp_path, n_train=6, n_test=4)
    bunch = load_idx_dir(tmp_path, subset="all")
    assert bunch.data.shape == (10, 12)
    expected = np.concatenate([arrays["train"][0], arrays["t10k"][0]]) / np.float32(255)
    np.testing.assert_array_equal(bunch.images, expected)
    np.testing.assert_array_equal(
        bunch.target, np.concatenate([arrays["train"][1], arrays["t10k"][1]])
    )
    assert len(bunch.filenames) == 4


def test_load_idx_dir_mixed_gz_and_plain(tmp_path):
    write_mnist_dir(tmp_path, gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(4, dtype=np.uint8))
    assert load_idx_dir(tmp_path, "all").data.shape == (10, 12)


def test_load_idx_dir_return_X_y_and_target_names(tmp_path):
    write_mnist_dir(tmp_path)
    X, y = load_idx_dir(tmp_path, "test", return_X_y=True)
    assert X.shape == (4, 12)
    assert X.dtype == np.float32
    assert y.shape == (4,)
    assert y.dtype == np.int64
    names = [f"c{i}" for i in range(10)]
    assert load_idx_dir(tmp_path, target_names=tuple(names)).target_names == names


def test_load_idx_dir_only_needed_files(tmp_path):
    write_mnist_dir(tmp_path)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (tmp_path / name).unlink()
    assert load_idx_dir(tmp_path, "test").data.shape == (4, 12)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_idx_dir(tmp_path, "train")


def test_load_idx_dir_not_a_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_idx_dir(tmp_path / "missing")


def test_load_idx_dir_count_mismatch(tmp_path):
    write_mnist_dir(tmp_path, n_train=6)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="6 images.*" + re.escape(str(labels)) + ".*5 labels"):
        load_idx_dir(tmp_path, "train")


def test_load_idx_dir_corrupt_file_named(tmp_path):
    write_mnist_dir(tmp_path)
    bad = tmp_path / "t10k-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(idx_bytes(make_images(4)) + b"junk"))
    with pytest.raises(ValueError, match=re.escape(str(bad)) + ".*trailing bytes"):
        load_idx_dir(tmp_path, "test")
    load_idx_dir(tmp_path, "train")  # the other subset is unaffected


def test_load_idx_dir_wrong_kind_of_array(tmp_path):
    write_mnist_dir(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(images, np.zeros((6, 12), dtype=np.uint8))  # 2-d, not 3-d
    with pytest.raises(ValueError, match=re.escape(str(images)) + ".*3-d uint8"):
        load_idx_dir(tmp_path, "train")
    write_mnist_dir(tmp_path)
    labels = tmp_path / "train-labels-idx1-ubyte.gz"
    write_idx(labels, np.zeros(6, dtype=np.float32))
    with pytest.raises(ValueError, match=re.escape(str(labels)) + ".*1-d integer"):
        load_idx_dir(tmp_path, "train")


def test_load_idx_dir_train_test_size_mismatch(tmp_path):
    write_mnist_dir(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", make_images(4, h=5, w=3))
    with pytest.raises(ValueError, match="differ in size"):
        load_idx_dir(tmp_path, "all")


@pytest.mark.parametrize("subset", ["training", "", None, "TRAIN"])
def test_load_idx_dir_bad_subset(tmp_path, subset):
    write_mnist_dir(tmp_path)
    with pytest.raises(ValueError, match="'train', 'test', 'all'"):
        load_idx_dir(tmp_path, subset)


# ---------------------------------------------------------------- fetch_fashion_mnist


def test_fetch_data_home(no_env, tmp_path):
    data_home = tmp_path / "fm"
    write_mnist_dir(data_home, n_train=6, n_test=4, h=28, w=28)
    bunch = fetch_fashion_mnist(data_home=data_home)
    assert bunch.data.shape == (6, 784)
    assert bunch.image_shape == (1, 28, 28)
    assert bunch.target_names == [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]  # fmt: skip
    assert "Fashion-MNIST" in bunch.DESCR
    X, y = fetch_fashion_mnist("test", data_home=str(data_home), return_X_y=True)
    assert X.shape == (4, 784)
    assert y.dtype == np.int64
    assert fetch_fashion_mnist("all", data_home=data_home).data.shape == (10, 784)


def test_fetch_data_home_subfolder(no_env, tmp_path):
    write_mnist_dir(tmp_path / "root" / "fashion-mnist", h=28, w=28)
    assert fetch_fashion_mnist("test", data_home=tmp_path / "root").data.shape == (4, 784)


@pytest.mark.parametrize("subfolder", [False, True])
def test_fetch_env_var(no_env, tmp_path, monkeypatch, subfolder):
    root = tmp_path / "env"
    write_mnist_dir(root / "fashion-mnist" if subfolder else root, h=28, w=28)
    monkeypatch.setenv("SKVAE_DATA", str(root))
    bunch = fetch_fashion_mnist("test")
    assert bunch.data.shape == (4, 784)
    assert all(name.startswith(str(root)) for name in bunch.filenames)


def test_fetch_data_home_wins_over_env(no_env, tmp_path, monkeypatch):
    write_mnist_dir(tmp_path / "env", n_test=3, h=28, w=28)
    write_mnist_dir(tmp_path / "home_dir", n_test=5, h=28, w=28)
    monkeypatch.setenv("SKVAE_DATA", str(tmp_path / "env"))
    assert fetch_fashion_mnist("test", data_home=tmp_path / "home_dir").data.shape[0] == 5


def test_fetch_missing_explicit_data_home_does_not_fall_back(no_env, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError) as excinfo:
        fetch_fashion_mnist(data_home=empty)
    message = str(excinfo.value)
    assert "dataset-fashion-mnist" in message
    assert "data_home" in message
    assert "SKVAE_DATA" in message
    assert "https://github.com/zalandoresearch/fashion-mnist" in message
    assert str(empty) in message
    assert str(empty / "fashion-mnist") in message
    assert str(SYSTEM_DIR) + "\n" not in message  # not searched


def test_fetch_missing_env_does_not_fall_back(no_env, tmp_path, monkeypatch):
    monkeypatch.setenv("SKVAE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"SKVAE_DATA=.*nowhere") as excinfo:
        fetch_fashion_mnist("test")
    assert "dataset-fashion-mnist" in str(excinfo.value)


def test_fetch_partial_files_is_missing(no_env, tmp_path):
    write_mnist_dir(tmp_path / "part", h=28, w=28)
    (tmp_path / "part" / "train-labels-idx1-ubyte.gz").unlink()
    assert fetch_fashion_mnist("test", data_home=tmp_path / "part").data.shape == (4, 784)
    with pytest.raises(FileNotFoundError, match="not found"):
        fetch_fashion_mnist("train", data_home=tmp_path / "part")


def test_fetch_default_search(no_env, tmp_path, monkeypatch):
    # default places: the system directory, then ~/skvae_data/fashion-mnist
    monkeypatch.setattr(datasets, "_SYSTEM_DIR", tmp_path / "system")
    with pytest.raises(FileNotFoundError) as excinfo:
        fetch_fashion_mnist()
    message = str(excinfo.value)
    assert str(tmp_path / "system") in message
    assert str(tmp_path / "home" / "skvae_data" / "fashion-mnist") in message
    write_mnist_dir(tmp_path / "home" / "skvae_data" / "fashion-mnist", h=28, w=28)
    assert fetch_fashion_mnist("test").data.shape == (4, 784)
    write_mnist_dir(tmp_path / "system", n_test=7, h=28, w=28)
    assert fetch_fashion_mnist("test").data.shape == (7, 784)  # system dir comes first


@pytest.mark.parametrize("subset", ["validation", "Test", 1])
def test_fetch_bad_subset(no_env, tmp_path, subset):
    write_mnist_dir(tmp_path / "fm", h=28, w=28)
    with pytest.raises(ValueError, match="subset must be one of 'train', 'test', 'all'"):
        fetch_fashion_mnist(subset, data_home=tmp_path / "fm")


def test_fetch_never_touches_network_by_default(no_env, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(urllib.request, "urlopen", fail)
    with pytest.raises(FileNotFoundError):
        fetch_fashion_mnist(data_home=tmp_path)


def test_fetch_download_fails_without_network(no_env, tmp_path, monkeypatch):
    calls = []

    def offline(url, *args, **kwargs):
        calls.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    target = tmp_path / "dl"
    with pytest.raises(OSError, match="Downloading Fashion-MNIST") as excinfo:
        fetch_fashion_mnist(data_home=target, download_if_missing=True)
    message = str(excinfo.value)
    assert "name resolution" in message
    assert "dataset-fashion-mnist" in message
    assert "data_home" in message
    assert calls
    assert all(url.endswith(".gz") for url in calls)
    assert not list(target.glob("*.gz"))
    assert not list(target.glob("*.part"))


def _fake_server(monkeypatch, files):
    """Serve ``files`` (name -> bytes) through urlopen and make their MD5s the expected ones."""
    monkeypatch.setattr(
        datasets,
        "_FASHION_MNIST_MD5",
        {name: hashlib.md5(data).hexdigest() for name, data in files.items()},
    )
    served = []

    def urlopen(url, *args, **kwargs):
        served.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return served


def _synthetic_gz_files():
    files = {}
    for prefix, n in (("train", 6), ("t10k", 4)):
        images = make_images(n, 28, 28)  # Fashion-MNIST's size: other sizes are refused
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx_bytes(images))
        labels = np.arange(n, dtype=np.uint8)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx_bytes(labels))
    return files


def test_fetch_download_success(no_env, tmp_path, monkeypatch):
    served = _fake_server(monkeypatch, _synthetic_gz_files())
    target = tmp_path / "dl"
    bunch = fetch_fashion_mnist("all", data_home=target, download_if_missing=True)
    assert bunch.data.shape == (10, 784)
    assert sorted(p.name for p in target.iterdir()) == sorted(datasets._FASHION_MNIST_MD5)
    assert len(served) == 4
    # second call finds the files: no more downloads
    fetch_fashion_mnist("all", data_home=target, download_if_missing=True)
    assert len(served) == 4


def test_fetch_download_default_dir(no_env, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets, "_SYSTEM_DIR", tmp_path / "system")
    _fake_server(monkeypatch, _synthetic_gz_files())
    fetch_fashion_mnist("test", download_if_missing=True)
    assert (
        tmp_path / "home" / "skvae_data" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz"
    ).is_file()
    monkeypatch.setattr(urllib.request, "urlopen", None)  # found now without downloading
    assert fetch_fashion_mnist("test").data.shape == (4, 784)


def test_fetch_download_bad_checksum(no_env, tmp_path, monkeypatch):
    _fake_server(monkeypatch, _synthetic_gz_files())
    monkeypatch.setitem(datasets._FASHION_MNIST_MD5, "train-images-idx3-ubyte.gz", "0" * 32)
    target = tmp_path / "dl"
    with pytest.raises(OSError, match=r"MD5 .* does not match"):
        fetch_fashion_mnist(data_home=target, download_if_missing=True)
    assert not (target / "train-images-idx3-ubyte.gz").exists()


# ------------------------------------------------------------------ the real data set


@pytest.mark.skipif(
    not SYSTEM_DIR.is_dir(),
    reason=f"{SYSTEM_DIR} not found (apt-get install dataset-fashion-mnist)",
)
def test_real_fashion_mnist_test_subset(monkeypatch):
    monkeypatch.delenv("SKVAE_DATA", raising=False)
    bunch = fetch_fashion_mnist(subset="test")
    assert bunch.data.shape == (10000, 784)
    assert bunch.images.shape == (10000, 28, 28)
    assert bunch.image_shape == (1, 28, 28)
    assert bunch.data.dtype == np.float32
    assert bunch.data.min() >= 0.0
    assert bunch.data.max() <= 1.0
    np.testing.assert_array_equal(np.unique(bunch.target), np.arange(10))
    np.testing.assert_array_equal(np.bincount(bunch.target), np.full(10, 1000))
    assert len(bunch.target_names) == 10


def test_load_idx_dir_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_mnist_dir(tmp_path / "mnist")
    assert load_idx_dir("~/mnist", "test").data.shape == (4, 12)


# ------------------------------------------------------- hostile files: bombs, devices


def _write_gzip_stream(path, header, n_zeros, chunk=1 << 20):
    """gzip ``header`` followed by ``n_zeros`` zero bytes, written chunk by chunk."""
    zeros = bytes(chunk)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header)
        for start in range(0, n_zeros, chunk):
            f.write(zeros[: min(chunk, n_zeros - start)])
    return path


def test_load_idx_gzip_bomb_is_refused_without_inflating_it(tmp_path):
    # declares 5 bytes, then 50 MB of zeros: about 50 kB on disk
    header = bytes([0, 0, 0x08, 1]) + np.array([5], dtype=">u4").tobytes()
    path = _write_gzip_stream(tmp_path / "bomb-idx1-ubyte.gz", header, 50 * 2**20)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=re.escape(str(path)) + ".*trailing bytes.*corrupt"):
            load_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # a few buffers, never the 50 MB


def test_load_idx_declared_size_is_read_in_bounded_memory(tmp_path):
    # a legitimate 8 MB payload: the only large allocation is the result itself
    n = 8 * 2**20
    header = bytes([0, 0, 0x08, 1]) + np.array([n], dtype=">u4").tobytes()
    path = _write_gzip_stream(tmp_path / "big-idx1-ubyte.gz", header, n)
    tracemalloc.start()
    try:
        array = load_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert array.shape == (n,)
    assert not array.any()
    assert peak < n + 4 * 2**20


@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_huge_declared_size_fails_before_allocating(tmp_path, gz):
    # a tiny file whose header declares 2**32-1 x 2**32-1 float64 values (~147 EB)
    header = bytes([0, 0, 0x0E, 2]) + np.array([2**32 - 1] * 2, dtype=">u4").tobytes()
    path = _corrupt(tmp_path, "huge-idx2" + (".gz" if gz else ""), header + bytes(16), gz=gz)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*truncated data"):
        load_idx(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_load_idx_refuses_dev_zero():
    with pytest.raises(ValueError, match="/dev/zero: not a regular file.*character device"):
        load_idx("/dev/zero")


def test_load_idx_refuses_directory(tmp_path):
    with pytest.raises(ValueError, match="not a regular file.*directory"):
        load_idx(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_load_idx_refuses_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "pipe-idx1-ubyte"
    os.mkfifo(fifo)  # nobody writes to it: a blocking open would hang
    with pytest.raises(ValueError, match="not a regular file.*FIFO"):
        load_idx(fifo)


# ------------------------------------------------------- empty files, wrong data sets


@pytest.mark.parametrize("shape", [(0,), (0, 28, 28), (3, 0, 28)])
@pytest.mark.parametrize("gz", [False, True])
def test_load_idx_zero_length_dimension_names_the_file(tmp_path, shape, gz):
    # used to fail with "TypeError: memoryview: cannot cast view with zeros in shape"
    path = write_idx(tmp_path / ("empty-idx3-ubyte" + (".gz" if gz else "")),
                     np.zeros(shape, dtype=np.uint8))
    with pytest.raises(ValueError, match="zero-length dimension") as info:
        load_idx(path)
    assert str(path) in str(info.value)


def test_fetch_fashion_mnist_refuses_images_of_another_size(no_env, tmp_path):
    write_mnist_dir(tmp_path, h=8, w=8)  # e.g. digits written as IDX, not Fashion-MNIST
    with pytest.raises(ValueError, match="holds 8x8 images, but Fashion-MNIST images are "
                                         "28x28") as info:
        fetch_fashion_mnist(data_home=tmp_path)
    assert "train-images-idx3-ubyte" in str(info.value)
    # the same folder is fine as generic IDX data
    assert load_idx_dir(tmp_path).image_shape == (1, 8, 8)


def test_fetch_fashion_mnist_refuses_labels_outside_its_classes(no_env, tmp_path):
    write_mnist_dir(tmp_path, h=28, w=28)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 2, 12], np.uint8))
    with pytest.raises(ValueError, match="labels from 0 to 12, but Fashion-MNIST has 10 "
                                         "classes") as info:
        fetch_fashion_mnist("test", data_home=tmp_path)
    assert "t10k-labels-idx1-ubyte.gz" in str(info.value)

"""Loaders for real image data stored as IDX files (MNIST, Fashion-MNIST, ...).

This module is over 400 lines because every way an IDX file can be corrupt has its own
check and message naming the file, beside the documented loaders.

The IDX format is the simple binary format MNIST and Fashion-MNIST are published in: a
4-byte magic number (two zero bytes, a type code, the number of dimensions), one big-endian
``uint32`` size per dimension, then the values in C order. This module reads it with numpy
only, gzipped or not, and checks every file it reads: a corrupt file raises a
:class:`ValueError` that names the file, it never yields a wrong array.

Nothing here touches the network unless asked to: :func:`fetch_fashion_mnist` reads files
already on disk and only downloads them when ``download_if_missing=True``.

Public functions
----------------
load_idx
    Read one IDX file into a numpy array.
load_idx_dir
    Load a directory in MNIST layout as a scikit-learn :class:`~sklearn.utils.Bunch`.
fetch_fashion_mnist
    Load Fashion-MNIST from a local directory (optionally downloading it).

Examples
--------
>>> import os, tempfile
>>> import numpy as np
>>> from skvae.datasets import load_idx
>>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx1-ubyte")
>>> with open(path, "wb") as f:
...     _ = f.write(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]))
>>> load_idx(path)
array([7, 8, 9], dtype=uint8)
"""

import gzip
import hashlib
import http.client
import math
import os
import stat
import urllib.request
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["fetch_fashion_mnist", "load_idx", "load_idx_dir"]

# IDX type code -> numpy dtype as stored on disk (multi-byte types are big-endian).
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20  # bytes decompressed per read
# Deflate cannot expand data more than about 1032 times; a gzip file declaring more is cut.
_MAX_DEFLATE_RATIO = 1100

_SUBSETS = ("train", "test", "all")
# subset -> file-name prefix used by the MNIST layout
_PREFIXES = {"train": ("train",), "test": ("t10k",), "all": ("train", "t10k")}
_IMAGES = "{}-images-idx3-ubyte"
_LABELS = "{}-labels-idx1-ubyte"

_FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
_ENV_VAR = "SKVAE_DATA"
_SUBDIR = "fashion-mnist"
_OFFICIAL_REPO = "https://github.com/zalandoresearch/fashion-mnist"
# Tried in order. The checksums are the ones published in the official README; they check
# downloads only (the Debian package ships the same data recompressed, with other gz bytes).
_FASHION_MNIST_MIRRORS = (
    "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
_FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
_DOWNLOAD_TIMEOUT = 60  # seconds per connection attempt

_FASHION_MNIST_DESCR = """\
Fashion-MNIST
=============

Zalando's article images: 28x28 grayscale pictures of clothing in 10 classes
(T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot),
60,000 for training and 10,000 for testing, 6,000 / 1,000 per class. A drop-in
replacement for MNIST that is harder to classify.

Pixels are scaled to [0, 1] (value / 255).

Source: https://github.com/zalandoresearch/fashion-mnist (MIT licence).
Reference: Han Xiao, Kashif Rasul, Roland Vollgraf, "Fashion-MNIST: a Novel Image
Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747, 2017.
"""


def load_idx(path):
    """Read one IDX file (gzipped or not) into a numpy array.

    The file is gzip-decompressed when it starts with the gzip magic bytes. The header gives
    the type and the shape; values are returned in the machine's native byte order.

    The file is read as a stream: the header first, then exactly the number of bytes it
    declares, straight into the result, then at most one byte more to make sure nothing
    follows. Memory is bounded by the declared size, so a small gzip file that inflates to
    gigabytes of extra data (a "gzip bomb") is refused as soon as its first extra byte is
    seen, without inflating the rest.

    Parameters
    ----------
    path : str or os.PathLike
        Path of the IDX file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    array : ndarray
        The stored array, with the shape given by the header and the dtype given by the type
        code: ``uint8`` (0x08), ``int8`` (0x09), ``int16`` (0x0B), ``int32`` (0x0C),
        ``float32`` (0x0D) or ``float64`` (0x0E). The array owns its (writable) memory.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is not a regular file (a directory, a device such as ``/dev/zero``, a
        FIFO or a socket), or if the file is not a valid IDX file: bad gzip data, a name
        ending in ``.gz`` on a file that is not gzipped, a short header, a bad magic number,
        an unknown type code, a zero-length dimension (a file of no values), or a payload
        shorter (truncated) or longer (trailing bytes) than the header says. The message
        names the file.

    Examples
    --------
    Write a 2x3 ``int16`` array as IDX and read it back:

    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> from skvae.datasets import load_idx
    >>> header = bytes([0, 0, 0x0B, 2]) + np.array([2, 3], dtype=">u4").tobytes()
    >>> values = np.arange(6, dtype=">i2").tobytes()
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-short.gz")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(header + values)
    >>> load_idx(path)
    array([[0, 1, 2],
           [3, 4, 5]], dtype=int16)
    """
    path = Path(path)
    with _open_regular(path) as raw_file:
        size = os.fstat(raw_file.fileno()).st_size
        compressed = raw_file.read(2) == _GZIP_MAGIC
        raw_file.seek(0)
        if compressed:
            stream = gzip.GzipFile(fileobj=raw_file, mode="rb")
        elif path.suffix == ".gz":
            raise ValueError(
                f"{path}: the name ends in '.gz' but the file is not gzip-compressed."
            )
        else:
            stream = raw_file
        try:
            return _read_idx(stream, path, size, compressed)
        except (OSError, EOFError, zlib.error) as exc:
            if not compressed:
                raise
            raise ValueError(f"{path}: corrupt gzip data ({exc}).") from exc
        finally:
            stream.close()


def _open_regular(path):
    """Open ``path`` for binary reading, refusing anything but a regular file.

    ``O_NONBLOCK`` keeps the open of a FIFO from waiting for a writer; the type is checked
    on the open descriptor (``fstat``), so the file cannot be swapped in between.
    """
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory" if stat.S_ISDIR(mode)
                else "a character device" if stat.S_ISCHR(mode)
                else "a block device" if stat.S_ISBLK(mode)
                else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode)
                else "not a regular file"
            )
            raise ValueError(
                f"{path}: not a regular file ({kind}); load_idx reads IDX files stored on "
                "disk only."
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_exactly(stream, buffer):
    """Fill ``buffer`` (a writable byte memoryview) from ``stream``; return the bytes read."""
    filled = 0
    total = len(buffer)
    while filled < total:
        n = stream.readinto(buffer[filled : filled + _CHUNK])
        if not n:
            break
        filled += n
    return filled


def _read_idx(stream, path, size, compressed):
    """Parse an IDX stream: header, then exactly the declared payload, then end of data.

    Memory stays bounded by the declared size: the payload is read in chunks straight into
    the result array, and at most one byte past it is read to detect trailing data.
    """
    head = stream.read(4)
    if len(head) < 4:
        raise ValueError(
            f"{path}: not an IDX file: only {len(head)} bytes, shorter than the 4-byte header."
        )
    if head[0] != 0 or head[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: bad magic number 0x{head.hex()} "
            "(it must start with two zero bytes)."
        )
    code, ndim = head[2], head[3]
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02X} (known: {known}).")
    if ndim == 0:
        raise ValueError(f"{path}: the IDX header declares 0 dimensions.")
    offset = 4 + 4 * ndim
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"{path}: truncated header: {ndim} dimensions need {offset} header bytes, "
            f"the file has {4 + len(dims)}."
        )
    shape = tuple(int(s) for s in np.frombuffer(dims, dtype=">u4"))
    if 0 in shape:
        raise ValueError(
            f"{path}: the IDX header declares a zero-length dimension (shape {shape}), so "
            "the file holds no values; it is empty or corrupt: get a complete copy."
        )
    dtype = _IDX_DTYPES[code]
    count = math.prod(shape)
    expected = count * dtype.itemsize
    needs = f"shape {shape} of {dtype.name} needs {expected} bytes after the header"

    # Refuse before allocating when the file cannot hold the declared payload: a plain
    # file's size is known, and deflate expands at most ~1032:1.
    if not compressed and size - offset != expected:
        what = "truncated data" if size - offset < expected else "trailing bytes after the data"
        raise ValueError(f"{path}: {what}: {needs}, the file has {size - offset}.")
    if compressed and expected > _MAX_DEFLATE_RATIO * size:
        raise ValueError(
            f"{path}: truncated data: {needs}, more than a {size}-byte gzip file can hold."
        )

    native = dtype.newbyteorder("=")
    array = np.empty(shape, dtype=native)
    found = _read_exactly(stream, memoryview(array).cast("B"))
    if found < expected:
        raise ValueError(f"{path}: truncated data: {needs}, the file has {found}.")
    if stream.read(1):
        raise ValueError(
            f"{path}: trailing bytes after the data: {needs}, the file has more; "
            "it is corrupt."
        )
    if native != dtype:  # the values on disk are big-endian
        array.byteswap(inplace=True)
    return array


def _check_subset(subset):
    if not isinstance(subset, str) or subset not in _SUBSETS:
        valid = ", ".join(repr(s) for s in _SUBSETS)
        raise ValueError(f"subset must be one of {valid}; got {subset!r}.")


def _find_file(directory, stem):
    """Path of ``stem`` or ``stem.gz`` in ``directory`` (plain file preferred), or None."""
    for name in (stem, stem + ".gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _missing_files(directory, subset):
    """Names (without .gz) of the files ``subset`` needs that ``directory`` lacks."""
    return [
        stem.format(prefix)
        for prefix in _PREFIXES[subset]
        for stem in (_IMAGES, _LABELS)
        if _find_file(directory, stem.format(prefix)) is None
    ]


def _load_pair(directory, prefix, expected=None):
    """Images, labels and file names of one prefix; ``expected`` = (name, (h, w), classes)."""
    images_path = _find_file(directory, _IMAGES.format(prefix))
    labels_path = _find_file(directory, _LABELS.format(prefix))
    images = load_idx(images_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected a 3-d uint8 array of images (n, height, width), got "
            f"shape {images.shape} of {images.dtype}."
        )
    if expected is not None and images.shape[1:] != expected[1]:
        name, (height, width), _ = expected
        raise ValueError(
            f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, but {name} "
            f"images are {height}x{width}: {directory} is not {name}. Point data_home (or "
            f"{_ENV_VAR}) at a folder holding the {name} files, or read other IDX data "
            "with skvae.datasets.load_idx_dir."
        )
    labels = load_idx(labels_path)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{labels_path}: expected a 1-d integer array of labels, got shape "
            f"{labels.shape} of {labels.dtype}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels; the counts must match."
        )
    if expected is not None and len(labels):
        name, _, n_classes = expected
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= n_classes:
            raise ValueError(
                f"{labels_path} holds labels from {low} to {high}, but {name} has "
                f"{n_classes} classes, 0 to {n_classes - 1}: {directory} is not {name}."
            )
    return images, labels, [str(images_path), str(labels_path)]


def _load_dir(directory, subset, return_X_y, target_names, descr, expected=None):
    _check_subset(subset)
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory.")
    missing = _missing_files(directory, subset)
    if missing:
        raise FileNotFoundError(
            f"{directory} lacks the IDX files for subset={subset!r}: "
            + ", ".join(f"{name}[.gz]" for name in missing)
            + "."
        )
    parts = [_load_pair(directory, prefix, expected) for prefix in _PREFIXES[subset]]
    if len({p[0].shape[1:] for p in parts}) > 1:
        shapes = " and ".join(f"{p[0].shape[1:]} in {p[2][0]}" for p in parts)
        raise ValueError(f"The train and test images differ in size: {shapes}.")
    if len(parts) == 1:
        raw_images, raw_labels, filenames = parts[0]
    else:
        raw_images = np.concatenate([p[0] for p in parts])
        raw_labels = np.concatenate([p[1] for p in parts])
        filenames = [name for p in parts for name in p[2]]

    images = raw_images.astype(np.float32)
    images /= np.float32(255)
    data = images.reshape(len(images), -1)  # a view: data and images share memory
    target = raw_labels.astype(np.int64)
    if return_X_y:
        return data, target
    if descr is None:
        descr = (
            f"Images and labels read from the IDX files in {directory} (subset={subset!r}): "
            f"{len(images)} images of {images.shape[1]}x{images.shape[2]} pixels scaled to "
            "[0, 1]."
        )
    return Bunch(
        data=data,
        target=target,
        images=images,
        target_names=None if target_names is None else list(target_names),
        image_shape=(1, *images.shape[1:]),
        DESCR=descr,
        filenames=filenames,
    )


def load_idx_dir(directory, subset="train", *, return_X_y=False, target_names=None):
    """Load a directory of IDX files in MNIST layout.

    The directory holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each plain or gzipped (with
    a ``.gz`` suffix); only the files the chosen subset needs must be there. This is the
    layout of MNIST, Fashion-MNIST, KMNIST and similar data sets.

    Parameters
    ----------
    directory : str or os.PathLike
        The directory holding the files (``~`` is expanded).
    subset : {'train', 'test', 'all'}, default='train'
        Which part to load: ``'train'`` (the ``train-*`` files), ``'test'`` (the ``t10k-*``
        files) or ``'all'`` (train followed by test).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    target_names : sequence of str, default=None
        Class names to store in the Bunch, the name of class ``i`` at index ``i``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, height * width), dtype float32
            The flattened images, pixel values divided by 255, so in [0, 1].
        target : ndarray of shape (n_samples,), dtype int64
            The labels.
        images : ndarray of shape (n_samples, height, width), dtype float32
            The same pixels as ``data`` (shared memory), as images.
        target_names : list of str or None
            ``target_names`` as given.
        image_shape : tuple of int
            ``(1, height, width)``: the channel-first shape of one image, as convolutional
            models want it.
        DESCR : str
            A description of what was loaded.
        filenames : list of str
            The files read, images and labels per part.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (n_samples, height * width) and ``target`` of shape (n_samples,).

    Raises
    ------
    ValueError
        If ``subset`` is not one of the valid values, if a file is corrupt (see
        :func:`load_idx`), if a file holds the wrong kind of array (images must be 3-d
        ``uint8``, labels 1-d integers), if the number of images and of labels differ, or
        if the train and test images differ in size.
    FileNotFoundError
        If ``directory`` does not exist or lacks a file the subset needs; the message lists
        the missing files.

    See Also
    --------
    fetch_fashion_mnist : Find and load Fashion-MNIST.
    load_idx : Read a single IDX file.

    Examples
    --------
    Write a tiny data set of four 2x3 images in MNIST layout and load it:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from skvae.datasets import load_idx_dir
    >>> def write_idx(path, array):
    ...     header = bytes([0, 0, 0x08, array.ndim])
    ...     header += np.array(array.shape, dtype=">u4").tobytes()
    ...     with open(path, "wb") as f:
    ...         _ = f.write(header + array.astype(np.uint8).tobytes())
    >>> root = tempfile.mkdtemp()
    >>> pixels = np.arange(24).reshape(4, 2, 3) * 10
    >>> write_idx(os.path.join(root, "train-images-idx3-ubyte"), pixels)
    >>> write_idx(os.path.join(root, "train-labels-idx1-ubyte"), np.array([0, 1, 1, 0]))
    >>> bunch = load_idx_dir(root, "train", target_names=["even", "odd"])
    >>> bunch.data.shape, bunch.data.dtype, bunch.images.shape, bunch.image_shape
    ((4, 6), dtype('float32'), (4, 2, 3), (1, 2, 3))
    >>> round(float(bunch.data.max()), 4), bunch.target
    (0.902, array([0, 1, 1, 0]))
    >>> X, y = load_idx_dir(root, return_X_y=True)
    >>> X.shape, y.dtype
    ((4, 6), dtype('int64'))
    """
    return _load_dir(directory, subset, return_X_y, target_names, descr=None)


def _default_download_dir():
    return Path.home() / "skvae_data" / _SUBDIR


def _search_dirs(data_home):
    """(directories to search, where to download, whether the choice was explicit)."""
    if data_home is not None:
        root = Path(data_home).expanduser()
        return [root, root / _SUBDIR], root, True
    env = os.environ.get(_ENV_VAR, "")
    if env:
        root = Path(env).expanduser()
        return [root, root / _SUBDIR], root / _SUBDIR, True
    home = _default_download_dir()
    return [_SYSTEM_DIR, home], home, False


def _how_to_get(mention_download=True):
    text = (
        "To get the files, either install the Debian/Ubuntu package "
        "(`apt-get install dataset-fashion-mnist`, which puts them in "
        f"{_SYSTEM_DIR}), or download the four .gz files (train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) "
        f"from the official Zalando repository {_OFFICIAL_REPO} into a directory and pass "
        f"`data_home=<that directory>` or set the {_ENV_VAR} environment variable to it"
    )
    if mention_download:
        text += "; or call fetch_fashion_mnist(download_if_missing=True)"
    return text + "."


def _download_fashion_mnist(target_dir):
    """Download the Fashion-MNIST files that ``target_dir`` lacks, checking their MD5."""
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, md5 in _FASHION_MNIST_MD5.items():
        stem = name[: -len(".gz")]
        if _find_file(target_dir, stem) is not None:
            continue
        errors = []
        for mirror in _FASHION_MNIST_MIRRORS:
            url = mirror + name
            try:
                with urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT) as response:
                    payload = response.read()
            except (OSError, http.client.HTTPException, ValueError) as exc:
                errors.append(f"{url}: {exc}")
                continue
            digest = hashlib.md5(payload, usedforsecurity=False).hexdigest()
            if digest != md5:
                errors.append(f"{url}: MD5 {digest} does not match the published {md5}")
                continue
            partial = target_dir / (name + ".part")
            partial.write_bytes(payload)
            os.replace(partial, target_dir / name)
            break
        else:
            raise OSError(
                f"Downloading Fashion-MNIST into {target_dir} failed (no network, or the "
                "server refused or sent a corrupt file):\n  "
                + "\n  ".join(errors)
                + "\n"
                + _how_to_get(mention_download=False)
            )


def fetch_fashion_mnist(
    subset="train", *, data_home=None, return_X_y=False, download_if_missing=False
):
    """Load the Fashion-MNIST data set (Zalando's clothing images) from local files.

    ==============  =====================================
    Classes         10
    Samples total   70,000 (60,000 train + 10,000 test)
    Dimensionality  784 (28 x 28 grayscale)
    Features        float32 in [0, 1]
    ==============  =====================================

    Where the files are looked for, in order:

    1. ``data_home``, if given;
    2. else the directory in the ``SKVAE_DATA`` environment variable, if set;
    3. else ``/usr/share/datasets/fashion-mnist`` (installed by the Debian/Ubuntu package
       ``dataset-fashion-mnist``), then ``~/skvae_data/fashion-mnist`` (where
       ``download_if_missing=True`` puts them by default).

    For 1 and 2 the files may be in the directory itself or in a ``fashion-mnist/``
    subfolder of it. An explicit ``data_home`` or ``SKVAE_DATA`` that lacks the files is an
    error: it does not fall back to the system directory, so the data you point at is the
    data you get.

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default='train'
        ``'train'`` (60,000 images), ``'test'`` (10,000) or ``'all'`` (train then test).
    data_home : str or os.PathLike, default=None
        Directory holding the four IDX files (``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
        ``t10k-labels-idx1-ubyte.gz``, gzipped or not), or a directory with a
        ``fashion-mnist/`` subfolder holding them. None searches the places listed above.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    download_if_missing : bool, default=False
        If True and the files are not found, download them from the official Zalando
        mirrors (checking the published MD5 checksums) into ``data_home``, or
        ``$SKVAE_DATA/fashion-mnist``, or ``~/skvae_data/fashion-mnist``. The default never
        touches the network.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As returned by :func:`load_idx_dir`: ``data`` (n_samples, 784) float32 in [0, 1],
        ``target`` (n_samples,) int64 in 0..9, ``images`` (n_samples, 28, 28) float32,
        ``target_names`` (the 10 class names, ``'T-shirt/top'`` ... ``'Ankle boot'``),
        ``image_shape`` ``(1, 28, 28)``, ``DESCR`` and ``filenames``.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (n_samples, 784) and ``target`` of shape (n_samples,).

    Raises
    ------
    FileNotFoundError
        If the files are not found (and ``download_if_missing`` is False). The message
        lists the places searched and how to get the files.
    OSError
        If ``download_if_missing`` is True and the download fails; the message says why and
        how to get the files by hand.
    ValueError
        If ``subset`` is not valid, a file is corrupt (see :func:`load_idx_dir`), or the
        files are not Fashion-MNIST: images other than 28x28, or labels outside 0..9 (the
        message names the file).

    See Also
    --------
    load_idx_dir : Load any directory in MNIST layout (MNIST itself, KMNIST, ...).

    Examples
    --------
    >>> from skvae.datasets import fetch_fashion_mnist
    >>> X, y = fetch_fashion_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype, y.shape  # doctest: +SKIP
    ((10000, 784), dtype('float32'), (10000,))
    >>> fetch_fashion_mnist().target_names[:3]  # doctest: +SKIP
    ['T-shirt/top', 'Trouser', 'Pullover']

    Pass the images' shape to the estimators: the conv networks and the image shifts of
    the default ``VAEClassifier`` need it (rows given flat without it are just columns).

    >>> from skvae import VAEClassifier
    >>> bunch = fetch_fashion_mnist()  # doctest: +SKIP
    >>> clf = VAEClassifier(image_shape=bunch.image_shape)  # (1, 28, 28)  # doctest: +SKIP
    >>> clf = clf.fit(bunch.data / 255, bunch.target)  # doctest: +SKIP
    """
    _check_subset(subset)
    directories, download_dir, explicit = _search_dirs(data_home)
    for directory in directories:
        if directory.is_dir() and not _missing_files(directory, subset):
            break
    else:
        if not download_if_missing:
            if data_home is not None:
                source = "the given data_home"
            elif explicit:
                source = f"{_ENV_VAR}={os.environ[_ENV_VAR]}"
            else:
                source = None
            searched = "\n".join(f"  {d}" for d in directories)
            note = (
                f"(An explicit location, {source}, is not combined with the default ones.)\n"
                if source
                else ""
            )
            raise FileNotFoundError(
                f"Fashion-MNIST files for subset={subset!r} not found. Searched:\n{searched}\n"
                + note
                + _how_to_get()
            )
        _download_fashion_mnist(download_dir)
        directory = download_dir
    return _load_dir(
        directory, subset, return_X_y, _FASHION_MNIST_CLASSES, descr=_FASHION_MNIST_DESCR,
        expected=("Fashion-MNIST", (28, 28), len(_FASHION_MNIST_CLASSES)),
    )

"""A new user's second hour (issue 30): images, labels, weights, files, quiet runs."""

import warnings

import numpy as np
import pytest

from skvae import Rows, VAEClassifier, VAETransformer

TINY = dict(n_components=2, hidden_layer_sizes=(16,), max_iter=2, device="cpu",
            random_state=0, tol=None)


# -- 30.5: images -------------------------------------------------------------------
@pytest.mark.parametrize("shape, reshape, image_shape", [
    ((20, 8, 8), "X.reshape(20, -1) (shape (20, 64))", "image_shape=(1, 8, 8)"),
    ((20, 3, 4, 4), "X.reshape(20, -1) (shape (20, 48))", "image_shape=(3, 4, 4)"),
    ((20, 8, 8, 3), "X.transpose(0, 3, 1, 2).reshape(20, -1) (shape (20, 192))",
     "image_shape=(3, 8, 8)"),
])
@pytest.mark.parametrize("Estimator", [VAETransformer, VAEClassifier])
def test_images_get_the_exact_reshape_and_image_shape(Estimator, shape, reshape,
                                                      image_shape):
    X = np.random.default_rng(0).random(shape)
    y = np.arange(len(X)) % 2
    args = (X,) if Estimator is VAETransformer else (X, y)
    with pytest.raises(ValueError) as err:
        Estimator(**TINY).fit(*args)
    message = str(err.value)
    assert f"X has shape {shape}" in message
    assert reshape in message and image_shape in message
    # ... and the call it names works.
    flat = X.transpose(0, 3, 1, 2) if "transpose" in reshape else X
    shape_arg = eval(image_shape.split("=")[1])
    Estimator(image_shape=shape_arg, **TINY).fit(flat.reshape(len(X), -1), *args[1:])


def test_images_at_predict_time_get_the_same_advice(small_vae, digits):
    with pytest.raises(ValueError, match=r"X.reshape\(3, -1\)"):
        small_vae.transform(digits[0][:3].reshape(3, 8, 8))


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_channels_last_image_shape_is_refused_with_the_channels_first_one(architecture):
    X = np.random.default_rng(0).random((20, 784))
    with pytest.raises(ValueError, match=r"channels-last.*image_shape=\(1, 28, 28\)"):
        VAETransformer(architecture=architecture, image_shape=(28, 28, 1), **TINY).fit(X)
    with pytest.raises(ValueError, match=r"image_shape=\(3, 32, 32\)"):
        VAETransformer(image_shape=(32, 32, 3), **TINY).fit(
            np.random.default_rng(0).random((4, 3072)))


def test_the_loader_and_first_pages_show_image_shape():
    from pathlib import Path

    from skvae import datasets

    root = Path(__file__).resolve().parents[1]
    call = "image_shape=fetch_fashion_mnist().image_shape"
    assert "image_shape=" in datasets.fetch_fashion_mnist.__doc__
    assert "bunch.image_shape" in datasets.fetch_fashion_mnist.__doc__
    for page in ("README.md", "docs/index.md", "docs/getting_started.md"):
        text = (root / page).read_text()
        assert call in text or "image_shape=fashion.image_shape" in text, page


# -- 30.7: labels ---------------------------------------------------------------------
def test_a_string_minus_one_among_integer_like_labels_warns(X300):
    y = np.array([str(v) for v in np.arange(len(X300)) % 3], dtype=object)
    y[100:] = "-1"
    with pytest.warns(UserWarning, match="string '-1'.*integer -1"):
        clf = VAEClassifier(**TINY).fit(X300, y)
    assert "-1" in clf.classes_  # still an ordinary class, as documented
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ordinary string labels: no warning
        VAEClassifier(**TINY).fit(X300, np.array(["a", "b", "c"])[np.arange(300) % 3])


def test_an_overcomplete_code_stays_allowed(X300):
    vae = VAETransformer(**{**TINY, "n_components": 100}).fit(X300)
    assert vae.transform(X300[:2]).shape == (2, 100)


# -- 30.8, fault 9: weights that leave no labels ------------------------------------------
def test_zero_weight_on_every_labelled_row_is_refused_before_training(X300, monkeypatch):
    from skvae import _base

    y = np.where(np.arange(300) < 50, np.arange(300) % 5, -1)
    w = np.where(y == -1, 1.0, 0.0)

    def trained(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(_base.BaseVAE, "_build_and_train", trained)
    clf = VAEClassifier(**TINY)
    with pytest.raises(ValueError, match="0 for every labelled row"):
        clf.fit(X300, y, sample_weight=w)
    w[0] = 1.0  # one class left
    with pytest.raises(ValueError, match="labelled rows of one class"):
        clf.fit(X300, y, sample_weight=w)
    assert not hasattr(clf, "classes_")


def test_zero_weight_on_some_labelled_rows_still_fits(X300):
    y = np.where(np.arange(300) < 50, np.arange(300) % 5, -1)
    w = np.ones(300)
    w[:10] = 0.0
    VAEClassifier(**TINY).fit(X300, y, sample_weight=w)


# -- 30.8, fault 12: a closed HDF5 file -------------------------------------------------------
def test_rows_over_a_closed_h5py_file_name_the_file(tmp_path, X300):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "digits.h5"
    with h5py.File(path, "w") as f:
        f["X"] = X300.astype(np.float32)
    f = h5py.File(path, "r")
    rows = Rows(f["X"])
    dataset = f["X"]
    f.close()
    with pytest.raises(ValueError, match=r"file is closed") as err:
        VAETransformer(**TINY).fit(rows)
    assert "digits.h5" in str(err.value) and "/X" in str(err.value)
    with pytest.raises(ValueError, match=r"file is closed"):
        VAETransformer(**TINY).fit(dataset)


# -- 30.7: install ---------------------------------------------------------------------------
def test_make_demo_installs_only_what_the_demo_needs():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    make = (root / "Makefile").read_text()
    demo = make[make.index("$(DEMO_STAMP): pyproject.toml"):make.index("touch $(DEMO_STAMP)")]
    assert '-e ".[plot]"' in demo and "[dev]" not in demo
    assert "minutes" in demo  # it says how long it takes
    assert "demo: $(DEMO_STAMP)\n" in make and "OMP_NUM_THREADS=1 $(VENV)/bin/skvae" not in make
    examples = (root / "examples" / "README.rst").read_text()
    assert 'pip install -e ".[plot]"' in examples
    assert 'pip install "skvae[plot]"' not in examples

"""Fixtures shared by the whole suite (the only place fixtures are defined)."""

import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skvae import VAEClassifier, VAEOutlierDetector, VAETransformer

# Tiny test nets gain nothing from more threads, and extra threads spin against other
# work on a shared 2-core machine (a fit was measured 30x slower with 2 threads there).
torch.set_num_threads(1)

#: A small, fast VAE configuration for API tests.
SMALL = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=3, device="cpu")
PLOT = dict(hidden_layer_sizes=(32,), max_iter=3, batch_size=64, device="cpu")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


# -- data ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def digits():
    """sklearn's 8x8 digits scaled to [0, 1], 30 % held out (stratified):
    ``X_train, X_test, y_train, y_test``."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="session")
def digits_full():
    """All 1,797 digits as float32 in [0, 1], and their labels: ``X, y``."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="session")
def X300(digits):
    """300 training digits, for quick fault tests."""
    return digits[0][:300]


@pytest.fixture
def X_random():
    """103 x 12 uniform floats: an odd row count for batch-boundary tests."""
    return np.random.default_rng(0).random((103, 12)).astype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# -- fitted models (trained once per session) -----------------------------------
@pytest.fixture(scope="session")
def fitted_vae(digits):
    """A VAE trained well enough on digits to show learned structure."""
    X_train, _, _, _ = digits
    return VAETransformer(n_components=16, beta=0.5, max_iter=100, device="cpu",
                          random_state=0).fit(X_train)


@pytest.fixture(scope="session")
def small_vae(digits):
    """A VAE trained for 3 epochs: for API tests that need a fitted model."""
    return VAETransformer(random_state=0, **SMALL).fit(digits[0])


@pytest.fixture(scope="session")
def fitted_conv(digits_full):
    """A conv VAE on the 8x8 digits as one-channel images."""
    X, _ = digits_full
    return VAETransformer(
        n_components=8, architecture="conv", image_shape=(1, 8, 8), hidden_layer_sizes=(64,),
        max_iter=30, batch_size=64, learning_rate_init=3e-3, device="cpu", random_state=0,
    ).fit(X)


@pytest.fixture(scope="session")
def labelled_model(digits):
    """A VAEClassifier with its defaults, trained on every training label."""
    X_train, _, y_train, _ = digits
    return VAEClassifier(device="cpu", random_state=0).fit(X_train, y_train)


@pytest.fixture(scope="session")
def m1_codes(digits, fitted_vae):
    """M1: the unsupervised VAE's standardised codes of the digits (Kingma et al. 2014)."""
    X_train, X_test, _, _ = digits
    scaler = StandardScaler().fit(fitted_vae.transform(X_train))
    return scaler.transform(fitted_vae.transform(X_train)), scaler.transform(
        fitted_vae.transform(X_test))


#: A small detector for the outlier tests: 600 digits of every class, 30 epochs.
OUTLIER = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=30, device="cpu",
               random_state=0)


@pytest.fixture(scope="session")
def outlier_data(digits_full):
    """Digits as ``X_train`` (600 rows, every class) and ``X_test`` (300 other rows)."""
    X, _ = digits_full
    return X[:600], X[600:900]


@pytest.fixture(scope="session")
def detector(outlier_data):
    """A VAEOutlierDetector with its default score, fitted on ``outlier_data``'s rows."""
    return VAEOutlierDetector(**OUTLIER).fit(outlier_data[0])


@pytest.fixture(scope="session")
def likelihood_detector(outlier_data):
    """The same VAE as ``detector`` (same seed and data), scoring with its likelihood."""
    return VAEOutlierDetector(score_method="likelihood", **OUTLIER).fit(outlier_data[0])


@pytest.fixture(scope="session")
def vae2(digits):
    """A 2-d VAE for the plotting tests."""
    return VAETransformer(n_components=2, random_state=0, **PLOT).fit(digits[0])


@pytest.fixture(scope="session")
def vae3(digits):
    """A 3-d VAE for the plotting tests."""
    return VAETransformer(n_components=3, random_state=0, **PLOT).fit(digits[0])


# -- process state ----------------------------------------------------------------
@pytest.fixture(autouse=True)
def close_figures():
    """Close every matplotlib figure a test opened (when matplotlib is in use)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def one_thread():
    """One torch thread in this process too, as in Dask's workers (restored afterwards).

    Small nets gain nothing from a second thread, and on a busy 2-core machine two
    threads that wait for each other are many times slower than one.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No SKVAE_DATA and an empty home, so that no real user data is picked up."""
    monkeypatch.delenv("SKVAE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if the CLI trains any model: its checks must come first."""
    from skvae import cli

    def trained(*args, **kwargs):
        raise AssertionError("a model was trained before the arguments were checked")

    monkeypatch.setattr(cli, "run_comparison", trained)
    monkeypatch.setattr(cli, "run_semisupervised", trained)

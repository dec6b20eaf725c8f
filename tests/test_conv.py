"""Conv architecture, image_shape validation, precision, devices and GPU->CPU pickling."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC

from skvae import VAETransformer
from skvae._base import resolve_device
from skvae.nn import ConvBody, ConvDecoder, ConvEncoder, conv_sizes

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")



@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="module")
def fitted_conv(digits):
    X, _ = digits
    return VAETransformer(
        n_components=8, architecture="conv", image_shape=(1, 8, 8), hidden_layer_sizes=(64,),
        max_iter=30, batch_size=64, learning_rate_init=3e-3, device="cpu", random_state=0,
    ).fit(X)


# -- pure torch modules ----------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (3, 7, 5), (2, 1, 1), (1, 9, 30)])
def test_conv_modules_round_any_image_size(shape):
    n_pixels = int(np.prod(shape))
    enc = ConvEncoder(shape, 3, n_condition=2, channels=(4, 8), hidden_layer_sizes=(16,))
    dec = ConvDecoder(3, shape, channels=(8, 4), hidden_layer_sizes=(16,))
    mu, logvar = enc(torch.rand(5, n_pixels), torch.zeros(5, 2))
    assert mu.shape == logvar.shape == (5, 3)
    assert dec(mu).shape == (5, n_pixels)


def test_conv_encoder_reads_channels_first():
    # A pixel in channel 1 must influence the output; flattened C-order layout.
    enc = ConvEncoder((2, 4, 4), 2, channels=(3,), hidden_layer_sizes=())
    x = torch.zeros(1, 32)
    x2 = x.clone()
    x2[0, 16] = 1.0  # channel 1, row 0, col 0
    assert not torch.equal(enc(x)[0], enc(x2)[0])


def test_conv_sizes_halve_rounding_up():
    assert conv_sizes(8, 8, 2) == [(8, 8), (4, 4), (2, 2)]
    assert conv_sizes(7, 5, 3) == [(7, 5), (4, 3), (2, 2), (1, 1)]


def test_conv_module_rejects_bad_shape():
    with pytest.raises(ValueError, match="channels, height, width"):
        ConvEncoder((28, 28), 2)


# -- estimator -------------------------------------------------------------------
def test_conv_vae_learns_digits(digits, fitted_conv):
    X, _ = digits
    recon = fitted_conv.inverse_transform(fitted_conv.transform(X))
    err = np.mean((recon - X) ** 2)
    err_mean_image = np.mean((X.mean(axis=0) - X) ** 2)
    assert err < 0.6 * err_mean_image
    assert fitted_conv.loss_curve_[-1] < fitted_conv.loss_curve_[0]
    assert isinstance(fitted_conv.net_.module_.encoder.body, ConvBody)


def test_conv_pipeline_svc_well_above_chance(digits):
    X, y = digits
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    pipe = make_pipeline(
        VAETransformer(n_components=8, architecture="conv", image_shape=(1, 8, 8),
                       hidden_layer_sizes=(64,), max_iter=25, batch_size=64,
                       learning_rate_init=3e-3, device="cpu", random_state=0),
        SVC(),
    )
    assert pipe.fit(X_tr, y_tr).score(X_te, y_te) > 0.6  # chance is 0.1


def test_conv_infers_square_single_channel(digits):
    X, _ = digits
    vae = VAETransformer(n_components=2, architecture="conv", hidden_layer_sizes=(8,),
                         max_iter=1, device="cpu", random_state=0).fit(X[:50])
    assert vae.net_.module_.encoder.body.image_shape == (1, 8, 8)


def test_conv_without_shape_on_non_square_errors():
    X = np.random.default_rng(0).random((20, 60))
    with pytest.raises(ValueError, match="perfect square.*image_shape"):
        VAETransformer(architecture="conv", max_iter=1).fit(X)


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_image_shape_mismatch_errors(digits, architecture):
    X, _ = digits
    vae = VAETransformer(architecture=architecture, image_shape=(1, 28, 28), max_iter=1)
    with pytest.raises(ValueError, match=r"784 pixels per image but X has 64 features"):
        vae.fit(X[:20])


@pytest.mark.parametrize("bad", [(8, 8), (1, 8, 8, 1), (1, -8, -8), (1.5, 8, 8)])
def test_image_shape_malformed_errors(digits, bad):
    X, _ = digits
    with pytest.raises(ValueError, match="image_shape must be three positive integers"):
        VAETransformer(architecture="conv", image_shape=bad, max_iter=1).fit(X[:20])


def test_unknown_architecture_errors(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="architecture"):
        VAETransformer(architecture="resnet", max_iter=1).fit(X[:20])


def test_conv_params_clone_and_multichannel():
    rng = np.random.default_rng(0)
    X = rng.random((40, 3 * 6 * 5)).astype(np.float32)
    vae = VAETransformer(n_components=3, architecture="conv", image_shape=(3, 6, 5),
                         hidden_layer_sizes=(16,), max_iter=2, device="cpu", random_state=0)
    params = clone(vae).get_params()
    assert params["architecture"] == "conv" and params["image_shape"] == (3, 6, 5)
    assert vae.fit(X).transform(X).shape == (40, 3)
    assert vae.inverse_transform(vae.transform(X)).shape == X.shape


def test_conv_is_deterministic_given_seed(digits):
    X, _ = digits
    kw = {"n_components": 2, "architecture": "conv", "hidden_layer_sizes": (8,), "max_iter": 2,
              "device": "cpu", "random_state": 3}
    a = VAETransformer(**kw).fit(X[:200]).transform(X[:10])
    b = VAETransformer(**kw).fit(X[:200]).transform(X[:10])
    np.testing.assert_array_equal(a, b)


def test_bf16_mixed_precision_runs_on_cpu(digits):
    X, _ = digits
    vae = VAETransformer(n_components=4, architecture="conv", hidden_layer_sizes=(32,),
                         precision="bf16-mixed", max_iter=4, learning_rate_init=3e-3,
                         device="cpu", random_state=0).fit(X)
    assert np.all(np.isfinite(vae.loss_curve_))
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    assert vae.transform(X[:5]).dtype == np.float32


def test_unknown_precision_errors(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="precision"):
        VAETransformer(precision="16", max_iter=1).fit(X[:20])


# -- devices -----------------------------------------------------------------------
def test_auto_device_picks_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"


def test_fake_gpu_pickle_loads_and_predicts_on_cpu(digits, fitted_conv, monkeypatch):
    """A model pickled on a GPU machine loads on a CPU-only one (weights mapped to CPU).

    No GPU here: fake the pickled state's device as 'cuda' and hide CUDA while
    loading, which is what a CPU-only machine sees. skorch maps the weights with
    ``get_map_location`` and warns (DeviceWarning) that it loads on the CPU.
    """
    X, _ = digits
    expected = fitted_conv.transform(X[:20])
    gpu_model = pickle.loads(pickle.dumps(fitted_conv))
    gpu_model.device = "cuda"
    gpu_model.net_.device = "cuda"
    blob = pickle.dumps(gpu_model)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="CUDA"):
        loaded = pickle.loads(blob)
    assert str(loaded.net_.device) == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.net_.module_.parameters())
    np.testing.assert_allclose(loaded.transform(X[:20]), expected, rtol=1e-6)
    # Training on continues on the CPU; a fresh fit with the stored device='cuda'
    # fails clearly on this machine.
    loaded.partial_fit(X[:100])
    with pytest.raises(ValueError, match="CUDA is not available"):
        loaded.fit(X[:20])


@pytest.mark.gpu
@needs_cuda
def test_gpu_fit_pickle_and_cpu_predict(digits):
    X, _ = digits
    vae = VAETransformer(n_components=4, architecture="conv", max_iter=3, device="cuda",
                         random_state=0).fit(X)
    assert next(vae.net_.module_.parameters()).device.type == "cuda"
    Z = vae.transform(X[:10])
    loaded = pickle.loads(pickle.dumps(vae))
    np.testing.assert_allclose(loaded.transform(X[:10]), Z, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@needs_cuda
def test_gpu_matches_cpu_learning_and_bf16(digits):
    X, _ = digits
    for precision in ("32", "bf16-mixed"):
        vae = VAETransformer(n_components=4, architecture="conv", max_iter=5, device="auto",
                             precision=precision, random_state=0).fit(X)
        assert vae.net_.device.startswith("cuda")
        assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vae.transform(X[:5])

"""The shared estimator base: architectures and image shapes, devices, precision,
seeding and hyperparameter validation (both estimators share this code)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from skvae import VAEClassifier, VAETransformer
from skvae._base import resolve_device

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

FAST = dict(n_components=4, hidden_layer_sizes=(32,), max_iter=3, device="cpu")


def test_conv_infers_square_single_channel(digits_full):
    X, _ = digits_full
    vae = VAETransformer(n_components=2, architecture="conv", hidden_layer_sizes=(8,),
                         max_iter=1, device="cpu", random_state=0).fit(X[:50])
    assert vae.net_.module_.encoder.body.image_shape == (1, 8, 8)


def test_conv_without_shape_on_non_square_errors():
    X = np.random.default_rng(0).random((20, 60))
    with pytest.raises(ValueError, match="perfect square.*image_shape"):
        VAETransformer(architecture="conv", max_iter=1).fit(X)


@pytest.mark.parametrize("architecture", ["conv", "mlp"])
def test_image_shape_mismatch_errors(digits_full, architecture):
    X, _ = digits_full
    vae = VAETransformer(architecture=architecture, image_shape=(1, 28, 28), max_iter=1)
    with pytest.raises(ValueError, match=r"784 pixels per image but X has 64 features"):
        vae.fit(X[:20])


@pytest.mark.parametrize("bad", [(8, 8), (1, 8, 8, 1), (1, -8, -8), (1.5, 8, 8)])
def test_image_shape_malformed_errors(digits_full, bad):
    X, _ = digits_full
    with pytest.raises(ValueError, match="image_shape must be three positive integers"):
        VAETransformer(architecture="conv", image_shape=bad, max_iter=1).fit(X[:20])


def test_unknown_architecture_errors(digits_full):
    X, _ = digits_full
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


def test_conv_is_deterministic_given_seed(digits_full):
    X, _ = digits_full
    kw = {"n_components": 2, "architecture": "conv", "hidden_layer_sizes": (8,), "max_iter": 2,
              "device": "cpu", "random_state": 3}
    a = VAETransformer(**kw).fit(X[:200]).transform(X[:10])
    b = VAETransformer(**kw).fit(X[:200]).transform(X[:10])
    np.testing.assert_array_equal(a, b)


def test_bf16_mixed_precision_runs_on_cpu(digits_full):
    X, _ = digits_full
    vae = VAETransformer(n_components=4, architecture="conv", hidden_layer_sizes=(32,),
                         precision="bf16-mixed", max_iter=4, learning_rate_init=3e-3,
                         device="cpu", random_state=0).fit(X)
    assert np.all(np.isfinite(vae.loss_curve_))
    assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    assert vae.transform(X[:5]).dtype == np.float32


class _RecordDtypes(Callback):
    """Record the output dtype of the classifier's and the decoder's layers in training."""

    def on_train_begin(self, net, **kwargs):
        self.seen = {"classifier": set(), "decoder": set()}
        module = getattr(net.module_, "m2", net.module_)  # M2 itself, or M2 in M1 + M2
        for name in self.seen:
            layer = next(m for m in getattr(module, name).modules()
                         if isinstance(m, torch.nn.Linear))
            layer.register_forward_hook(
                lambda mod, inp, out, name=name: self.seen[name].add(out.dtype)
                if mod.training else None)


@pytest.mark.parametrize("model", ["m2", "m1+m2"])
def test_bf16_mixed_covers_every_network_of_the_classifier(digits, model):
    """M2's decoder passes (its costliest part) run under autocast too, not just q(y|x)."""
    X_train, _, y_train, _ = digits
    y = np.where(np.arange(len(y_train)) < 100, y_train, -1)
    record = _RecordDtypes()
    clf = VAEClassifier(n_components=4, hidden_layer_sizes=(32,), precision="bf16-mixed",
                        max_iter=1, model=model, device="cpu",
                        random_state=0, callbacks=[("dtypes", record)]).fit(X_train, y)
    seen = dict(clf.net_.callbacks_)["dtypes"].seen
    assert seen == {"classifier": {torch.bfloat16}, "decoder": {torch.bfloat16}}


def test_unknown_precision_errors(digits_full):
    X, _ = digits_full
    with pytest.raises(ValueError, match="precision"):
        VAETransformer(precision="16", max_iter=1).fit(X[:20])


def test_auto_device_picks_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"


def test_fake_gpu_pickle_loads_and_predicts_on_cpu(digits_full, fitted_conv, monkeypatch):
    """A model pickled on a GPU machine loads on a CPU-only one (weights mapped to CPU).

    No GPU here: fake the pickled state's device as 'cuda' and hide CUDA while
    loading, which is what a CPU-only machine sees. skorch maps the weights with
    ``get_map_location`` and warns (DeviceWarning) that it loads on the CPU.
    """
    X, _ = digits_full
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
def test_gpu_fit_pickle_and_cpu_predict(digits_full):
    X, _ = digits_full
    vae = VAETransformer(n_components=4, architecture="conv", max_iter=3, device="cuda",
                         random_state=0).fit(X)
    assert next(vae.net_.module_.parameters()).device.type == "cuda"
    Z = vae.transform(X[:10])
    loaded = pickle.loads(pickle.dumps(vae))
    np.testing.assert_allclose(loaded.transform(X[:10]), Z, rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@needs_cuda
def test_gpu_matches_cpu_learning_and_bf16(digits_full):
    X, _ = digits_full
    for precision in ("32", "bf16-mixed"):
        vae = VAETransformer(n_components=4, architecture="conv", max_iter=5, device="auto",
                             precision=precision, random_state=0).fit(X)
        assert vae.net_.device.startswith("cuda")
        assert vae.loss_curve_[-1] < vae.loss_curve_[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vae.transform(X[:5])


@pytest.mark.parametrize("device", ["tpu", "cuda:x", "gpu0"])
def test_unknown_device(digits, device):
    with pytest.raises(ValueError, match="device"):
        VAETransformer(**{**FAST, "device": device}).fit(digits[0][:50])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_without_gpu_says_so(digits):
    with pytest.raises(ValueError, match="CUDA is not available"):
        VAETransformer(**{**FAST, "device": "cuda"}).fit(digits[0][:50])


def test_global_torch_rng_untouched(digits):
    state = torch.get_rng_state()
    VAETransformer(random_state=0, **FAST).fit(digits[0][:100])
    assert torch.equal(state, torch.get_rng_state())


def test_cosine_learning_rate_in_the_transformer(digits):
    vae = VAETransformer(**{**FAST, "max_iter": 2, "learning_rate": "cosine"}).fit(digits[0][:100])
    assert list(vae.history_[:, "lr"]) == pytest.approx([1e-3, 5e-4])
    plain = VAETransformer(**{**FAST, "max_iter": 1}).fit(digits[0][:100])
    assert "lr" not in plain.history_[-1]  # 'constant' by default


@pytest.mark.parametrize(
    ("param", "value"),
    [("n_components", 0), ("likelihood", "poisson"), ("max_iter", 0), ("beta", -1.0),
     ("learning_rate_init", 0.0), ("hidden_layer_sizes", (16, -2)), ("max_iter", "fast"),
     ("batch_size", "auto-ish"), ("batch_size", 0), ("learning_rate", "auto")],
)
def test_bad_hyperparameters(digits, param, value):
    with pytest.raises(ValueError, match=param):
        VAETransformer(**{**FAST, param: value}).fit(digits[0][:50])


# -- your own networks, weight decay ---------------------------------------------
class ResBody(torch.nn.Module):
    """A small residual MLP body, as a user would write one."""

    def __init__(self, n_features=64, width=32):
        super().__init__()
        self.inp = torch.nn.Linear(n_features, width)
        self.block = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(width, width))

    def forward(self, x):
        h = self.inp(x)
        return torch.relu(h + self.block(h))


def linear_decoder(n_inputs, n_features):
    return torch.nn.Sequential(torch.nn.Linear(n_inputs, 32), torch.nn.ReLU(),
                               torch.nn.Linear(32, n_features))


@pytest.mark.parametrize("estimator", [VAETransformer, VAEClassifier])
def test_user_modules_train_and_survive_clone_pickle_and_grid_search(digits, estimator):
    X_train, X_test, y_train, y_test = digits
    body = ResBody()
    before = {k: v.clone() for k, v in body.state_dict().items()}
    # VAEClassifier: M2, whose classifier gets its own copy of the user's body.
    model = {"model": "m2"} if estimator is VAEClassifier else {}
    est = estimator(n_components=4, encoder=body, decoder=linear_decoder, max_iter=5,
                    device="cpu", random_state=0, **model)
    fitted = est.fit(X_train, y_train)
    module = fitted.net_.module_
    assert isinstance(module.encoder.body, ResBody) and module.encoder.body is not body
    for k, v in body.state_dict().items():  # the module passed is never trained
        torch.testing.assert_close(v, before[k])
    again = clone(est).fit(X_train, y_train)
    np.testing.assert_array_equal(fitted.transform(X_test), again.transform(X_test))
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.transform(X_test), fitted.transform(X_test))
    if estimator is VAEClassifier:
        assert module.classifier.body is not module.encoder.body
        assert fitted.score(X_test, y_test) > 0.5  # chance is 0.1
    grid = GridSearchCV(clone(est).set_params(max_iter=2),
                        {"encoder": [ResBody(width=8), ResBody(width=16)]}, cv=2)
    grid.fit(X_train[:300], y_train[:300])
    assert grid.best_params_["encoder"].inp.out_features in (8, 16)


def test_a_bad_user_module_is_a_clear_error(digits):
    X = digits[0]
    with pytest.raises(TypeError, match="not a torch.nn.Module"):
        VAETransformer(decoder=lambda n_in, n_out: None, max_iter=1, device="cpu").fit(X)
    with pytest.raises(ValueError, match="'encoder' parameter"):
        VAETransformer(encoder="resnet", max_iter=1, device="cpu").fit(X)


def test_weight_decay_shrinks_the_weights(digits):
    X = digits[0]
    norms = []
    for wd in (0.0, 0.5):
        vae = VAETransformer(**FAST, weight_decay=wd, random_state=0).fit(X)
        norms.append(sum(float(p.norm()) for p in vae.net_.module_.parameters()))
    assert norms[1] < norms[0]


def test_an_encoder_of_the_wrong_input_size_is_a_clear_error(digits):
    with pytest.raises(ValueError, match=r"failed on a batch of shape \(2, 64\)"):
        VAETransformer(encoder=torch.nn.Linear(10, 4), max_iter=1, device="cpu").fit(digits[0])

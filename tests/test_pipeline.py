"""The fit pipeline (issue 20): the fit plan, model recipes, partial_fit, sample_weight."""

import inspect
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

import skvae
from skvae import VAEClassifier, VAETransformer
from skvae.models import MODELS, Recipe, alpha_of
from skvae.models.vae import VAERecipe
from skvae.nn import elbo_parts

PACKAGE = pathlib.Path(skvae.__file__).parent


def small_clf(**params):
    return VAEClassifier(**{"n_components": 4, "hidden_layer_sizes": (32,), "device": "cpu",
                            "random_state": 0, **params})


def small_vae(**params):
    return VAETransformer(**{"n_components": 4, "hidden_layer_sizes": (32,), "device": "cpu",
                             "random_state": 0, **params})


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X[:300] / 16).astype(np.float32)
    y = y[:300]
    y_partial = np.where(np.arange(300) < 60, y, -1)
    return X, y, y_partial


# -- the plan --------------------------------------------------------------------
def test_plan_is_a_fitted_attribute_that_shows_every_resolved_auto(data):
    X, y, y_partial = data
    clf = small_clf(max_iter=2).fit(X, y_partial)
    plan = clf.plan_
    assert plan.model == clf.model_ == "shared-m2"
    assert [s.name for s in plan.stages] == ["shared-M2"]
    stage = plan.final
    assert (stage.batch_size, stage.max_iter, stage.learning_rate,
            stage.labelled_batch_size) == (128, 2, "cosine", 60)
    assert stage.weights == {"reconstruction": 1 / 64, "kl": 1 / 64, "classification": 1.0,
                             "consistency": 3.0, "pseudo": 1.0}
    text = repr(plan)
    for shown in ("model='shared-m2'", "device='cpu'", "batch_size=128", "max_iter=2",
                  "learning_rate='cosine'", "labelled_batch_size=60", "n_labelled=60"):
        assert shown in text
    stacked = small_clf(max_iter=2, model="m1+m2").fit(X, y_partial).plan_
    assert [s.name for s in stacked.stages] == ["M1", "M2"]
    m1, m2 = stacked.stages
    assert (m2.batch_size, m2.max_iter, m2.learning_rate, m2.labelled_batch_size) == (
        128, 2, "constant", 60)
    assert m1.n_components == 32 and m1.weights == {"kl": 0.1}
    assert "'auto'" not in text.replace("data_placement='auto'", "")
    with pytest.raises(AttributeError):
        plan.model = "m2"  # frozen
    # 'auto' is left as it was on the estimator; the plan holds what it chose.
    assert clf.get_params()["batch_size"] == "auto" and clf.get_params()["model"] == "auto"
    assert not [name for name in vars(clf) if name.startswith("_train_")]


def test_verbose_prints_the_plan(data, capsys):
    """verbose=1: one short line for the fit; verbose=2: every setting, one per line."""
    X, y, _ = data
    vae = small_vae(max_iter=1, verbose=1).fit(X)
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first == vae.plan_.summary()
    assert first.startswith("skvae fit: model vae, 1 stage (VAE 1 epoch x ")
    for shown in ("rows", "cpu", "thread"):
        assert shown in first
    assert len(first) < 120 and "FitPlan" not in out and "seed" not in out
    small_vae(max_iter=1, verbose=2).fit(X)
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("skvae fit: model vae, 1 stage")
    assert out.splitlines()[1:3] == ["FitPlan: model 'vae'", "  data: 300 rows x 64 features"]
    for line in ("  n_threads: ", "    batch_size: ", "    seed: ", "    loss_weights: kl=0.1"):
        assert "\n" + line in out, line
    # print(plan_): one setting per line, the same text verbose=2 printed.
    text = str(vae.plan_)
    assert all(line.count(": ") >= 1 for line in text.splitlines())
    assert "    max_iter: 1" in text.splitlines()


def test_base_names_no_model_and_modules_stay_short():
    base = (PACKAGE / "_base.py").read_text()
    for name in ("M2", "StackedM2", "m1+m2", "n_code", "representation"):
        assert name not in base, name
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            assert "over 400 lines" in text[:2000], f"{path} is long with no reason given"


def test_no_docstring_block_is_repeated_between_the_estimators():
    import ast

    from skvae import _classifier, _transformer

    def lines(module):
        """The stripped lines of every docstring of a module, as written in the source."""
        headers = {"Parameters", "Returns", "Attributes", "Examples", "See Also", "Notes",
                   "References"}
        out = []
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.Module):
                doc = ast.get_docstring(node, clean=False)
                out += [line.strip() for line in (doc or "").splitlines()
                        if line.strip() and line.strip() not in headers
                        and set(line.strip()) != {"-"}]
                out.append("")  # docstrings do not run into each other
        return out

    clf = lines(_classifier)
    blocks = {tuple(clf[i:i + 6]) for i in range(len(clf) - 5)}
    trans = lines(_transformer)
    repeated = [trans[i:i + 6] for i in range(len(trans) - 5)
                if tuple(trans[i:i + 6]) in blocks and all(trans[i:i + 6])]
    assert not repeated, repeated[0]


# -- models as recipes -------------------------------------------------------------
class LatentClassifier(torch.nn.Module):
    """A VAE with a class head on its code (a model defined outside the package)."""

    def __init__(self, vae, n_classes):
        super().__init__()
        self.vae = vae
        self.head = torch.nn.Linear(vae.encoder.head.out_features // 2, n_classes)
        self.likelihood = vae.likelihood

    def classify(self, x):
        return self.head(self.vae.encode(x)[0])

    def forward(self, x, y=None):
        mu, logvar = self.vae.encode(x)
        nll, kl = elbo_parts(self.vae, x, mu, logvar)
        clf = torch.zeros_like(nll)
        if y is not None and (y >= 0).any():
            lab = y >= 0
            clf[lab] = torch.nn.functional.cross_entropy(self.head(mu[lab]), y[lab].long(),
                                                         reduction="none")
        return {"reconstruction": nll, "kl": kl, "classification": clf}


class LatentClassifierRecipe(Recipe):
    name = "latent-head"
    task = "classification"
    summary = "a VAE with a linear class head on its code"

    def stages(self, params, data, *, seed, partial):
        stage = VAERecipe().stages(params, data, seed=seed, partial=partial)[0]
        from dataclasses import replace

        return [replace(stage, name="VAE+head", loss_weights=(
            ("kl", float(params["beta"])), ("classification", alpha_of(params))))]

    def build(self, plan, inputs, fit_stage):
        stage = plan.final
        vae = VAERecipe.module(stage, plan.data.n_features)
        return LatentClassifier(vae, plan.data.n_classes)

    def transform(self, module, x):
        return module.vae.encode(x)[0]

    def decode(self, module, z):
        return module.vae.decode_mean(z[:, :module.head.in_features])

    def log_marginal(self, module, x, eps):
        return module.vae.log_marginal(x, eps)


def test_a_model_registered_outside_the_package_fits_through_the_estimator(data, monkeypatch):
    X, y, y_partial = data
    monkeypatch.setitem(MODELS, "latent-head", LatentClassifierRecipe())
    clf = small_clf(model="latent-head", max_iter=40, learning_rate_init=1e-2).fit(X, y)
    assert clf.model_ == "latent-head" and isinstance(clf.net_.module_, LatentClassifier)
    assert clf.score(X, y) > 0.5  # chance is 0.1
    assert clf.predict_proba(X[:5]).shape == (5, 10)
    assert clf.sample(3, y=2, random_state=0).shape == (3, 64)
    assert np.isfinite(clf.score_samples(X[:5])).all()
    assert clf.transform(X[:5]).shape == (5, 4)
    semi = small_clf(model="latent-head", max_iter=2).fit(X, y_partial)
    assert semi.transduction_.shape == (300,)


def test_unknown_or_mismatched_model_is_a_clear_error(data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"model='vae' is not a model with a classifier"):
        small_clf(model="vae", max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match=r"model='m2' is not an unsupervised model"):
        small_vae(model="m2", max_iter=1).fit(X)
    with pytest.raises(ValueError, match=r"one of \['m1\+m2', 'm2', 'shared-m2'\]"):
        small_clf(model="m3", max_iter=1).fit(X, y)


def test_score_samples_is_what_each_recipe_says(data):
    X, y, y_partial = data
    stacked = small_clf(max_iter=2, model="m1+m2").fit(X, y_partial)
    assert stacked.model_ == "m1+m2"
    # M1 + M2: M1's bound on log p(x), from the same fixed draws as a VAE's.
    m1 = stacked.net_.module_.code_model.double()
    eps = torch.randn(10, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = m1.log_marginal(torch.as_tensor(X[:5], dtype=torch.float64), eps)
    np.testing.assert_allclose(stacked.score_samples(X[:5]), expected.detach().numpy(),
                               rtol=1e-10)
    doc = VAEClassifier.score_samples.__doc__
    assert "'m2'" in doc and "'m1+m2'" in doc and "under\n        M1" in doc
    for recipe in MODELS.values():
        assert recipe.score


def test_score_samples_takes_draws_in_bounded_blocks(data, monkeypatch):
    import skvae._base

    X, _, _ = data
    vae = small_vae(max_iter=1, n_importance_samples=12).fit(X)
    whole = vae.score_samples(X[:4])
    monkeypatch.setattr(skvae._base, "_SCORE_BLOCK", 5)  # 12 draws: blocks of 5, 5, 2
    blocks = vae.score_samples(X[:4])
    # Other draws, the same estimate: close, not equal.
    np.testing.assert_allclose(blocks, whole, rtol=0.05)


def test_a_million_importance_draws_run_in_bounded_memory(tmp_path):
    code = """
import resource, numpy as np
from sklearn.datasets import load_digits
from skvae import VAETransformer
X = load_digits().data[:50] / 16
vae = VAETransformer(n_components=2, hidden_layer_sizes=(8,), max_iter=1, device='cpu',
                     random_state=0).fit(X)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
vae.set_params(n_importance_samples=10**6)
s = vae.score_samples(X[:2])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
assert np.isfinite(s).all()
print((after - before) // 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    grown_mib = int(out.stdout.split()[-1])
    # Unbounded, 10**6 draws of 64 pixels need gigabytes (2 GiB measured before).
    assert grown_mib < 400, grown_mib


@pytest.mark.parametrize("bad", [0, -5])
def test_n_importance_samples_checked_at_call_time_like_fit(data, bad):
    X, _, _ = data
    vae = small_vae(max_iter=1).fit(X)
    vae.set_params(n_importance_samples=bad)  # set_params does not validate
    with pytest.raises(ValueError, match=r"'n_importance_samples' parameter of "
                                         r"VAETransformer must be an int in the range"):
        vae.score_samples(X[:2])
    with pytest.raises(ValueError, match=r"'n_importance_samples' parameter of "
                                         r"VAETransformer must be an int in the range"):
        clone(vae).fit(X)


# -- partial_fit follows the plan ----------------------------------------------------
class Recorder(Callback):
    def initialize(self):
        self.epochs = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs += 1


def test_partial_fit_applies_changed_precision_and_callbacks(data):
    X, y, _ = data
    clf = small_clf(max_iter=1, precision="bf16-mixed").fit(X, y)
    assert clf.net_.precision == "bf16-mixed"
    clf.set_params(precision="32", callbacks=[("recorder", Recorder())])
    clf.partial_fit(X, y)
    assert clf.net_.precision == "32" and clf.plan_.precision == "32"
    assert dict(clf.net_.callbacks_)["recorder"].epochs == 1
    assert clf.get_params()["callbacks"][0][1].__dict__.get("epochs") is None  # not touched
    clf.set_params(learning_rate_init=0.02, batch_size=64)
    clf.partial_fit(X, y)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.02)
    assert clf.net_.batch_size == 64 and clf.n_iter_ == 3
    clf.set_params(n_components=5)
    with pytest.raises(ValueError, match="n_components changed since the model was fitted"):
        clf.partial_fit(X, y)
    clf.set_params(n_components=4, model="m1+m2")
    with pytest.raises(ValueError, match="model changed"):
        clf.partial_fit(X, y)


def test_first_partial_fit_with_unlabelled_rows_is_one_pass_of_m2(data):
    X, y, y_partial = data
    clf = small_clf().partial_fit(X, y_partial, classes=np.arange(10))
    assert clf.model_ == "m2" and clf.n_iter_ == 1 and len(clf.plan_.stages) == 1
    clf.partial_fit(X, y_partial)
    assert clf.n_iter_ == 2
    # A model fitted with model='auto' ('shared-m2') keeps its model in partial_fit.
    shared = small_clf(max_iter=2).fit(X, y_partial)
    shared.partial_fit(X, y_partial)
    assert shared.model_ == "shared-m2" and shared.n_iter_ == 3
    assert shared.plan_.final.learning_rate == "constant"


# -- sample_weight ------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda X, y, yp: (small_vae(max_iter=2), (X,)),
    lambda X, y, yp: (small_clf(max_iter=2), (X, y)),
    lambda X, y, yp: (small_clf(max_iter=2), (X, yp)),
])
def test_unit_weights_equal_no_weights_and_zero_weights_drop_rows(data, make):
    X, y, y_partial = data
    est, args = make(X, y, y_partial)
    out = (lambda e: e.predict_proba(X[:20])) if len(args) == 2 else (
        lambda e: e.transform(X[:20]))
    plain = out(clone(est).fit(*args))
    ones = out(clone(est).fit(*args, sample_weight=np.ones(len(X))))
    np.testing.assert_array_equal(plain, ones)
    # Zero-weight rows have no influence: changing them changes nothing.
    w = np.ones(len(X))
    w[::3] = 0
    X_changed = X.copy()
    X_changed[::3] = 1 - X_changed[::3]
    a = out(clone(est).fit(*args, sample_weight=w))
    b = out(clone(est).fit(X_changed, *args[1:], sample_weight=w))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, plain)
    # partial_fit takes weights too.
    first = clone(est)
    kwargs = {"classes": np.arange(10)} if len(args) == 2 else {}
    first.partial_fit(*args, sample_weight=w, **kwargs)
    assert first.n_iter_ == 1


def test_bad_sample_weight_is_a_clear_error(data):
    X, y, _ = data
    for bad, match in [(np.ones(5), "one weight per row"), (-np.ones(300), "non-negative"),
                       (np.zeros(300), "zero for every row"), (["a"] * 300, "numbers")]:
        with pytest.raises(ValueError, match=match):
            small_clf(max_iter=1).fit(X, y, sample_weight=bad)


@pytest.mark.parametrize("routing", [False, True])
def test_grid_search_passes_sample_weight_on(data, routing):
    X, y, _ = data
    seen = []

    class Spy(VAEClassifier):
        def fit(self, X, y, sample_weight=None):
            seen.append(None if sample_weight is None else len(sample_weight))
            return super().fit(X, y, sample_weight=sample_weight)

    est = Spy(n_components=4, hidden_layer_sizes=(16,), max_iter=1, device="cpu",
              random_state=0)
    with sklearn.config_context(enable_metadata_routing=routing):
        if routing:
            est.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        search = GridSearchCV(est, {"alpha": [1.0, 10.0]}, cv=2)
        search.fit(X, y, sample_weight=np.ones(len(X)))
    assert seen and all(n is not None for n in seen), seen


# -- devices and small conventions ---------------------------------------------------
def test_mps_device(monkeypatch):
    from skvae._devices import resolve_device

    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match="MPS backend is not available"):
        resolve_device("mps")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "mps" and resolve_device("mps") == "mps"


def test_hidden_layer_sizes_takes_an_int_as_mlp_does(data):
    X, _, _ = data
    vae = VAETransformer(n_components=2, hidden_layer_sizes=16, max_iter=1,
                         device="cpu").fit(X)
    assert vae.plan_.final.hidden_layer_sizes == (16,)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        VAETransformer(hidden_layer_sizes=0, max_iter=1).fit(X)


def test_design_doc_names_every_module():
    design = (PACKAGE.parent / "docs" / "design.md").read_text()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.endswith("__init__.py") and rel != "__init__.py":
            rel = rel[: -len("__init__.py")]
        assert re.search(re.escape(rel.split("/")[-1] or rel), design), rel

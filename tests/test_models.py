"""Models a user can add (issue 29): a model is an object with its own settings, prior
and inputs; the VampPrior VAE is the worked example; the plan is a pure function."""

import math
import pickle
import warnings
from numbers import Real

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import skvae
from skvae import VAEClassifier, VAETransformer
from skvae._compat import Interval
from skvae._plan import make_plan
from skvae.models import MODELS, DataInfo, MachineInfo
from skvae.models.stacked import StackedRecipe
from skvae.models.vae import VAERecipe
from skvae.models.vampprior import VampPriorVAE
from skvae.nn import MLPEncoder, Prior
from skvae.nn.vampprior import VampPrior

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def X():
    return (load_digits().data[:240] / 16).astype(np.float32)


def small(**params):
    return VAETransformer(**{"n_components": 3, "hidden_layer_sizes": (16,), "max_iter": 2,
                             "device": "cpu", "random_state": 0, "n_threads": 1, **params})


# -- a model defined here, in the test file alone ---------------------------------
class ScaledNormal(Prior):
    """p(z) = N(0, scale^2 I); the KL term left to the base's one-draw estimate."""

    def __init__(self, scale):
        super().__init__()
        self.scale = float(scale)

    def log_prob(self, z):
        s = self.scale
        return (-0.5 * (z / s).pow(2) - math.log(s) - 0.5 * math.log(2 * math.pi)).sum(1)

    def sample(self, n, k, generator=None):
        return self.scale * torch.randn(n, k, generator=generator)


class ScaledPriorVAE(VAERecipe):
    """A VAE whose prior is N(0, scale^2 I): a setting and a prior of its own."""

    name = "scaled-prior"
    summary = "a VAE with a wider or narrower Gaussian prior"
    structure = ("scale",)
    _parameter_constraints: dict = {"scale": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, scale=1.0):
        self.scale = scale

    def build(self, plan, inputs, fit_stage):
        vae = self.module(plan.final, plan.data.n_features)
        vae.prior = ScaledNormal(self.scale)
        return vae


def test_a_model_object_defined_outside_the_package_is_tuned_and_sampled(X):
    search = GridSearchCV(small(model=ScaledPriorVAE()), {"model__scale": [0.5, 2.0]},
                          cv=2).fit(X)
    assert search.best_params_["model__scale"] in (0.5, 2.0)
    best = search.best_estimator_
    assert best.model_ == "scaled-prior"
    assert best.plan_.recipe.scale == best.model.scale
    assert "model settings: scale=" in str(best.plan_)
    # sample() decodes codes drawn from the model's own prior
    gen = torch.Generator().manual_seed(
        int(np.random.RandomState(0).randint(2**31 - 1)))
    Z = best.model.scale * torch.randn(4, 3, generator=gen)
    np.testing.assert_allclose(best.sample(4, random_state=0),
                               best.inverse_transform(Z.numpy()), rtol=1e-6)
    # and the bound uses it: a different prior gives a different score
    other = clone(best).set_params(model__scale=1.0 if best.model.scale != 1.0 else 3.0)
    assert not np.allclose(other.fit(X).score_samples(X[:5]), best.score_samples(X[:5]))
    # a setting that shapes the model cannot change between partial_fit calls
    vae = small(model=ScaledPriorVAE(0.5)).partial_fit(X)
    vae.set_params(model__scale=2.0)
    with pytest.raises(ValueError, match=r"model__scale changed since the model was fitted"):
        vae.partial_fit(X)
    with pytest.raises(ValueError, match=r"scale"):  # its own rules, checked at fit
        small(model=ScaledPriorVAE(scale=-1.0)).fit(X)


def test_the_users_model_object_is_copied_never_changed(X):
    model = VampPriorVAE(n_pseudo_inputs=7)
    vae = small(model=model).fit(X)
    assert vae.model is model and model.get_params() == {"n_pseudo_inputs": 7}
    assert vae.plan_.recipe is not model and vae.plan_.recipe.n_pseudo_inputs == 7
    assert clone(vae).model is not model
    assert clone(vae).get_params()["model__n_pseudo_inputs"] == 7
    again = pickle.loads(pickle.dumps(vae))
    np.testing.assert_array_equal(again.transform(X[:5]), vae.transform(X[:5]))
    np.testing.assert_allclose(again.score_samples(X[:5]), vae.score_samples(X[:5]))


def test_a_named_model_and_an_object_are_the_same_model(X):
    by_name = small(model="vampprior").fit(X[:100])
    assert isinstance(by_name.plan_.recipe, VampPriorVAE)
    assert by_name.plan_.recipe.n_pseudo_inputs == 500
    assert MODELS["vampprior"].n_pseudo_inputs == 500  # the table's default is untouched
    with pytest.raises(ValueError, match=r"is not a model with a classifier"):
        VAEClassifier(model=VampPriorVAE(), max_iter=1).fit(X[:50], np.arange(50) % 2)
    with pytest.raises(ValueError, match=r"n_pseudo_inputs"):
        small(model=VampPriorVAE(n_pseudo_inputs=0)).fit(X)
    with pytest.raises(ValueError, match=r"model=VampPriorVAE is a class: pass VampPriorVAE\(\)"):
        small(model=VampPriorVAE).fit(X)


# -- the VampPrior -----------------------------------------------------------------
def test_vampprior_log_density_is_the_mixture_by_hand():
    torch.manual_seed(0)
    encoder = MLPEncoder(5, (4,), 2).double()
    u = torch.rand(3, 5, dtype=torch.float64)
    prior = VampPrior(encoder, u).double()
    z = torch.randn(6, 2, dtype=torch.float64)
    mu, logvar = (t.detach().numpy() for t in encoder(prior.pseudo_inputs))
    expected = []
    for row in z.numpy():
        dens = [np.prod(np.exp(-0.5 * (row - m) ** 2 / np.exp(lv))
                        / np.sqrt(2 * np.pi * np.exp(lv)))
                for m, lv in zip(mu, logvar, strict=True)]
        expected.append(np.log(np.mean(dens)))
    np.testing.assert_allclose(prior.log_prob(z).detach().numpy(), expected, rtol=1e-10)


def test_vampprior_samples_come_from_the_pseudo_inputs_posteriors():
    torch.manual_seed(0)
    encoder = MLPEncoder(5, (4,), 2)
    prior = VampPrior(encoder, torch.rand(3, 5), support=(0.0, 1.0))
    z = prior.sample(8, 2, torch.Generator().manual_seed(1))
    gen = torch.Generator().manual_seed(1)
    which = torch.randint(3, (8,), generator=gen)
    eps = torch.randn(8, 2, generator=gen)
    mu, logvar = encoder(prior.pseudo_inputs.clamp(0, 1))
    np.testing.assert_allclose(z.detach(), (mu[which] + torch.exp(0.5 * logvar[which]) * eps)
                               .detach(), rtol=1e-6)
    # in bulk: each draw is likelier under its own component than a far-off code is
    many = prior.sample(2000, 2, torch.Generator().manual_seed(2)).detach()
    assert prior.log_prob(many).mean() > prior.log_prob(many + 10.0).mean() + 10


def test_the_fitted_vampprior_samples_and_scores_with_its_mixture(X):
    vae = small(model=VampPriorVAE(n_pseudo_inputs=5)).fit(X)
    module = vae.net_.module_
    assert isinstance(module.prior, VampPrior) and module.prior.n_components == 5
    seed = int(np.random.RandomState(3).randint(2**31 - 1))
    with torch.no_grad():
        Z = module.eval().prior.sample(4, 3, torch.Generator().manual_seed(seed))
    np.testing.assert_allclose(vae.sample(4, random_state=3),
                               vae.inverse_transform(Z.numpy()), rtol=1e-6)
    # score_samples with one draw is the ELBO under the mixture, computed by hand
    vae.set_params(n_importance_samples=1)
    m = module.double().eval()
    x = torch.as_tensor(X[:4], dtype=torch.float64)
    eps = torch.randn(1, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        mu, logvar = m.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        log_q = (-0.5 * (eps.pow(2) + math.log(2 * math.pi) + logvar)).sum(1)
        by_hand = -m.likelihood.nll(x, m.decode(z)) + m.prior.log_prob(z) - log_q
    np.testing.assert_allclose(vae.score_samples(X[:4]), by_hand.numpy(), rtol=1e-8)


# -- inputs, partial_fit and the plan ---------------------------------------------------
def test_build_time_inputs_come_from_one_method_in_fit_and_partial_fit(X, monkeypatch):
    calls = []
    original = StackedRecipe.inputs

    def spy(self, plan, net, inputs):
        out = original(self, plan, net, inputs)
        calls.append(sorted(out))
        return out

    monkeypatch.setattr(StackedRecipe, "inputs", spy)
    y = np.arange(len(X)) % 10
    clf = VAEClassifier(model="m1+m2", n_components=3, hidden_layer_sizes=(16,), max_iter=3,
                        random_state=0, n_threads=1)
    clf.partial_fit(X, y, classes=np.arange(10))
    # the first call trains M1 for max_iter epochs, as fit does; M2 one epoch
    assert [s.max_iter for s in clf.plan_.stages] == [3, 1]
    clf.partial_fit(X, y)
    assert calls == [["m2_input", "x"], ["m2_input", "x"]]


def test_make_plan_is_pure_and_resolves_every_auto():
    asked = []

    def busy():
        asked.append(1)
        return 0.0

    params = VAETransformer(hidden_layer_sizes=(16,)).get_params()
    data = DataInfo(500, 64, nbytes=500 * 64 * 4)
    plans = [make_plan(params, data, MachineInfo("cpu", thread_limit=2, busy_cores=busy),
                       task="unsupervised", seed=3) for _ in range(2)]
    assert plans[0] == plans[1]  # the same facts, the same plan
    assert plans[0].data_placement == "device" and plans[0].n_threads == 1
    assert asked == []  # a small step: one thread, the load never read
    on_gpu = make_plan(params, data, MachineInfo("cuda", free_memory=1000), task="unsupervised",
                       seed=3)
    assert on_gpu.data_placement == "host" and on_gpu.n_threads is None
    assert "auto" not in repr(plans[0])
    big = make_plan(VAETransformer().get_params(), DataInfo(60000, 784, nbytes=1),
                    MachineInfo("cpu", thread_limit=2, busy_cores=busy), task="unsupervised",
                    seed=3)
    assert big.n_threads == 2 and asked == [1]  # a large step: the load read, once


def test_models_is_importable_as_documented():
    assert skvae.models.MODELS is MODELS
    assert "models" in dir(skvae)


def test_default_fits_sample_from_a_standard_normal(X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae = small().fit(X)
    gen = torch.Generator().manual_seed(int(np.random.RandomState(0).randint(2**31 - 1)))
    Z = torch.randn(3, 3, generator=gen).numpy()
    np.testing.assert_allclose(vae.sample(3, random_state=0), vae.inverse_transform(Z),
                               rtol=1e-6)

"""The VampPrior VAE (Tomczak & Welling 2018): a VAE whose prior is learnt with it.

The prior is a mixture of the encoder's posteriors at ``n_pseudo_inputs`` learnt
pseudo-inputs (:class:`skvae.nn.vampprior.VampPrior`), started at as many training
rows drawn at random (moved 1 % into the likelihood's support, where it has bounds).
Everything else (stages, ``'auto'`` training length, networks) is the plain VAE's
(:mod:`skvae.models.vae`). The KL term has no closed form under a mixture: it is the
one-draw estimate ``log q(z|x) - log p(z)``. ``sample`` draws from the mixture and
``score_samples`` bounds ``log p(x)`` under it.

This file is the worked example of adding a model (docs/design.md): its own setting
(``n_pseudo_inputs``, reached by ``GridSearchCV`` as ``model__n_pseudo_inputs``), its
own prior, and one registry entry; the estimators do not change.

Examples
--------
>>> from skvae import VAETransformer
>>> from skvae.models.vampprior import VampPriorVAE
>>> VAETransformer(model=VampPriorVAE(n_pseudo_inputs=100))
VAETransformer(model=VampPriorVAE(n_pseudo_inputs=100))
"""

from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state

from .._compat import Interval
from ..nn.vampprior import VampPrior
from . import register
from .vae import VAERecipe


class VampPriorVAE(VAERecipe):
    """A VAE with the VampPrior: ``p(z)`` a mixture of posteriors at learnt pseudo-inputs.

    Pass it as ``VAETransformer(model=VampPriorVAE(...))``, or by name,
    ``model='vampprior'`` (500 pseudo-inputs, as in the paper).

    Parameters
    ----------
    n_pseudo_inputs : int, default=500
        K, the mixture's components. Changing it needs a new fit (``partial_fit``
        refuses a change).
    """

    name = "vampprior"
    task = "unsupervised"
    summary = ("VampPrior VAE: a VAE whose prior is a mixture of its posteriors at "
               "learnt pseudo-inputs (Tomczak & Welling 2018)")
    score = ("log p(x) under the VampPrior: an importance-weighted lower bound from "
             "n_importance_samples draws of q(z|x); one draw gives the ELBO")
    structure = ("n_pseudo_inputs",)
    _parameter_constraints: dict = {
        "n_pseudo_inputs": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_pseudo_inputs=500):
        self.n_pseudo_inputs = n_pseudo_inputs

    def stages(self, params, data, *, seed, partial):
        from dataclasses import replace

        return [replace(stage, name="VampPrior", description=self.summary)
                for stage in super().stages(params, data, seed=seed, partial=partial)]

    def build(self, plan, inputs, fit_stage):
        vae = self.module(plan.final, plan.data.n_features)
        X, weights = inputs["x"], inputs.get("sample_weight")
        # Start the pseudo-inputs at training rows (of positive weight) drawn under the
        # fit's seed; with fewer such rows than pseudo-inputs, rows repeat.
        rng = check_random_state(plan.final.seed)
        candidates = (np.arange(len(X)) if weights is None
                      else np.flatnonzero(np.asarray(weights) > 0))
        k = int(self.n_pseudo_inputs)
        rows = np.sort(rng.choice(candidates, size=k, replace=k > len(candidates)))
        start = np.asarray(X[rows], dtype=np.float32)
        support = vae.likelihood.support
        if support is not None:
            # 1 % inside the bounds: hardtanh passes no gradient at a bound, and pixels
            # of training rows often sit on one (0 for a background pixel).
            low, high = support
            start = low + (high - low) * (0.01 + 0.98 * (start - low) / (high - low))
        vae.prior = VampPrior(vae.encoder, start, support=support)
        return vae


register(VampPriorVAE())

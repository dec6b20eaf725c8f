"""The VAE (Kingma & Welling 2013): encoder q(z|x), decoder p(x|z), no labels.

The model of ``VAETransformer`` and the M1 of ``'m1+m2'``. One stage; ``max_iter='auto'``
is as many epochs as give about 5,000 gradient steps, at most 100: 5,000 steps are the
20 epochs of 60,000 rows at 256 rows per step whose conv code fed an SVC as well as the
pixels (docs/choosing.md). ``score_samples``: the importance-weighted bound on log p(x).
"""

from ..nn import VAE, make_likelihood
from . import (
    Recipe,
    StagePlan,
    epochs_for_steps,
    hidden_sizes,
    image_shape,
    register,
    resolve_batch_size,
    training_settings,
)

_AUTO_STEPS = 5000
_AUTO_MAX_EPOCHS = 100


class VAERecipe(Recipe):
    """The plain VAE (a beta-VAE with ``beta`` other than 1)."""

    name = "vae"
    task = "unsupervised"
    summary = "VAE: encoder q(z|x) and decoder p(x|z), trained without labels"
    score = ("log p(x): an importance-weighted lower bound (Burda et al. 2016) from "
             "n_importance_samples draws of q(z|x); one draw gives the ELBO")

    def stages(self, params, data, *, seed, partial):
        batch_size = resolve_batch_size(params["batch_size"], data.n_rows)
        if partial:
            max_iter = 1
        elif params["max_iter"] == "auto":  # an estimator may aim elsewhere (_plan.make_plan)
            max_iter = min(params.get("auto_max_epochs", _AUTO_MAX_EPOCHS),
                           epochs_for_steps(params.get("auto_steps", _AUTO_STEPS),
                                            data.n_rows, batch_size))
        else:
            max_iter = int(params["max_iter"])
        schedule = params["learning_rate"]
        return [StagePlan(
            name="VAE", description=self.summary,
            n_components=int(params["n_components"]),
            hidden_layer_sizes=hidden_sizes(params["hidden_layer_sizes"]),
            architecture=params["architecture"], likelihood=params["likelihood"],
            image_shape=image_shape(params, data.n_features, [params["architecture"]]),
            encoder=params["encoder"], decoder=params["decoder"],
            loss_weights=(("kl", float(params["beta"])),),
            max_iter=max_iter, batch_size=batch_size,
            learning_rate="constant" if partial or schedule == "auto" else schedule,
            seed=seed, **training_settings(params, partial),
        )]

    @staticmethod
    def module(stage, n_features):
        """A new :class:`skvae.nn.VAE` for ``stage``, with the N(0, I) prior."""
        arch = Recipe.architecture(stage)
        return VAE(arch.encoder(n_features, stage.n_components),
                   arch.decoder(stage.n_components, n_features),
                   make_likelihood(stage.likelihood, n_features))

    def build(self, plan, inputs, fit_stage):
        return self.module(plan.final, plan.data.n_features)


register(VAERecipe())

"""M1 + M2 (Kingma et al. 2014): M2 on the standardised code of a VAE fitted first.

The default of ``VAEClassifier`` with a conv network when some rows are unlabelled.
Two stages:

1. **M1**, a VAE (:mod:`skvae.models.vae`) on every row without labels. Its settings
   follow the data: a 50-dimensional code (at most half the features), ``beta=0.1``
   (keeps more of the code in use: benchmarks/results/m1_codes.csv), one hidden layer
   of 256 on images, the estimator's ``hidden_layer_sizes`` otherwise. No
   ``weight_decay``, warm-up, early stopping or user callbacks: those steer M2.
2. **M2** (:mod:`skvae.models.m2`) on M1's standardised code, fully connected with a
   Gaussian likelihood; its classifier reads the row through the image layers of
   ``classifier_architecture`` (``architecture`` when None) with the code joined
   after them. For narrow rows that are not images (at most 100 features, such as the
   8x8 digits) M2 models the row and the code side by side (measured best there,
   docs/classifier.md); on wider rows a Gaussian M2 spends itself on the pixels.

M1 is frozen once fitted, so M2's input is computed once per fit (and once per
``partial_fit`` call: ``StackedRecipe.inputs``). ``max_iter='auto'``: as many
epochs as give 4,000 gradient steps, or 1,000 with a conv M1 (a cost cap: its steps are
the dearest), for each stage; the step size is constant (as measured). A first
``partial_fit`` call trains M1 for as many epochs as ``fit`` would, then M2 for one.
``score_samples``: M1's bound on log p(x), M1 being the model of the rows.
"""

import numpy as np
import torch
from sklearn.utils import check_random_state

from .. import nn as _nn
from . import (
    ClassifierRecipe,
    ClassifierStage,
    StagePlan,
    alpha_of,
    epochs_for_steps,
    hidden_sizes,
    image_shape,
    learning_rate_of,
    reads_images,
    register,
    training_settings,
)
from .vae import VAERecipe

_M1_CODE_SIZE = 50
_M1_BETA = 0.1
_M1_IMAGE_HIDDEN = (256,)
_ROWS_IN_M2 = 2 * _M1_CODE_SIZE
_CODE_STEPS = {"images": 1000, "other": 4000}


def _m1_seed(seed):
    """The seed of M1's stage: drawn from the fit's seed (as the fit's first draw)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        drawn = int(torch.randint(2**31 - 1, ()))
    return int(check_random_state(drawn).randint(2**31 - 1))


class StackedRecipe(ClassifierRecipe):
    """M1 + M2: a VAE's code, then M2 on it."""

    name = "m1+m2"
    summary = "M1 + M2: a VAE (M1) on every row, then M2 on M1's standardised code"
    score = ("log p(x) under M1, the model of the rows: an importance-weighted lower "
             "bound from n_importance_samples draws of M1's q(z|x) (M2 models the code)")

    def stages(self, params, data, *, seed, partial):
        arch, clf_arch = params["architecture"], params["classifier_architecture"]
        shape = image_shape(params, data.n_features, [arch, clf_arch])
        images = reads_images(params, arch, shape)
        steps = _CODE_STEPS["images" if images else "other"]

        def stage_run(partial):
            return self.stage_settings(
                params, data, partial,
                lambda bs: epochs_for_steps(steps, data.n_rows, bs), "constant")

        run = stage_run(partial)
        # M1 is trained once, by the first call: as many epochs as fit gives it.
        m1_run = stage_run(False)
        m1 = StagePlan(
            name="M1", description="a VAE on every row, without labels",
            n_components=max(2, min(_M1_CODE_SIZE, data.n_features // 2)),
            hidden_layer_sizes=(_M1_IMAGE_HIDDEN if images
                                else hidden_sizes(params["hidden_layer_sizes"])),
            architecture=arch, likelihood=params["likelihood"], image_shape=shape,
            encoder=params["encoder"], decoder=params["decoder"],
            loss_weights=(("kl", _M1_BETA),), max_iter=m1_run["max_iter"],
            batch_size=m1_run["batch_size"], learning_rate=m1_run["learning_rate"],
            learning_rate_init=learning_rate_of(params), seed=_m1_seed(seed),
            user_callbacks=False,
        )
        m2 = ClassifierStage(
            name="M2", description="the classes, on M1's code",
            n_components=int(params["n_components"]),
            hidden_layer_sizes=hidden_sizes(params["hidden_layer_sizes"]),
            architecture=arch, classifier_architecture=clf_arch, likelihood="gaussian",
            image_shape=shape, encoder=params["encoder"], decoder=params["decoder"],
            loss_weights=(("kl", float(params["beta"])),
                          ("classification", alpha_of(params))),
            seed=seed, **training_settings(params, partial), **run,
        )
        return [m1, m2]

    def build(self, plan, inputs, fit_stage):
        m1_stage, stage = plan.stages
        X = inputs["x"]
        n_rows, k = X.shape[1], plan.data.n_classes
        m1_inputs = {name: v for name, v in inputs.items() if name in ("x", "sample_weight")}
        m1 = fit_stage(m1_stage, lambda: VAERecipe.module(m1_stage, n_rows), m1_inputs)
        features = m1.run_batched(lambda xb: m1.module_.encode(xb)[0], X).numpy()
        images = self.architecture(m1_stage).needs_image
        rows_in_m2 = not images and n_rows <= _ROWS_IN_M2
        if rows_in_m2:
            features = np.concatenate([X, features], axis=1)
        weights = inputs.get("sample_weight")
        if weights is None:
            loc, scale = features.mean(axis=0), features.std(axis=0)
        else:  # zero-weight rows leave the standardisation alone, as they leave training
            loc = np.average(features, axis=0, weights=weights)
            scale = np.sqrt(np.average((features - loc) ** 2, axis=0, weights=weights))
        scale[scale < 1e-6] = 1.0  # a constant feature stays as it is
        n_m2 = features.shape[1]
        # This block runs under the fit's seed, whose first draw seeded M1 (_m1_seed):
        # draw it again so that M2's weights come from the rest of the stream.
        torch.randint(2**31 - 1, ())
        arch = _nn.make_architecture("mlp", stage.hidden_layer_sizes)
        # q(y | .) reads [row, code]: the row through the classifier architecture's
        # own row layers (a conv net's convolutions, new ones; none for 'mlp'), the code
        # joined after them, then the fully connected layers.
        n_code = n_m2 - n_rows if rows_in_m2 else n_m2
        row_arch = self.architecture(stage, stage.classifier_architecture)
        body = _nn.JoinedBody(row_arch.row_body(n_rows), n_rows, n_code,
                              stage.hidden_layer_sizes)
        m2 = _nn.M2(_nn.Classifier(body, body.n_hidden, k),
                    arch.encoder(n_m2, stage.n_components, k),
                    arch.decoder(stage.n_components + k, n_m2),
                    _nn.make_likelihood("gaussian", n_m2), k)
        return _nn.StackedM2(m1.module_, m2, torch.as_tensor(loc), torch.as_tensor(scale),
                             model_input="rows_and_code" if rows_in_m2 else "code",
                             classifier_input="model_input" if rows_in_m2 else "with_rows")

    def inputs(self, plan, net, inputs):
        # M1 is frozen: M2's standardised input is computed once per call, not at
        # every step (in fit and in every continuing partial_fit call).
        features = net.run_batched(net.module_.m2_input, inputs["x"]).numpy()
        return {**inputs, "m2_input": np.ascontiguousarray(features, dtype=np.float32)}

    def n_score_latent(self, plan):
        return plan.stages[0].n_components


register(StackedRecipe())

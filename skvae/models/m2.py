"""M2 (Kingma et al. 2014): a classifier q(y|x) inside a conditional VAE, on the rows.

The default of ``VAEClassifier`` with a conv network when every row is labelled, and
of ``partial_fit``.
One stage; ``max_iter='auto'`` is 100 epochs. Step size ``'auto'``: a cosine decay when
every row is labelled and q(y|x) is convolutional (measured on Fashion-MNIST with
every label: docs/classifier.md, "Fully labelled data"), constant otherwise.
``score_samples``: log p(x) with the class summed out.
"""

from ..nn import M2, make_likelihood
from . import (
    ClassifierRecipe,
    ClassifierStage,
    alpha_of,
    hidden_sizes,
    image_shape,
    reads_images,
    register,
    training_settings,
)

_AUTO_EPOCHS = 100


class M2Recipe(ClassifierRecipe):
    """M2 on the rows themselves."""

    name = "m2"
    summary = "M2: classifier q(y|x) and conditional VAE q(z|x,y), p(x|z,y) on the rows"

    def stages(self, params, data, *, seed, partial):
        clf_arch = params["classifier_architecture"]
        archs = [params["architecture"], clf_arch]
        shape = image_shape(params, data.n_features, archs)
        cosine = not data.unlabelled and reads_images(params, clf_arch or params["architecture"],
                                                      shape)
        return [ClassifierStage(
            name="M2", description=self.summary,
            n_components=int(params["n_components"]),
            hidden_layer_sizes=hidden_sizes(params["hidden_layer_sizes"]),
            architecture=params["architecture"], classifier_architecture=clf_arch,
            likelihood=params["likelihood"], image_shape=shape,
            encoder=params["encoder"], decoder=params["decoder"],
            loss_weights=(("kl", float(params["beta"])),
                          ("classification", alpha_of(params))),
            seed=seed, **training_settings(params, partial),
            **self.stage_settings(params, data, partial, lambda bs: _AUTO_EPOCHS,
                                  "cosine" if cosine else "constant"),
        )]

    def build(self, plan, inputs, fit_stage):
        stage, n, k = plan.final, plan.data.n_features, plan.data.n_classes
        arch = self.architecture(stage)
        clf_arch = self.architecture(stage, stage.classifier_architecture)
        module = M2(clf_arch.classifier(n, k),
                    arch.encoder(n, stage.n_components, n_condition=k),
                    arch.decoder(stage.n_components + k, n),
                    make_likelihood(stage.likelihood, n), k)
        return module


register(M2Recipe())

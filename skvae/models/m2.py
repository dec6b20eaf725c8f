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
    Recipe,
    alpha_of,
    hidden_sizes,
    image_shape,
    register,
    resolve_batch_size,
    training_settings,
)
from ._labels import LabelledTopUpIterator, labelled_top_up

_AUTO_EPOCHS = 100


def classifier_stage_settings(params, data, partial, max_iter_auto, schedule_auto,
                              batch_size_auto=None, labelled_auto=None):
    """Batch size, epochs, schedule and labelled top-up of a stage that learns labels.

    ``max_iter_auto(batch_size)`` gives the epochs of ``max_iter='auto'``;
    ``schedule_auto`` the schedule of ``learning_rate='auto'``; ``batch_size_auto`` and
    ``labelled_auto`` (when given) the rows of ``batch_size='auto'`` and of
    ``labelled_batch_size='auto'``, else the shared rules (:func:`resolve_batch_size`,
    :func:`labelled_top_up`).
    """
    batch_size = (batch_size_auto if params["batch_size"] == "auto" and batch_size_auto
                  else resolve_batch_size(params["batch_size"], data.n_rows))
    if partial:
        max_iter = 1
    elif params["max_iter"] == "auto":
        max_iter = max_iter_auto(batch_size)
    else:
        max_iter = int(params["max_iter"])
    schedule = params["learning_rate"]
    if partial:
        schedule = "constant"
    elif schedule == "auto":
        schedule = schedule_auto
    top_up = params["labelled_batch_size"]
    if top_up == "auto" and labelled_auto is not None:
        top_up = labelled_auto
    return dict(batch_size=batch_size, max_iter=max_iter, learning_rate=schedule,
                labelled_batch_size=labelled_top_up(top_up, data,
                                                    batch_size))


class M2Recipe(Recipe):
    """M2 on the rows themselves."""

    name = "m2"
    task = "classification"
    summary = "M2: classifier q(y|x) and conditional VAE q(z|x,y), p(x|z,y) on the rows"
    score = ("log p(x) with the class summed out: log sum_y p(y) p(x|y), each p(x|y) an "
             "importance-weighted bound from n_importance_samples draws of q(z|x,y)")

    def stages(self, params, data, *, seed, partial):
        from .._plan import StagePlan

        clf_arch = params["classifier_architecture"]
        archs = [params["architecture"], clf_arch]
        shape = image_shape(params, data.n_features, archs)
        image_classifier = self.architecture_of(params, clf_arch or params["architecture"],
                                                shape).needs_image
        cosine = not data.unlabelled and image_classifier
        return [StagePlan(
            name="M2", description=self.summary,
            n_components=int(params["n_components"]),
            hidden_layer_sizes=hidden_sizes(params["hidden_layer_sizes"]),
            architecture=params["architecture"], classifier_architecture=clf_arch,
            likelihood=params["likelihood"], image_shape=shape,
            encoder=params["encoder"], decoder=params["decoder"],
            loss_weights=(("kl", float(params["beta"])),
                          ("classification", alpha_of(params))),
            seed=seed, **training_settings(params, partial),
            **classifier_stage_settings(params, data, partial, lambda bs: _AUTO_EPOCHS,
                                        "cosine" if cosine else "constant"),
        )]

    @staticmethod
    def architecture_of(params, name, shape):
        from ..nn import make_architecture

        return make_architecture(name, (), shape, params["encoder"], params["decoder"])

    def iterator_params(self, stage):
        return {"iterator_train": LabelledTopUpIterator,
                "iterator_train__labelled_batch_size": stage.labelled_batch_size}

    def build(self, plan, inputs, fit_stage):
        stage, n, k = plan.final, plan.data.n_features, plan.data.n_classes
        arch = self.architecture(stage)
        clf_arch = self.architecture(stage, stage.classifier_architecture)
        module = M2(clf_arch.classifier(n, k),
                    arch.encoder(n, stage.n_components, n_condition=k),
                    arch.decoder(stage.n_components + k, n),
                    make_likelihood(stage.likelihood, n), k)
        return module, inputs


register(M2Recipe())

"""Shared-body M2: M2 with one encoder body, consistency and propagated pseudo-labels.

(This module is over 400 lines: the recipe, the settings record it reads and the two
callbacks that exist only for it, the pseudo-labels and the per-step schedule, belong
together.)

The model of ``VAEClassifier().fit`` with fully connected networks (``model='auto'``;
see :func:`skvae.models.resolve_model`). One stage, the network
:class:`skvae.nn.SharedM2`: ``q(y|x)`` and ``q(z|x,y)`` share their feature network
(the ``architecture``'s body: fully connected, or convolutions for images);
``p(x|z,y)`` is the architecture's decoder, fully connected for a conv body (a
transposed-convolution decoder would cost more than the body's two passes per step).
Each step takes a shuffled batch of 128 rows and 64 labelled rows, and minimises

    (-ELBO) / n_features + alpha * CE(labelled) + 3 * consistency + pseudo-label CE

* the bound is counted per feature, so one setting of ``alpha`` fits any row width;
* **consistency**: ``q(y|x)`` should not change under a small perturbation of the row
  (Gaussian noise of half the data's standard deviation; on images also a random
  shift of up to 2 pixels), its weight raised over the first fifth of the run;
* **pseudo-labels**: halfway through, ``LabelSpreading(kernel='knn')`` in the
  model's own standardised features ``h`` spreads the labels to every row
  (:class:`PseudoLabels`); from then on ``q(y|x)`` also learns them, each weighted by
  its confidence. The predictor stays ``q(y|x)``, a network of the VAE.

``max_iter='auto'``: as many epochs as give 1,500 gradient steps whatever the data
size (a digits fit takes seconds), or 10 passes over the labelled rows when that is
more (many labels); the step size decays to 0 on a cosine. Measured
against the other models: ``benchmarks/bench_semisupervised.py`` (docs/classifier.md).
``score_samples``: log p(x), the class summed out, as for ``'m2'``.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch
from skorch.callbacks import Callback

from .. import nn as _nn
from . import (
    ClassifierRecipe,
    ClassifierStage,
    alpha_of,
    epochs_for_steps,
    hidden_sizes,
    image_shape,
    register,
    training_settings,
)
from ._labels import UNLABELLED


@dataclass(frozen=True)
class Settings:
    """The recipe's fixed settings (one record, so a measurement can vary one at a time).

    The estimators do not expose these: ``benchmarks/bench_label_research.py`` swaps
    :data:`SETTINGS` for a modified copy to measure each ingredient against the default.
    """

    #: Gradient steps of ``max_iter='auto'`` at least, and at least this many passes
    #: over all rows (the budget grows with the data), and this many over the labels.
    steps: int = 1500
    epochs: float = 10.0
    labelled_passes: int = 10
    #: The step size of ``learning_rate_init='auto'``.
    learning_rate: float = 2e-3
    #: Rows per step: a shuffled batch from all rows, and labelled rows added to it.
    batch: int = 128
    labelled_batch: int = 64
    #: Weight of the consistency term, and the share of the run over which it rises.
    consistency: float = 3.0
    ramp: float = 0.2
    #: Consistency: None for KL(q(y|x) || q(y|x~)) on every row; a confidence for the
    #: masked weak-to-strong cross-entropy on unlabelled rows (FixMatch).
    threshold: float | None = None
    #: The KL consistency term (no threshold) on unlabelled rows only.
    unlabelled_only: bool = False
    #: Align the consistency targets to the labelled rows' class mix (distribution
    #: alignment; the KL term then counts unlabelled rows only). Only when some rows are
    #: unlabelled.
    align: bool = True
    #: Perturbation: Gaussian noise of ``noise`` times the data's standard deviation
    #: (``noise_scale='std'``) or times the median distance to the 7th nearest
    #: neighbour over sqrt(n_features) (``'knn'``: the noise's length is that share of
    #: the distance between neighbouring rows); image shift in pixels; erased share.
    noise: float = 0.5
    noise_scale: str = "std"
    shift: float = 2.0
    erase: float = 0.0
    #: Width of q(z|x,y)'s hidden layer on [h, y].
    join: int = 256
    #: Channels of a conv body's stride-2 convolutions (the architecture's own are
    #: (32, 64): a body that runs twice per step costs more than it gives here).
    conv_channels: tuple = (16, 32)
    #: Pseudo-labels: spread at this share of the run (None: never), by
    #: LabelSpreading(knn) with these neighbours, alpha and iterations; with
    #: ``pseudo_start`` also before the first epoch, on the rows themselves.
    pseudo_at: float | None = 0.5
    pseudo_start: bool = False
    neighbours: int = 7
    ls_alpha: float = 0.2
    ls_iter: int = 100


#: The settings every fit of the recipe reads.
SETTINGS = Settings()


class PseudoLabels(Callback):
    """Spread the labels to every row in the model's own features, once, mid-training.

    At the start of epoch ``epoch`` (0-based) the model's body features ``h`` of every
    training row are standardised and ``LabelSpreading(kernel='knn')`` (scikit-learn)
    spreads the known labels over their kNN graph. Each unlabelled row's most likely
    label and its probability are written into the batches' ``pseudo_label`` and
    ``pseudo_weight`` inputs, which :class:`skvae.nn.SharedM2` turns into a weighted
    cross-entropy on ``q(y|x)``.

    With ``space='rows'`` the graph is made on the rows themselves, as they are (for
    a first round before the model has learnt features).

    Parameters
    ----------
    epoch : int
        The epoch (0-based) before which the labels are spread.
    n_neighbors : int, default=7
    alpha, max_iter : float, int, default=0.2, 100
        LabelSpreading's clamping factor and iterations.
    space : {'features', 'rows'}, default='features'
        Where the kNN graph is made: the model's standardised features, or the rows.

    Examples
    --------
    >>> PseudoLabels(epoch=5)
    <PseudoLabels at epoch 5, 7 neighbours>
    >>> PseudoLabels(epoch=0, space="rows")
    <PseudoLabels at epoch 0, 7 neighbours, on the rows>
    """

    def __init__(self, epoch, n_neighbors=7, alpha=0.2, max_iter=100, space="features"):
        self.epoch = epoch
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.max_iter = max_iter
        self.space = space

    def __repr__(self):
        where = ", on the rows" if self.space == "rows" else ""
        return f"<PseudoLabels at epoch {self.epoch}, {self.n_neighbors} neighbours{where}>"

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if len(net.history) - 1 != self.epoch or dataset_train is None:
            return
        targets = dataset_train.targets
        extras = dataset_train.extras
        if targets is None or "pseudo_label" not in extras:
            return
        rows = (torch.arange(len(dataset_train)) if dataset_train.rows is None
                else dataset_train.rows.cpu())
        weights = extras.get("sample_weight")
        if weights is not None:  # rows of weight 0 stay out of the graph (and of training)
            rows = rows[weights.cpu()[rows] > 0]
        if self.space == "rows":
            features = _rows_of(dataset_train, rows)
        else:
            features = self.features(net, dataset_train, rows)
        labels, confidence = self.spread(features, dataset_train.y.cpu()[rows].numpy(),
                                         standardise=self.space != "rows")
        for name, values in (("pseudo_label", labels), ("pseudo_weight", confidence)):
            target = extras[name]
            target[rows.to(target.device)] = torch.as_tensor(values).to(target)

    @staticmethod
    def features(net, dataset, rows, batch_size=1024):
        """The body features ``h`` of ``dataset``'s X at ``rows`` (float64, on the CPU)."""
        module = net.module_
        module.eval()
        parts = []
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                chunk = rows[start:start + batch_size]
                xb = dataset.to_device(dataset.X[chunk.to(_device_of(dataset.X))])
                xb = xb.to(net.device)
                parts.append(module.encoder.features(xb).double().cpu())
        module.train()
        return torch.cat(parts).numpy()

    def spread(self, features, targets, standardise=True):
        """(label, confidence) of every row from LabelSpreading on (standardised) features."""
        from sklearn.semi_supervised import LabelSpreading

        if standardise:
            scale = features.std(axis=0)
            scale[scale < 1e-12] = 1.0
            features = (features - features.mean(axis=0)) / scale
        n_labelled = int((targets != UNLABELLED).sum())
        spreader = LabelSpreading(kernel="knn", n_neighbors=min(self.n_neighbors,
                                                                len(targets) - 1),
                                  alpha=self.alpha, max_iter=self.max_iter)
        spreader.fit(features, targets)
        dist = np.nan_to_num(spreader.label_distributions_, nan=0.0)
        labels = spreader.classes_[dist.argmax(axis=1)]
        confidence = dist.max(axis=1)
        if n_labelled == 0:  # nothing to spread
            confidence[:] = 0.0
        return labels.astype(np.int64), confidence.astype(np.float32)


class StepSchedule(Callback):
    """Per-step schedules of a run: the cosine step size and the consistency ramp.

    Before each training step ``t`` of ``T = max_iter * batches per epoch``, the step
    size is ``lr * (1 + cos(pi * t / T)) / 2`` (with ``cosine``; left alone otherwise)
    and the weight of the loss term ``term`` is ``target * min(1, t / ramp_steps)``.
    Per step, not per epoch: a large data set runs few epochs, and an epoch-wise ramp
    would switch the term on in one jump. The epoch's last step size and term weight
    are recorded in the history as ``lr`` and ``<term>_weight``.

    Parameters
    ----------
    lr : float
        The step size at step 0.
    cosine : bool
        Decay the step size (else only the ramp runs).
    term : str
        The loss term to ramp up, e.g. ``'consistency'``.
    target : float
        Its weight once ramped.
    ramp : float
        The share of the run over which the weight rises.

    Examples
    --------
    >>> StepSchedule(1e-3, True, "consistency", 3.0, 0.2)
    <StepSchedule: cosine step size, 'consistency' weight to 3 over 20% of the run>
    """

    def __init__(self, lr, cosine, term, target, ramp):
        self.lr = lr
        self.cosine = cosine
        self.term = term
        self.target = target
        self.ramp = ramp

    def __repr__(self):
        what = "cosine step size" if self.cosine else "constant step size"
        return (f"<StepSchedule: {what}, {self.term!r} weight to {self.target:g} over "
                f"{self.ramp:.0%} of the run>")

    def on_train_begin(self, net, **kwargs):
        self.step_, self.total_ = 0, None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.total_ is None and dataset_train is not None:
            per_epoch = math.ceil(len(dataset_train) / net.batch_size)
            self.total_ = max(1, per_epoch * net.max_epochs)

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training or self.total_ is None:
            return
        t = min(self.step_, self.total_)
        if self.cosine:
            for group in net.optimizer_.param_groups:
                group["lr"] = self.lr * 0.5 * (1 + math.cos(math.pi * t / self.total_))
        ramp_steps = max(1.0, self.ramp * self.total_)
        net.loss_weights[self.term] = self.target * min(1.0, t / ramp_steps)
        self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])
        net.history.record(f"{self.term}_weight", net.loss_weights[self.term])


def _rows_of(dataset, rows, batch_size=4096):
    """``dataset``'s X at ``rows`` as float64 on the CPU, read in batches."""
    parts = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        xb = dataset.to_device(dataset.X[chunk.to(_device_of(dataset.X))])
        parts.append(xb.double().cpu())
    return torch.cat(parts).numpy()


def _device_of(X):
    return X.device if isinstance(X, torch.Tensor) else torch.device("cpu")


class SharedRecipe(ClassifierRecipe):
    """M2 with a shared encoder body, consistency and pseudo-labels."""

    name = "shared-m2"
    summary = ("shared-body M2: q(y|x) and q(z|x,y) share one encoder body; trained with "
               "consistency under perturbations and propagated pseudo-labels")

    def stages(self, params, data, *, seed, partial):
        # One body for q(y|x) and q(z|x,y): classifier_architecture's, if given.
        arch = params["classifier_architecture"] or params["architecture"]
        shape = image_shape(params, data.n_features,
                            [params["architecture"], params["classifier_architecture"]])
        cfg = SETTINGS

        def max_iter_auto(batch_size):
            # cfg.steps steps, or cfg.epochs passes over all rows, or cfg.labelled_passes
            # over the labelled rows, whichever is most.
            steps = max(cfg.steps, cfg.labelled_passes * data.n_labelled // batch_size,
                        math.ceil(cfg.epochs * data.n_rows / batch_size))
            return epochs_for_steps(steps, data.n_rows, batch_size)

        run = self.stage_settings(
            params, data, partial, max_iter_auto, "cosine", batch_size_auto=cfg.batch,
            labelled_auto=min(cfg.labelled_batch, data.n_labelled))
        d = float(data.n_features)
        alpha = alpha_of(params, auto=1.0)
        weights = [("reconstruction", 1.0 / d), ("kl", float(params["beta"]) / d),
                   ("classification", alpha), ("consistency", cfg.consistency),
                   ("pseudo", 1.0)]
        if cfg.threshold is not None:
            weights.append(("mask_rate", 0.0))  # a diagnostic, recorded in history_
        return [ClassifierStage(
            name="shared-M2", description=self.summary,
            n_components=int(params["n_components"]),
            hidden_layer_sizes=hidden_sizes(params["hidden_layer_sizes"]),
            architecture=arch, likelihood=params["likelihood"], image_shape=shape,
            encoder=params["encoder"], decoder=params["decoder"],
            loss_weights=tuple(weights),
            seed=seed, **training_settings(params, partial, cfg.learning_rate), **run,
        )]

    #: The cosine step size runs per step (:class:`StepSchedule`), not per epoch.
    step_schedule = True

    def callbacks(self, stage, plan):
        # partial_fit continues a fitted model: the consistency term at full weight.
        cfg = SETTINGS
        callbacks = [("step_schedule", StepSchedule(
            stage.learning_rate_init, stage.learning_rate == "cosine", "consistency",
            stage.weights["consistency"], 0.0 if plan.partial else cfg.ramp))]
        if not plan.partial and stage.max_iter >= 2 and cfg.pseudo_at is not None:
            epoch = min(stage.max_iter - 1, int(cfg.pseudo_at * stage.max_iter))
            callbacks.append(("pseudo_labels", PseudoLabels(
                epoch, cfg.neighbours, cfg.ls_alpha, cfg.ls_iter)))
        if not plan.partial and cfg.pseudo_start:
            callbacks.append(("pseudo_labels_start", PseudoLabels(
                0, cfg.neighbours, cfg.ls_alpha, cfg.ls_iter, space="rows")))
        return callbacks

    def build(self, plan, inputs, fit_stage):
        stage, n, k = plan.final, plan.data.n_features, plan.data.n_classes
        arch = self.architecture(stage)
        cfg = SETTINGS
        if arch.name == "conv" and stage.encoder is None:
            body = _nn.ConvBody(stage.image_shape, cfg.conv_channels, stage.hidden_layer_sizes)
        else:
            body = arch.body(n)
        n_hidden = _nn.feature_width(body, n)
        X, weights = inputs["x"], inputs.get("sample_weight")
        sample = _training_sample(X, weights)
        scale = (_neighbour_scale(sample) if cfg.noise_scale == "knn"
                 else float(sample.std()) if sample.size else 1.0)
        fill = sample.mean(axis=0) if len(sample) else 0.0
        perturbation = _nn.Perturbation(cfg.noise * scale, stage.image_shape, cfg.shift,
                                        erase=cfg.erase, fill=fill)
        n_in = stage.n_components + k
        # A conv body's decoder is fully connected (unless one is given): a transposed-
        # convolution decoder costs more than the body's two passes per step.
        decoder = (_nn.MLPDecoder(n_in, stage.hidden_layer_sizes[::-1], n)
                   if arch.needs_image and stage.decoder is None else arch.decoder(n_in, n))
        module = _nn.SharedM2(body, n_hidden, stage.n_components, decoder,
                              _nn.make_likelihood(stage.likelihood, n), k, n_join=cfg.join,
                              perturbation=perturbation, threshold=cfg.threshold,
                              # Alignment is over the predictions on unlabelled rows:
                              # with every row labelled, the plain term on every row.
                              align=cfg.align and plan.data.unlabelled,
                              unlabelled_only=cfg.unlabelled_only)
        return module

    def inputs(self, plan, net, inputs):
        # The pseudo-label columns (filled by PseudoLabels mid-fit; a partial_fit call
        # starts them empty) and the row weights the alignment's class mixes count.
        rows, weights = len(inputs["x"]), inputs.get("sample_weight")
        extra = {"pseudo_label": np.full(rows, UNLABELLED, dtype=np.int64),
                 "pseudo_weight": np.zeros(rows, dtype=np.float32)}
        if weights is not None:
            extra["row_weight"] = np.asarray(weights, dtype=np.float32)
        return {**inputs, **extra}


def _training_sample(X, sample_weight=None, max_rows=10000):
    """X's first ``max_rows`` rows (float64), rows of weight 0 left out.

    Rows of weight 0 are left out, as they are left out of training.
    """
    sample = np.asarray(X[:max_rows], dtype=np.float64)
    if sample_weight is not None:
        sample = sample[np.asarray(sample_weight[:max_rows]) > 0]
    return sample


def _neighbour_scale(sample, k=7, max_rows=2000):
    """Median distance to the ``k``-th nearest neighbour, over sqrt(n_features).

    Measured among the first ``max_rows`` rows of ``sample`` (a fixed number, so the
    scale does not shrink as the data grow denser).

    Gaussian noise of this standard deviation per feature has about the length of
    the distance between neighbouring rows, whatever the rows' width or scale.
    """
    from sklearn.neighbors import NearestNeighbors

    sample = sample[:max_rows]
    if len(sample) < 2:
        return 1.0
    k = min(k, len(sample) - 1)
    dist = NearestNeighbors(n_neighbors=k + 1).fit(sample).kneighbors(sample)[0][:, k]
    scale = float(np.median(dist)) / math.sqrt(sample.shape[1])
    return scale if scale > 0 else 1.0


register(SharedRecipe())

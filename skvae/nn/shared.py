"""M2 with one encoder body for ``q(y | x)`` and ``q(z | x, y)``, trained to agree with itself.

The model of :mod:`skvae.models.shared`: Kingma et al.'s M2 whose classifier and
encoder share their feature network ``h = body(x)``, with two training terms on top of
the M2 bound that make its classifier learn from unlabelled rows:

* **consistency**: ``KL(q(y|x) || q(y|x~))`` with ``x~`` a random perturbation of the
  row (:class:`Perturbation`: Gaussian noise; on images also a small translation) and
  the first distribution held fixed (Sajjadi et al. 2016; Laine & Aila 2017);
* **pseudo-labels**: a cross-entropy on labels propagated to unlabelled rows in the
  model's own feature space (Iscen et al. 2019), weighted by their confidence; the
  labels are made during training (see :class:`skvae.models.shared.PseudoLabels`) and
  reach :meth:`SharedM2.forward` with each batch.

Imports neither scikit-learn nor skorch.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .losses import elbo_parts
from .m2 import M2
from .modules import Classifier, GaussianEncoder

__all__ = ["Perturbation", "SharedM2"]


class Perturbation(nn.Module):
    """Random perturbation of rows for the consistency term: noise, and shifts of images.

    Parameters
    ----------
    noise : float
        Standard deviation of the Gaussian noise added to every feature.
    image_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of the rows read as images: each image is then
        first moved by its own uniform random translation of up to ``shift`` pixels
        in each direction (bilinear, zeros shifted in). None: noise only.
    shift : float, default=2.0
        Largest translation in pixels.
    erase : float, default=0.0
        Share of each row erased (cutout, DeVries & Taylor 2017): on images one
        square patch covering about that share of the image at a random place; on
        other rows that share of the features, drawn at random. Erased features
        take the value ``fill``.
    fill : float or tensor of shape (n_features,), default=0.0
        The value of erased features (e.g. the data's mean row).

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> perturb = Perturbation(0.1, image_shape=(1, 4, 4), shift=1.0)
    >>> x = torch.rand(3, 16)
    >>> perturb(x).shape, bool((perturb(x) != x).any())
    (torch.Size([3, 16]), True)
    >>> cut = Perturbation(0.0, erase=0.5)
    >>> float((cut(torch.ones(2, 8)) == 0).float().mean())
    0.5
    """

    def __init__(self, noise, image_shape=None, shift=2.0, erase=0.0, fill=0.0):
        super().__init__()
        self.noise = float(noise)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        self.shift = float(shift)
        self.erase = float(erase)
        self.register_buffer("fill", torch.as_tensor(fill, dtype=torch.float32))

    def forward(self, x):
        n = x.shape[0]
        if self.image_shape is not None and self.shift > 0:
            c, h, w = self.image_shape
            # An affine grid that only translates: the offsets are in [-1, 1] units
            # of the image side, so ``shift`` pixels are 2 * shift / side.
            theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
            theta[:, 0, 0] = theta[:, 1, 1] = 1.0
            offsets = torch.rand(n, 2, dtype=x.dtype, device=x.device) * 2 - 1
            theta[:, 0, 2] = offsets[:, 0] * (2 * self.shift / w)
            theta[:, 1, 2] = offsets[:, 1] * (2 * self.shift / h)
            images = x.reshape(n, c, h, w)
            grid = F.affine_grid(theta, list(images.shape), align_corners=False)
            x = F.grid_sample(images, grid, align_corners=False).reshape(n, -1)
        if self.erase > 0:
            keep = self.keep_mask(n, x.shape[1], x.device)
            x = torch.where(keep, x, self.fill.to(x.dtype))
        if self.noise > 0:
            x = x + self.noise * torch.randn_like(x)
        return x

    def keep_mask(self, n, n_features, device):
        """``(n, n_features)`` booleans: False where a row's features are erased."""
        if self.image_shape is None:
            n_erase = int(round(self.erase * n_features))
            order = torch.rand(n, n_features, device=device).argsort(dim=1)
            return order >= n_erase
        c, h, w = self.image_shape
        side_h = max(1, int(round(h * math.sqrt(self.erase))))
        side_w = max(1, int(round(w * math.sqrt(self.erase))))
        top = torch.randint(0, h - side_h + 1, (n, 1, 1), device=device)
        left = torch.randint(0, w - side_w + 1, (n, 1, 1), device=device)
        rows = torch.arange(h, device=device).view(1, h, 1)
        cols = torch.arange(w, device=device).view(1, 1, w)
        inside = ((rows >= top) & (rows < top + side_h)
                  & (cols >= left) & (cols < left + side_w))
        return ~inside.unsqueeze(1).expand(n, c, h, w).reshape(n, -1)

    def extra_repr(self):
        return (f"noise={self.noise:g}, image_shape={self.image_shape}, shift={self.shift:g}, "
                f"erase={self.erase:g}")


class SharedM2(M2):
    """M2 whose ``q(y | x)`` and ``q(z | x, y)`` share one feature network.

    ``h = body(x)``; ``q(y | x)`` is a linear head on ``h``; ``q(z | x, y)`` is a
    hidden layer on ``[h, y]`` and a Gaussian head; ``p(x | z, y)`` is ``decoder``
    on ``[z, y]``. Inference (``classify``, ``encode``, ``log_marginal``, sampling)
    is :class:`~skvae.nn.M2`'s.

    Parameters
    ----------
    body : nn.Module
        Maps flattened rows ``(n, n_features)`` to features ``(n, n_hidden)``.
    n_hidden : int
        Width of the body's output.
    n_latent : int
        Size of the continuous code ``z``.
    decoder : nn.Module
        Maps ``[z, onehot(y)]`` to the likelihood's parameters.
    likelihood : Likelihood
    n_classes : int
    n_join : int, default=256
        Width of the hidden layer of ``q(z | x, y)`` on ``[h, y]``.
    perturbation : nn.Module or None, default=None
        Maps a batch to a perturbed (strong) copy (:class:`Perturbation`); None: no
        consistency term.
    threshold : float or None, default=None
        None: the consistency term is ``KL(q(y|x) || q(y|x~))`` on every row. A
        number in (0, 1]: the masked weak-to-strong term of FixMatch (Sohn et al.
        2020): an unlabelled row whose (aligned) ``q(y|x)`` puts at least
        ``threshold`` on one class learns that class on its perturbed copy,
        ``CE(q(y|x~), argmax q(y|x))``; the other rows add nothing.
    align : bool, default=False
        Align the consistency targets to the labelled rows' class mix (distribution
        alignment, Berthelot et al. 2020): they are ``q(y|x) * prior / mean q(y|x)``,
        renormalised, with ``prior`` the running class mix of the labelled rows and
        ``mean q(y|x)`` the running mean prediction on unlabelled rows, both over the
        training batches. A model that drifts towards some classes then gets targets
        that pull it back (and, with a ``threshold``, fewer confident ones for them).
        The KL term then counts unlabelled rows only.
    momentum : float, default=0.99
        Of the running means of ``align``, per training step (each row counted with
        the ``row_weight`` that ``forward`` gets, if any: a row of weight 0 not at all).
    unlabelled_only : bool, default=False
        Without a ``threshold``: the KL consistency term on unlabelled rows only (a
        labelled row's class is already taught by the cross-entropy).

    Notes
    -----
    ``forward`` returns per-row terms (targets ``-1`` mark unlabelled rows):

    ``'reconstruction'``, ``'kl'``
        The negative M2 bound: labelled rows with their class observed; unlabelled
        rows conditioned on the soft class ``q(y | x)`` in one pass (a relaxation of
        the sum over classes, ``K`` times cheaper), plus ``KL(q(y|x) || p(y))``.
    ``'classification'``
        Cross-entropy on labelled rows, scaled by ``n / n_labelled`` (its batch mean
        is the labelled rows' mean), 0 elsewhere.
    ``'consistency'``
        ``KL(q(y|x) || q(y|x~))`` for every row, the first held fixed; or, with a
        ``threshold``, the masked cross-entropy above on unlabelled rows (training
        only; 0 in eval mode or without a perturbation).
    ``'mask_rate'``
        With a ``threshold``: 1 for an unlabelled row that passed the mask, scaled by
        ``n / n_unlabelled`` (its batch mean is the share of unlabelled rows that
        passed); a diagnostic, to be given weight 0.
    ``'pseudo'``
        ``pseudo_weight * CE(q(y|x), pseudo_label)`` on unlabelled rows that have a
        pseudo-label (``pseudo_label >= 0``), 0 elsewhere.

    Examples
    --------
    >>> import torch
    >>> from skvae.nn import MLP, MLPDecoder, make_likelihood
    >>> model = SharedM2(MLP([6, 5]), 5, 2, MLPDecoder(2 + 3, (5,), 6),
    ...                  make_likelihood("bernoulli", 6), 3, n_join=4,
    ...                  perturbation=Perturbation(0.1))
    >>> terms = model(torch.rand(4, 6), torch.tensor([0, 2, -1, -1]))
    >>> sorted(terms)
    ['classification', 'consistency', 'kl', 'mask_rate', 'pseudo', 'reconstruction']
    >>> model.classify(torch.rand(4, 6)).shape
    torch.Size([4, 3])
    """

    def __init__(self, body, n_hidden, n_latent, decoder, likelihood, n_classes,
                 n_join=256, perturbation=None, threshold=None, align=False, momentum=0.99,
                 unlabelled_only=False):
        classifier = Classifier(body, n_hidden, n_classes)
        encoder = GaussianEncoder(body, n_hidden, n_latent)
        # q(z | x, y): a hidden layer on [h, y] before the Gaussian head.
        encoder.head = nn.Sequential(nn.Linear(int(n_hidden) + int(n_classes), int(n_join)),
                                     nn.ReLU(), nn.Linear(int(n_join), 2 * int(n_latent)))
        super().__init__(classifier, encoder, decoder, likelihood, n_classes)
        self.perturbation = perturbation
        self.threshold = None if threshold is None else float(threshold)
        self.momentum = float(momentum)
        self.align = bool(align)
        self.unlabelled_only = bool(unlabelled_only)
        k = int(n_classes)
        self.register_buffer("prior", torch.full((k,), 1.0 / k))
        self.register_buffer("q_mean", torch.full((k,), 1.0 / k))

    def aligned(self, q):
        """``q`` aligned to the prior's class mix (rows renormalised), or ``q`` itself."""
        if not self.align:
            return q
        p = q * (self.prior / self.q_mean.clamp(min=1e-6)).to(q.dtype)
        return p / p.sum(dim=1, keepdim=True)

    def masked_targets(self, q):
        """(class, passed) of rows with probabilities ``q``: argmax and its confidence test."""
        p = self.aligned(q)
        confidence, target = p.max(dim=1)
        return target, confidence >= self.threshold

    def forward(self, x, y=None, pseudo_label=None, pseudo_weight=None, row_weight=None):
        """Per-row loss terms (see the class Notes)."""
        n, k = x.shape[0], self.n_classes
        if y is None:
            y = torch.full((n,), -1, dtype=torch.long, device=x.device)
        y = y.long()
        labelled = y >= 0
        n_lab = int(labelled.sum())
        h = self.encoder.features(x)  # the shared body, once per row
        logits = self.classifier.head(self.classifier.dropout(h))
        log_q = torch.log_softmax(logits, dim=1)
        q = log_q.exp()
        onehot = F.one_hot(y.clamp(min=0), k).to(q.dtype)
        cls = torch.where(labelled[:, None], onehot, q)
        nll, kl_z = elbo_parts(self, x, *self.encoder.from_features(h, cls), cls)
        kl_y = torch.where(labelled, x.new_zeros(()),
                           (q * log_q).sum(dim=1)) + math.log(k)
        zero = x.new_zeros(n)
        clf = zero
        if n_lab:
            ce = F.cross_entropy(logits, y.clamp(min=0), reduction="none")
            clf = torch.where(labelled, ce * (n / n_lab), zero)
        consistency = mask_rate = zero
        if self.training and self.perturbation is not None:
            perturbed = self.classify(self.perturbation(x))
            self._track_mix(q.detach(), ~labelled, y, row_weight)
            if self.threshold is None:
                if self.align:
                    target = self.aligned(q.detach())
                    log_target = torch.log(target.clamp(min=1e-12))
                else:
                    target, log_target = q.detach(), log_q.detach()
                consistency = (target * (log_target - torch.log_softmax(perturbed, 1))
                               ).sum(dim=1)
                if self.unlabelled_only or self.align:
                    consistency = torch.where(labelled, zero, consistency)
            else:
                consistency, mask_rate = self._masked(q.detach(), perturbed, ~labelled)
        pseudo = zero
        if pseudo_label is not None:
            has = (pseudo_label >= 0) & ~labelled
            ce = F.cross_entropy(logits, pseudo_label.long().clamp(min=0), reduction="none")
            pseudo = torch.where(has, ce * pseudo_weight.to(ce.dtype), zero)
        return {"reconstruction": nll, "kl": kl_z + kl_y, "classification": clf,
                "consistency": consistency, "pseudo": pseudo, "mask_rate": mask_rate}

    @torch.no_grad()
    def _track_mix(self, q, unlabelled, y, row_weight=None):
        """Update the running class mixes of ``align`` from a batch.

        The mean of ``q`` over the unlabelled rows and the mix of the labels ``y`` of
        the others, each row counted with its ``row_weight`` (a row of weight 0 not at
        all).
        """
        if not self.align:
            return
        m = self.momentum
        if row_weight is None:  # every row counts once
            labels = y[~unlabelled]
            if unlabelled.any():
                self.q_mean.mul_(m).add_(q[unlabelled].float().mean(dim=0), alpha=1 - m)
            if len(labels):
                mix = torch.bincount(labels, minlength=q.shape[1]).float() / len(labels)
                self.prior.mul_(m).add_(mix, alpha=1 - m)
            return
        w = row_weight.to(q.device).float()
        wu, wl = w * unlabelled, w * ~unlabelled
        if wu.sum() > 0:
            self.q_mean.mul_(m).add_((wu[:, None] * q.float()).sum(0) / wu.sum(), alpha=1 - m)
        if wl.sum() > 0:
            mix = torch.zeros_like(self.prior).index_add_(0, y.clamp(min=0), wl)
            self.prior.mul_(m).add_(mix / wl.sum(), alpha=1 - m)

    def _masked(self, q, perturbed_logits, unlabelled):
        """The masked weak-to-strong term and the mask (see ``threshold``), per row."""
        n, n_unlab = q.shape[0], int(unlabelled.sum())
        zero = q.new_zeros(n)
        if not n_unlab:
            return zero, zero
        target, passed = self.masked_targets(q)
        passed = passed & unlabelled
        ce = F.cross_entropy(perturbed_logits, target, reduction="none")
        return (torch.where(passed, ce, zero),
                passed.to(q.dtype) * (n / n_unlab))

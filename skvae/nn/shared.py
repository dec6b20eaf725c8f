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

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> perturb = Perturbation(0.1, image_shape=(1, 4, 4), shift=1.0)
    >>> x = torch.rand(3, 16)
    >>> perturb(x).shape, bool((perturb(x) != x).any())
    (torch.Size([3, 16]), True)
    """

    def __init__(self, noise, image_shape=None, shift=2.0):
        super().__init__()
        self.noise = float(noise)
        self.image_shape = None if image_shape is None else tuple(int(s) for s in image_shape)
        self.shift = float(shift)

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
        if self.noise > 0:
            x = x + self.noise * torch.randn_like(x)
        return x

    def extra_repr(self):
        return f"noise={self.noise:g}, image_shape={self.image_shape}, shift={self.shift:g}"


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
        Maps a batch to a perturbed copy (:class:`Perturbation`); None: no
        consistency term.

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
        ``KL(q(y|x) || q(y|x~))`` for every row, the first held fixed (training only;
        0 in eval mode or without a perturbation).
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
    ['classification', 'consistency', 'kl', 'pseudo', 'reconstruction']
    >>> model.classify(torch.rand(4, 6)).shape
    torch.Size([4, 3])
    """

    def __init__(self, body, n_hidden, n_latent, decoder, likelihood, n_classes,
                 n_join=256, perturbation=None):
        classifier = Classifier(body, n_hidden, n_classes)
        encoder = GaussianEncoder(body, n_hidden, n_latent)
        # q(z | x, y): a hidden layer on [h, y] before the Gaussian head.
        encoder.head = nn.Sequential(nn.Linear(int(n_hidden) + int(n_classes), int(n_join)),
                                     nn.ReLU(), nn.Linear(int(n_join), 2 * int(n_latent)))
        super().__init__(classifier, encoder, decoder, likelihood, n_classes)
        self.perturbation = perturbation

    def forward(self, x, y=None, pseudo_label=None, pseudo_weight=None):
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
        consistency = zero
        if self.training and self.perturbation is not None:
            perturbed = self.classify(self.perturbation(x))
            consistency = (q.detach() * (log_q.detach() - torch.log_softmax(perturbed, 1))
                           ).sum(dim=1)
        pseudo = zero
        if pseudo_label is not None:
            has = (pseudo_label >= 0) & ~labelled
            ce = F.cross_entropy(logits, pseudo_label.long().clamp(min=0), reduction="none")
            pseudo = torch.where(has, ce * pseudo_weight.to(ce.dtype), zero)
        return {"reconstruction": nll, "kl": kl_z + kl_y, "classification": clf,
                "consistency": consistency, "pseudo": pseudo}

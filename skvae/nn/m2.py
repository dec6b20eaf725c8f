"""The M2 semi-supervised VAE of Kingma et al. (2014), in pure PyTorch.

The class ``y`` is a second latent variable next to the continuous code ``z``:

* ``q(y | x)``: a classifier network (the model's prediction),
* ``q(z | x, y)``: an encoder conditioned on the one-hot class,
* ``p(x | z, y)``: a decoder reading ``[z, onehot(y)]``, with priors ``p(z) = N(0, I)``
  and ``p(y)`` uniform over the ``K`` classes.

For a labelled row the bound is the usual ELBO with ``y`` observed,
``log p(x, y) >= E_q(z|x,y)[log p(x|z,y)] - KL(q(z|x,y) || p(z)) + log p(y)``.
For an unlabelled row ``y`` is marginalised under ``q(y | x)``:
``log p(x) >= sum_y q(y|x) [E log p(x|z,y) - KL_z] - KL(q(y|x) || p(y))``, so the
unlabelled rows train the classifier through the generative model. Labelled rows
add the cross-entropy of ``q(y | x)``, the term that makes ``q(y | x)`` a good
classifier. Imports neither scikit-learn nor skorch.
"""

import math

import torch
import torch.nn.functional as F

from .losses import elbo_parts, log_importance_weights
from .modules import DecoderModel

__all__ = ["M2"]


class M2(DecoderModel):
    """Semi-supervised VAE with the class as a latent variable (Kingma et al., 2014, M2).

    Its ``forward(x, y)`` returns the per-row loss terms, so every network pass of
    the loss runs inside whatever wraps ``forward`` (autocast, for one).

    Parameters
    ----------
    classifier : nn.Module
        Maps ``x`` to class logits ``(n, n_classes)``.
    encoder : nn.Module
        ``encoder(x, c) -> (mu, logvar)`` of ``q(z | x, y)``, with ``c`` the one-hot
        class (or class probabilities), of width ``n_classes``. An encoder that also
        has ``features(x)`` and ``from_features(h, c)`` (every
        :class:`~skvae.nn.GaussianEncoder` does) has its body run once per
        unlabelled row instead of once per row and class.
    decoder : nn.Module
        Maps ``[z, onehot(y)]`` of width ``n_latent + n_classes`` to the likelihood's
        parameters of ``p(x | z, y)``.
    likelihood : Likelihood
        Observation model.
    n_classes : int
        Number of classes ``K`` (at least 2).

    Notes
    -----
    Unlabelled rows carry the target ``-1``. ``forward`` returns, per row:

    ``'reconstruction'``
        ``-E log p(x | z, y)``, averaged over ``q(y | x)`` for unlabelled rows.
    ``'kl'``
        ``KL(q(z|x,y) || p(z)) - log p(y)`` for labelled rows; for unlabelled rows its
        expectation over ``q(y | x)`` plus ``KL(q(y|x) || p(y))``. With the
        reconstruction term this is the negative M2 bound.
    ``'classification'``
        Cross-entropy of ``q(y | x)`` on labelled rows, 0 on unlabelled rows, scaled
        by ``n / n_labelled`` so that its batch mean is the mean cross-entropy of
        the labelled rows whatever their share of the batch.

    Examples
    --------
    >>> import torch
    >>> from skvae.nn import MLP, MLPDecoder, MLPEncoder, make_likelihood
    >>> m2 = M2(MLP([6, 3]), MLPEncoder(6, (5,), 2, n_condition=3),
    ...         MLPDecoder(2 + 3, (5,), 6), make_likelihood("bernoulli", 6), 3)
    >>> terms = m2(torch.rand(4, 6), torch.tensor([0, 2, -1, -1]))
    >>> sorted(terms), terms["kl"].shape
    (['classification', 'kl', 'reconstruction'], torch.Size([4]))
    """

    def __init__(self, classifier, encoder, decoder, likelihood, n_classes):
        if n_classes < 2:
            raise ValueError(f"M2 needs at least 2 classes, got n_classes={n_classes}.")
        super().__init__(decoder, likelihood)
        self.classifier = classifier
        self.encoder = encoder
        self.n_classes = int(n_classes)

    # -- the three networks ------------------------------------------------------
    def classify(self, x):
        """Class logits of ``q(y | x)``, shape ``(n, n_classes)``."""
        return self.classifier(x)

    def encode(self, x, c=None):
        """``(mu, logvar)`` of ``q(z | x, c)``.

        Without ``c`` the encoder is conditioned on the predicted class
        probabilities ``q(y | x)``: a deterministic code that needs no label.
        """
        if c is None:
            c = torch.softmax(self.classify(x), dim=1)
        return self.encoder(x, c)

    # -- bounds ------------------------------------------------------------------
    def _all_classes_parts(self, x, eps=None):
        """Reconstruction NLL and z-KL of every row under every class: two ``(n, K)``."""
        n, k = x.shape[0], self.n_classes
        xr = x.unsqueeze(1).expand(n, k, *x.shape[1:]).reshape(n * k, *x.shape[1:])
        onehot = torch.eye(k, dtype=x.dtype, device=x.device).repeat(n, 1)
        if eps is not None:
            eps = eps.repeat_interleave(k, dim=0)
        if hasattr(self.encoder, "features") and hasattr(self.encoder, "from_features"):
            # The class joins the encoder after its body: run the body once per row
            # rather than once per row and class.
            h = self.encoder.features(x).repeat_interleave(k, dim=0)
            mu, logvar = self.encoder.from_features(h, onehot)
        else:
            mu, logvar = self.encoder(xr, onehot)
        nll, kl = elbo_parts(self, xr, mu, logvar, onehot, eps)
        return nll.view(n, k), kl.view(n, k)

    def _marginal_parts(self, x, logits, eps=None):
        """Reconstruction and KL of the bound with ``y`` marginalised under ``q(y|x)``."""
        nll, kl = self._all_classes_parts(x, eps)
        q = torch.softmax(logits, dim=1)
        log_q = torch.log_softmax(logits, dim=1)
        kl_y = (q * (log_q + math.log(self.n_classes))).sum(dim=1)
        return (q * nll).sum(dim=1), (q * kl).sum(dim=1) + kl_y

    def elbo(self, x, eps=None):
        """Per-row M2 bound on ``log p(x)`` in nats, ``y`` marginalised under ``q(y|x)``.

        ``eps`` (shape ``(s, n_latent)``) fixes the noise: the same ``s`` draws for
        every row and every class, averaged (so a row's value does not depend on the
        other rows, as in :meth:`skvae.nn.VAE.elbo`). One fresh draw when omitted.
        """
        logits = self.classify(x)
        if eps is None:
            return -sum(self._marginal_parts(x, logits))
        n = x.shape[0]
        bounds = [-sum(self._marginal_parts(x, logits, e.expand(n, -1))) for e in eps]
        return torch.stack(bounds).mean(dim=0)

    def log_marginal(self, x, eps):
        """Importance-weighted estimate of ``log p(x)`` per row, the class summed out.

        ``log p(x) = log sum_y p(y) p(x | y)``, each ``p(x | y)`` estimated with the
        ``s`` draws ``eps`` from ``q(z | x, y)`` (Burda et al. 2016), and the sum over
        the ``K`` classes done exactly.

        Parameters
        ----------
        x : torch.Tensor of shape (n, d)
        eps : torch.Tensor of shape (s, n_latent)

        Returns
        -------
        torch.Tensor of shape (n,)
        """
        n, k, s = x.shape[0], self.n_classes, eps.shape[0]
        eye = torch.eye(k, dtype=x.dtype, device=x.device)
        h = self.encoder.features(x) if hasattr(self.encoder, "from_features") else None
        per_class = []
        for c in range(k):
            onehot = eye[c].expand(n, k)
            mu, logvar = (self.encoder(x, onehot) if h is None
                          else self.encoder.from_features(h, onehot))
            log_w = log_importance_weights(self, x, mu, logvar, eps, onehot)
            per_class.append(torch.logsumexp(log_w, dim=0) - math.log(s))
        return torch.logsumexp(torch.stack(per_class), dim=0) - math.log(k)

    def forward(self, x, y=None, logits=None):
        """Per-row loss terms (see the class Notes); ``y`` holds -1 for unlabelled rows.

        ``logits`` of ``q(y | x)`` may be given when the classifier reads more than
        ``x`` (see :class:`~skvae.nn.StackedM2`); they are computed from ``x`` otherwise.

        Returns
        -------
        dict
            ``{'reconstruction': (n,), 'kl': (n,), 'classification': (n,)}``.
        """
        if logits is None:
            logits = self.classify(x)
        n = x.shape[0]
        if y is None:
            y = torch.full((n,), -1, dtype=torch.long, device=x.device)
        y = y.long()
        labelled = y >= 0
        n_lab = int(labelled.sum())
        # The terms are float32 (or the input's dtype) even under autocast.
        recon, kl, clf = x.new_zeros(n), x.new_zeros(n), x.new_zeros(n)
        if n_lab:
            onehot = F.one_hot(y[labelled], self.n_classes).to(x.dtype)
            x_lab = x[labelled]
            nll_l, kl_l = elbo_parts(self, x_lab, *self.encoder(x_lab, onehot), onehot)
            recon[labelled] = nll_l.to(recon.dtype)
            kl[labelled] = (kl_l + math.log(self.n_classes)).to(kl.dtype)
            ce = F.cross_entropy(logits[labelled], y[labelled], reduction="none")
            clf[labelled] = (ce * (n / n_lab)).to(clf.dtype)
        if n_lab < n:
            unlabelled = ~labelled
            nll_u, kl_u = self._marginal_parts(x[unlabelled], logits[unlabelled])
            recon[unlabelled] = nll_u.to(recon.dtype)
            kl[unlabelled] = kl_u.to(kl.dtype)
        return {"reconstruction": recon, "kl": kl, "classification": clf}

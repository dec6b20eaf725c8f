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

from .losses import gaussian_kl
from .modules import DecoderModel

__all__ = ["M2"]


class M2(DecoderModel):
    """Semi-supervised VAE with the class as a latent variable (Kingma et al., 2014, M2).

    Parameters
    ----------
    classifier : nn.Module
        Maps ``x`` to class logits ``(n, n_classes)``; a module returning a tuple
        (an encoder's ``(mu, logvar)``) is accepted and its first element used.
    encoder : nn.Module
        ``encoder(x, c) -> (mu, logvar)`` of ``q(z | x, y)``, with ``c`` the one-hot
        class (or class probabilities), of width ``n_classes``. An encoder that also
        has ``features(x)`` and ``from_features(h, c)`` (as
        :class:`~skvae.nn.MLPEncoder` and :class:`~skvae.nn.ConvEncoder` do) has its
        hidden layers run once per unlabelled row instead of once per row and class.
    decoder : nn.Module
        Maps ``[z, onehot(y)]`` of width ``n_latent + n_classes`` to logits
        (``'bernoulli'``) or means (``'gaussian'``) of ``p(x | z, y)``.
    likelihood : {'bernoulli', 'gaussian'}
        Observation model.
    n_features : int
        Size of a flattened input.
    n_classes : int
        Number of classes ``K`` (at least 2).

    Notes
    -----
    Unlabelled rows carry the target ``-1``. ``loss_terms`` returns, per row:

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
    >>> from skvae.nn import MLP, MLPDecoder, MLPEncoder
    >>> m2 = M2(MLP([6, 3]), MLPEncoder(6, (5,), 2, n_condition=3),
    ...         MLPDecoder(2 + 3, (5,), 6), "bernoulli", 6, 3)
    >>> x, y = torch.rand(4, 6), torch.tensor([0, 2, -1, -1])
    >>> terms = m2.loss_terms(x, m2(x), y)
    >>> sorted(terms), terms["kl"].shape
    (['classification', 'kl', 'reconstruction'], torch.Size([4]))
    """

    def __init__(self, classifier, encoder, decoder, likelihood, n_features, n_classes):
        if n_classes < 2:
            raise ValueError(f"M2 needs at least 2 classes, got n_classes={n_classes}.")
        super().__init__(decoder, likelihood, n_features)
        self.classifier = classifier
        self.encoder = encoder
        self.n_classes = int(n_classes)

    # -- the three networks ------------------------------------------------------
    def classify(self, x):
        """Class logits of ``q(y | x)``, shape ``(n, n_classes)``."""
        out = self.classifier(x)
        return out[0] if isinstance(out, tuple) else out

    def encode(self, x, c=None):
        """``(mu, logvar)`` of ``q(z | x, c)``.

        Without ``c`` the encoder is conditioned on the predicted class
        probabilities ``q(y | x)``: a deterministic code that needs no label.
        """
        if c is None:
            c = torch.softmax(self.classify(x), dim=1)
        return self.encoder(x, c)

    def forward(self, x):
        """Class logits first (the prediction), as a 1-tuple; the rest is in ``loss_terms``."""
        return (self.classify(x),)

    # -- bounds ------------------------------------------------------------------
    def _labelled_parts(self, x, onehot, eps=None, posterior=None):
        """Per-row reconstruction NLL and z-KL with ``y`` given (one draw of z).

        ``posterior`` is ``(mu, logvar)`` when the caller has it already.
        """
        mu, logvar = self.encoder(x, onehot) if posterior is None else posterior
        if eps is None:
            eps = torch.randn_like(mu)
        z = mu + eps * torch.exp(0.5 * logvar)
        decoded = self.decode(torch.cat([z, onehot], dim=1))
        nll = self.reconstruction_nll(x, decoded)
        return nll, gaussian_kl(mu, logvar)

    def _all_classes_parts(self, x, eps=None):
        """Reconstruction NLL and z-KL of every row under every class: two ``(n, K)``."""
        n, k = x.shape[0], self.n_classes
        xr = x.unsqueeze(1).expand(n, k, *x.shape[1:]).reshape(n * k, *x.shape[1:])
        onehot = torch.eye(k, dtype=x.dtype, device=x.device).repeat(n, 1)
        if eps is not None:
            eps = eps.repeat_interleave(k, dim=0)
        posterior = None
        if hasattr(self.encoder, "features") and hasattr(self.encoder, "from_features"):
            # The class joins the encoder after its hidden layers: compute those once
            # per row rather than once per row and class.
            h = self.encoder.features(x).repeat_interleave(k, dim=0)
            posterior = self.encoder.from_features(h, onehot)
        nll, kl = self._labelled_parts(xr, onehot, eps, posterior)
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

    def loss_terms(self, x, outputs, y):
        """Per-row loss parts (see the class Notes); ``y`` holds -1 for unlabelled rows.

        Returns
        -------
        dict
            ``{'reconstruction': (n,), 'kl': (n,), 'classification': (n,)}``.
        """
        logits = outputs[0]
        n = x.shape[0]
        if y is None:
            y = torch.full((n,), -1, dtype=torch.long, device=x.device)
        y = y.long()
        labelled = y >= 0
        n_lab = int(labelled.sum())
        recon = x.new_zeros(n)
        kl = x.new_zeros(n)
        clf = x.new_zeros(n)
        if n_lab:
            onehot = F.one_hot(y[labelled], self.n_classes).to(x.dtype)
            nll_l, kl_l = self._labelled_parts(x[labelled], onehot)
            recon[labelled] = nll_l
            kl[labelled] = kl_l + math.log(self.n_classes)
            ce = F.cross_entropy(logits[labelled], y[labelled], reduction="none")
            clf[labelled] = ce * (n / n_lab)
        if n_lab < n:
            unlabelled = ~labelled
            nll_u, kl_u = self._marginal_parts(x[unlabelled], logits[unlabelled])
            recon[unlabelled] = nll_u
            kl[unlabelled] = kl_u
        return {"reconstruction": recon, "kl": kl, "classification": clf}

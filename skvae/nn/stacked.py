"""M1 + M2 (Kingma et al. 2014): M2 on the standardised code of a frozen VAE.

The first model (M1) is a VAE fitted on every row without labels. M2, the model that
learns the classes, reads M1's code (its posterior mean), optionally beside the row
itself, standardised. The stacked module takes the original rows, so it predicts,
encodes, samples and scores like a plain M2. Pure PyTorch.
"""

import torch
from torch import nn

__all__ = ["StackedM2"]


class StackedM2(nn.Module):
    """M2 on the standardised code of a frozen VAE, optionally beside the row itself.

    Parameters
    ----------
    code_model : VAE
        The unsupervised model M1, already trained; it is frozen (no gradients, always
        in eval mode).
    m2 : M2
        The semi-supervised model (usually with a Gaussian likelihood). It models
        :meth:`m2_input`; its classifier reads the same or, with
        ``classifier_input='with_rows'``, the flattened row beside it.
    loc, scale : torch.Tensor of shape (n_m2,)
        Mean and standard deviation of M2's input features over the training rows.
    model_input : {'code', 'rows_and_code'}, default='code'
        What M2 models: M1's code, or the flattened row and the code side by side.
    classifier_input : {'model_input', 'with_rows'}, default='model_input'
        What ``q(y | .)`` reads: M2's input, or the raw flattened row beside it (so
        the classifier sees the pixels while the generative part models the code).

    Examples
    --------
    >>> import torch
    >>> from skvae.nn import M2, VAE, make_architecture, make_likelihood
    >>> arch = make_architecture("mlp", (8,))
    >>> m1 = VAE(arch.encoder(6, 3), arch.decoder(3, 6), make_likelihood("bernoulli", 6))
    >>> m2 = M2(arch.classifier(3, 2), arch.encoder(3, 2, 2), arch.decoder(4, 3),
    ...         make_likelihood("gaussian", 3), 2)
    >>> model = StackedM2(m1, m2, torch.zeros(3), torch.ones(3))
    >>> model.classify(torch.rand(5, 6)).shape
    torch.Size([5, 2])
    >>> sorted(model(torch.rand(5, 6), torch.tensor([0, 1, -1, -1, -1])))
    ['classification', 'kl', 'reconstruction']
    """

    def __init__(self, code_model, m2, loc, scale, model_input="code",
                 classifier_input="model_input"):
        if model_input not in ("code", "rows_and_code"):
            raise ValueError(
                f"model_input must be 'code' or 'rows_and_code', got {model_input!r}.")
        if classifier_input not in ("model_input", "with_rows"):
            raise ValueError("classifier_input must be 'model_input' or 'with_rows', got "
                             f"{classifier_input!r}.")
        super().__init__()
        self.code_model = code_model.requires_grad_(False).eval()
        self.m2 = m2
        self.model_input = model_input
        self.classifier_input = classifier_input
        self.register_buffer("loc", torch.as_tensor(loc, dtype=torch.float32).clone())
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).clone())
        self.n_classes = m2.n_classes

    def train(self, mode=True):
        super().train(mode)
        self.code_model.eval()  # frozen: never in training mode
        return self

    @property
    def likelihood(self):
        """The observation model of the rows themselves (M1's)."""
        return self.code_model.likelihood

    @property
    def n_code(self):
        """Size of M1's code."""
        return self.code_model.encoder.head.out_features // 2

    def code(self, x):
        """M1's posterior mean for rows ``x`` (no gradient: M1 is frozen)."""
        with torch.no_grad():
            return self.code_model.encode(x)[0]

    def m2_input(self, x, code=None):
        """M2's standardised input features for rows ``x``."""
        code = self.code(x) if code is None else code
        if self.model_input == "rows_and_code":
            code = torch.cat([x.reshape(x.shape[0], -1), code], dim=1)
        return (code - self.loc) / self.scale

    def _logits(self, x, features):
        if self.classifier_input == "model_input":
            return self.m2.classify(features)
        return self.m2.classify(torch.cat([x.reshape(x.shape[0], -1), features], dim=1))

    def forward(self, x, y=None, m2_input=None):
        """M2's per-row loss terms (see :class:`~skvae.nn.M2`).

        ``m2_input`` may be given (:meth:`m2_input` of ``x``, computed once for a whole
        training run, as M1 is frozen); it is computed from ``x`` otherwise.
        """
        features = self.m2_input(x) if m2_input is None else m2_input
        return self.m2(features, y, logits=self._logits(x, features))

    def classify(self, x):
        """Class logits of ``q(y | .)`` for rows ``x``."""
        return self._logits(x, self.m2_input(x))

    def encode(self, x, c=None):
        """``(mu, logvar)`` of M2's ``q(z | ., c)``; ``c`` defaults to ``q(y | .)``."""
        features = self.m2_input(x)
        if c is None:
            c = torch.softmax(self._logits(x, features), dim=1)
        return self.m2.encode(features, c)

    def decode_mean(self, z):
        """Rows generated from M2's ``[z, onehot(y)]``: M2 gives M1's code, M1 decodes it."""
        features = self.m2.decode_mean(z) * self.scale + self.loc
        return self.code_model.decode_mean(features[:, -self.n_code:])

    def log_marginal(self, x, eps):
        """M1's importance-weighted ``log p(x)`` (``eps`` of shape ``(s, n_code)``)."""
        return self.code_model.log_marginal(x, eps)

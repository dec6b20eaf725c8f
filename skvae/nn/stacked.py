"""M1 + M2 (Kingma et al. 2014): M2 on the standardised code of a frozen VAE.

The first model (M1) is a VAE fitted on every row without labels; its posterior means,
standardised, are the inputs of an M2 model that learns the classes. The stacked module
takes the original rows, so it predicts, encodes, samples and scores like a plain M2.
Pure PyTorch.
"""

import torch
from torch import nn

__all__ = ["StackedM2"]


class StackedM2(nn.Module):
    """M2 reading the standardised posterior mean of a frozen VAE's code.

    Parameters
    ----------
    code_model : VAE
        The unsupervised model M1, already trained; it is frozen (no gradients, always
        in eval mode).
    m2 : M2
        The semi-supervised model on the code (usually with a Gaussian likelihood).
    loc, scale : torch.Tensor of shape (n_code,)
        Mean and standard deviation of the code over the training rows.

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

    def __init__(self, code_model, m2, loc, scale):
        super().__init__()
        self.code_model = code_model.requires_grad_(False).eval()
        self.m2 = m2
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
        return self.loc.shape[0]

    def code(self, x):
        """The standardised posterior mean of M1's code for rows ``x``."""
        with torch.no_grad():
            mu = self.code_model.encode(x)[0]
        return (mu - self.loc) / self.scale

    def forward(self, x, y=None):
        """M2's per-row loss terms on the code of ``x`` (see :class:`~skvae.nn.M2`)."""
        return self.m2(self.code(x), y)

    def classify(self, x):
        """Class logits of ``q(y | code(x))``."""
        return self.m2.classify(self.code(x))

    def encode(self, x, c=None):
        """``(mu, logvar)`` of M2's ``q(z | code(x), c)``."""
        return self.m2.encode(self.code(x), c)

    def decode_mean(self, z):
        """Rows generated from M2's ``[z, onehot(y)]``: M2 gives a code, M1 decodes it."""
        code = self.m2.decode_mean(z) * self.scale + self.loc
        return self.code_model.decode_mean(code)

    def log_marginal(self, x, eps):
        """M1's importance-weighted ``log p(x)`` (``eps`` of shape ``(s, n_code)``)."""
        return self.code_model.log_marginal(x, eps)

"""The M2 module: the per-class shortcut of the encoder gives the plain computation."""

import pytest
import torch
from torch import nn

from skvae.nn import M2, MLP, ConvEncoder, MLPDecoder, MLPEncoder, make_likelihood


class _PlainEncoder(nn.Module):
    """Wraps an encoder but hides ``features``, forcing M2's row-times-class path."""

    def __init__(self, encoder):
        super().__init__()
        self.inner = encoder

    def forward(self, x, c=None):
        return self.inner(x, c)


@pytest.mark.parametrize("conv", [False, True])
def test_encoder_features_shortcut_matches_plain_path(conv):
    torch.manual_seed(0)
    k, d, n_latent = 3, 64, 2
    if conv:
        encoder = ConvEncoder((1, 8, 8), n_latent, k, channels=(4, 8), hidden_layer_sizes=(16,))
    else:
        encoder = MLPEncoder(d, (16,), n_latent, n_condition=k)
    lik = make_likelihood("bernoulli", d)
    fast = M2(MLP([d, k]), encoder, MLPDecoder(n_latent + k, (16,), d), lik, k)
    slow = M2(fast.classifier, _PlainEncoder(encoder), fast.decoder, lik, k)
    x, eps = torch.rand(5, d), torch.randn(5, n_latent)
    y = torch.tensor([0, -1, 2, -1, -1])

    nll_fast, kl_fast = fast._all_classes_parts(x, eps)
    nll_slow, kl_slow = slow._all_classes_parts(x, eps)
    torch.testing.assert_close(nll_fast, nll_slow)
    torch.testing.assert_close(kl_fast, kl_slow)
    assert nll_fast.shape == (5, k)

    # The gradients reach the encoder's hidden layers the same way (same noise draws).
    grads = []
    for model in (fast, slow):
        model.zero_grad()
        torch.manual_seed(1)
        terms = model(x, y)
        sum(t.sum() for t in terms.values()).backward()
        grads.append([p.grad.clone() for p in encoder.parameters()])
    for g_fast, g_slow in zip(*grads, strict=True):
        torch.testing.assert_close(g_fast, g_slow)

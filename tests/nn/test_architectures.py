"""The architecture table and user-supplied modules."""

import pytest
import torch
from torch import nn

from skvae.nn import (
    ARCHITECTURES,
    ConvArchitecture,
    ConvBody,
    CustomArchitecture,
    GaussianEncoder,
    JoinedBody,
    check_image_shape,
    feature_width,
    make_architecture,
)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_every_architecture_builds_the_three_networks(name):
    arch = make_architecture(name, (16,), (1, 8, 8))
    x = torch.rand(5, 64)
    mu, logvar = arch.encoder(64, 3, n_condition=2)(x, torch.zeros(5, 2))
    assert mu.shape == logvar.shape == (5, 3)
    assert arch.decoder(3 + 2, 64)(torch.zeros(5, 5)).shape == (5, 64)
    assert arch.classifier(64, 4)(x).shape == (5, 4)


def test_unknown_architecture():
    with pytest.raises(ValueError, match="architecture must be one of"):
        make_architecture("transformer")


def test_conv_needs_a_matching_image_shape():
    assert ConvArchitecture.needs_image
    with pytest.raises(ValueError, match="perfect square"):
        ConvArchitecture((8,), None).body(63)
    with pytest.raises(ValueError, match="describes 16 pixels"):
        check_image_shape((1, 4, 4), 64)
    with pytest.raises(ValueError, match="three positive integers"):
        check_image_shape((1, 8), 64)


class TwoLayer(nn.Module):
    """A user body whose output is not flat: (n, 4, 2)."""

    def __init__(self, n_features=64):
        super().__init__()
        self.lin = nn.Linear(n_features, 8)

    def forward(self, x):
        return torch.relu(self.lin(x)).reshape(len(x), 4, 2)


def test_user_modules_replace_the_built_in_ones_and_are_copied():
    body = TwoLayer()
    decoder_factory = lambda n_in, n_out: nn.Linear(n_in, n_out)  # noqa: E731
    arch = CustomArchitecture(make_architecture("mlp", (16,)), encoder=body,
                              decoder=decoder_factory)
    enc = arch.encoder(64, 3)
    assert isinstance(enc, GaussianEncoder) and enc.head.in_features == 8
    assert enc.body is not body  # a deep copy: the user's module is never trained
    assert arch.classifier(64, 5).body is not enc.body
    assert isinstance(arch.decoder(3, 64), nn.Linear)
    # A factory is called once per network built.
    arch = make_architecture("mlp", (16,), encoder=TwoLayer)
    assert arch.encoder(64, 2).body is not arch.encoder(64, 2).body


def test_a_factory_must_return_a_module():
    arch = make_architecture("mlp", (16,), decoder=lambda n_in, n_out: "not a module")
    with pytest.raises(TypeError, match="not a torch.nn.Module"):
        arch.decoder(2, 64)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_row_body_feeds_a_joined_body(name):
    """The classifier of M1 + M2 on images: the architecture's row body reads the
    pixels, the code joins its output (an identity row body: an MLP on both)."""
    arch = make_architecture(name, (16,), (1, 8, 8))
    row_body = arch.row_body(64)
    body = JoinedBody(row_body, 64, 3, (12,))
    assert body(torch.rand(5, 67)).shape == (5, 12) and body.n_hidden == 12
    width = body.dense[0][0].in_features
    assert width == (64 if isinstance(row_body, nn.Identity) else 64 * 2 * 2) + 3
    # The extra columns reach the output: changing them changes the features.
    x = torch.rand(5, 67)
    y = x.clone()
    y[:, 64:] += 1.0
    assert not torch.allclose(body(x), body(y))
    with pytest.raises(ValueError, match="64 row columns and 3 extra"):
        body(torch.rand(5, 64))


def test_a_user_encoder_is_the_row_body():
    arch = make_architecture("conv", (16,), (1, 8, 8), encoder=TwoLayer)
    assert isinstance(arch.row_body(64), TwoLayer)
    assert isinstance(make_architecture("conv", (16,), (1, 8, 8)).row_body(64).conv,
                      nn.Sequential)


def test_the_conv_classifier_has_dropout_and_the_rest_none():
    """Dropout on the conv features and before the head of q(y | x), training mode only;
    the encoder, the MLP classifier and M1 + M2's row body have none."""
    conv = make_architecture("conv", (16,), (1, 8, 8))
    clf = conv.classifier(64, 3)
    p = ConvArchitecture.classifier_dropout
    assert 0 < p < 1
    assert isinstance(clf.dropout, nn.Dropout) and clf.dropout.p == p
    assert isinstance(clf.body.dropout, nn.Dropout) and clf.body.dropout.p == p
    x = torch.rand(6, 64)
    torch.manual_seed(0)
    assert not torch.equal(clf(x), clf(x))  # a new mask per pass
    clf.eval()
    assert torch.equal(clf(x), clf(x))
    assert not any(isinstance(m, nn.Dropout) for m in conv.encoder(64, 2).modules())
    assert not any(isinstance(m, nn.Dropout) for m in conv.row_body(64).modules())
    mlp = make_architecture("mlp", (16,)).classifier(64, 3)
    assert not any(isinstance(m, nn.Dropout) for m in mlp.modules())
    # A conv architecture with only the decoder replaced keeps its classifier; a user
    # encoder is the classifier's body as it is (no dropout added to it).
    custom = make_architecture("conv", (16,), (1, 8, 8), decoder=nn.Linear(2, 64))
    assert isinstance(custom.classifier(64, 3).dropout, nn.Dropout)
    custom = make_architecture("conv", (16,), (1, 8, 8), encoder=TwoLayer)
    assert not any(isinstance(m, nn.Dropout) for m in custom.classifier(64, 3).modules())


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_out_of_range_is_a_clear_error(p):
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\)"):
        ConvBody((1, 8, 8), dropout=p)


def test_a_user_decoder_is_checked_when_built():
    arch = make_architecture("mlp", (16,), decoder=nn.Linear(3, 10))
    with pytest.raises(ValueError, match=r"Linear returns 10 values per row .* must return 64"):
        arch.decoder(3, 64)
    arch = make_architecture("mlp", (16,), decoder=nn.Linear(5, 64))  # wrong input width
    with pytest.raises(ValueError, match=r"decoder network Linear failed on a batch of shape"
                                         r" \(2, 3\) \(codes of 3 columns"):
        arch.decoder(3, 64)
    arch = make_architecture("mlp", (16,), decoder=lambda n_in, n_out: nn.Identity())
    with pytest.raises(ValueError, match="returns 3 values per row"):
        arch.decoder(3, 64)


def test_a_conv_decoder_on_flat_codes_hints_at_unflatten():
    decoder = nn.Sequential(nn.ConvTranspose2d(3, 1, 8), nn.Flatten())
    arch = make_architecture("mlp", (16,), decoder=decoder)
    with pytest.raises(ValueError, match=r"ConvTranspose2d reads images .*nn\.Unflatten"):
        arch.decoder(3, 64)
    fixed = nn.Sequential(nn.Unflatten(1, (3, 1, 1)), *decoder)
    assert make_architecture("mlp", (16,), decoder=fixed).decoder(3, 64) is not fixed


def test_the_unflatten_hint_needs_image_layers_without_unflatten():
    with pytest.raises(ValueError) as info:
        feature_width(nn.Linear(10, 4), 64)
    assert "Unflatten" not in str(info.value)
    rgb = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    with pytest.raises(ValueError, match=r"nn\.Unflatten\(1, \(3, 4, 4\)\)"):
        feature_width(rgb, 48)

"""
Your own encoder and decoder
============================

The built-in networks (``architecture='mlp'`` or ``'conv'``) cover the common cases. For
anything else, pass your own PyTorch modules: ``encoder=`` takes the encoder's *body*,
``decoder=`` the whole decoder, each as a :class:`torch.nn.Module` or as a factory that
builds one. skvae adds what is model-specific around them (the Gaussian head that gives
``q(z | x)``, the likelihood), trains them through skorch, and the estimator stays an
ordinary scikit-learn object: it clones, goes through :class:`~sklearn.model_selection.GridSearchCV`
and pickles.

This example writes a small residual convolutional encoder and a matching decoder for
scikit-learn's 8 x 8 digits, fits a :class:`~skvae.VAETransformer` with them, then lets a
grid search choose between a narrow and a wide encoder by the held-out ELBO.
"""

# %%
# The networks
# ------------
# The **encoder body** receives flattened rows, shape ``(n, n_features)``, and may return
# features of any shape ``(n, ...)``: skvae flattens them and puts a linear layer after
# them that outputs the mean and log-variance of ``q(z | x)``. Here the body reshapes each
# row into a one-channel 8 x 8 image, applies a convolution, a residual block and a
# stride-2 convolution, and returns ``(n, channels, 4, 4)`` feature maps.
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from torch import nn

from skvae import VAETransformer
from skvae.plotting import plot_images, plot_reconstructions


class ResidualBlock(nn.Module):
    """Two 3 x 3 convolutions with a skip connection around them."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, h):
        return torch.relu(h + self.conv2(torch.relu(self.conv1(h))))


class ResidualEncoder(nn.Module):
    """Encoder body: flattened ``side x side`` images to ``(n, channels, side/2, side/2)``."""

    def __init__(self, channels=8, side=8):
        super().__init__()
        self.channels = channels
        self.side = side
        self.stem = nn.Conv2d(1, channels, 3, padding=1)
        self.block = ResidualBlock(channels)
        self.down = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x):
        h = x.reshape(-1, 1, self.side, self.side)
        h = self.block(torch.relu(self.stem(h)))
        return torch.relu(self.down(h))


# %%
# The **decoder** maps codes, shape ``(n, n_inputs)``, to the likelihood's parameters,
# shape ``(n, n_features)``: with the default Bernoulli likelihood, one logit per pixel.
# ``n_inputs`` is ``n_components`` (``VAEClassifier`` adds one input per class), so a
# decoder is most conveniently given as a *factory* that skvae calls at ``fit`` with
# ``(n_inputs, n_features)``. It mirrors the encoder: a linear layer to 4 x 4 feature
# maps, a transposed convolution up to 8 x 8, a last convolution to one channel.
# A factory defined at module level (or a ``functools.partial`` of one) pickles with
# the estimator; a lambda would not.


def make_decoder(n_inputs, n_features, channels=16):
    side = math.isqrt(n_features)
    return nn.Sequential(
        nn.Linear(n_inputs, channels * (side // 2) ** 2),
        nn.ReLU(),
        nn.Unflatten(1, (channels, side // 2, side // 2)),
        nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(channels, 1, 3, padding=1),
        nn.Flatten(),
    )


# %%
# Fitting
# -------
# The encoder is passed as a module *instance*: skvae deep-copies it at every ``fit``, so
# the object you passed is never trained in place (and ``clone`` copies it too). The
# decoder is passed as the factory. Both replace the built-in networks, so
# ``hidden_layer_sizes`` and ``architecture`` play no part here.
#
# ``random_state`` seeds everything skvae builds (the factory's decoder, the Gaussian
# head, the shuffling and the sampling noise), but a module passed ready-made starts
# from the weights it was created with: seed torch before creating it, so that the run
# is reproducible.
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0,
                                                    stratify=y)

torch.manual_seed(0)
encoder = ResidualEncoder(channels=8)
weights_before = encoder.stem.weight.detach().clone()
# A short demonstration run: 30 epochs, its convergence check off (tol=None).
vae = VAETransformer(n_components=8, encoder=encoder, decoder=make_decoder, max_iter=30,
                     batch_size=32, learning_rate_init=3e-3, tol=None, device="cpu",
                     random_state=0)
vae.fit(X_train)
print(f"held-out ELBO: {vae.score(X_test):.1f} nats per digit")

# %%
# The fitted module shows where the user's networks went: the body sits inside skvae's
# :class:`~skvae.nn.GaussianEncoder` (a copy of ``encoder``, which itself is unchanged),
# and the decoder is the factory's module.
module = vae.net_.module_
print(type(module).__name__, "| encoder:", type(module.encoder).__name__, "with body",
      type(module.encoder.body).__name__, "| decoder:", type(module.decoder).__name__)
print("the encoder passed is unchanged:", torch.equal(encoder.stem.weight, weights_before))
print("its fitted copy was trained:",
      not torch.equal(module.encoder.body.stem.weight, weights_before))

# %%
# Choosing an encoder by grid search
# ----------------------------------
# ``encoder`` is an ordinary hyperparameter, so a grid search can compare networks. With
# no ``scoring``, :class:`~sklearn.model_selection.GridSearchCV` uses the estimator's
# ``score``: for :class:`~skvae.VAETransformer` the mean ELBO of the held-out fold, in nats
# (higher is better), so no labels are needed. Each candidate and fold trains a fresh copy
# of the module in the grid.
search = GridSearchCV(
    VAETransformer(n_components=8, decoder=make_decoder, max_iter=20, batch_size=64,
                   learning_rate_init=3e-3, tol=None, device="cpu", random_state=0),
    param_grid={"encoder": [ResidualEncoder(channels=8), ResidualEncoder(channels=16)]},
    cv=3,
)
search.fit(X_train)
for params, mean, std in zip(search.cv_results_["params"],
                             search.cv_results_["mean_test_score"],
                             search.cv_results_["std_test_score"], strict=True):
    print(f"encoder with {params['encoder'].channels:2d} channels: "
          f"ELBO {mean:6.1f} +- {std:.1f} nats")
best = search.best_estimator_
print(f"best: {best.encoder.channels} channels; held-out ELBO {best.score(X_test):.1f} nats")

# %%
# Reconstructions of test digits by the chosen model (originals on top), and new digits
# sampled from the prior.
fig, (ax_rec, ax_smp) = plt.subplots(2, 1, figsize=(8, 4.2))
plot_reconstructions(best, X_test, n_images=12, ax=ax_rec,
                     title="test digits (top) and their reconstructions (bottom)")
plot_images(best.sample(24, random_state=0), n_cols=12, ax=ax_smp,
            title="samples from the prior")
fig.tight_layout()
plt.show()

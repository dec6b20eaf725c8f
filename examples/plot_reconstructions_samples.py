"""
Reconstructions and samples
===========================

A VAE is an autoencoder and a generative model at once. ``transform`` followed by
``inverse_transform`` *reconstructs* an input from its code; ``sample`` *generates* new
inputs by decoding codes drawn from the N(0, I) prior. This example shows both for
:class:`~skvae.VAETransformer` models with latent codes of different sizes, and measures
how the reconstruction error falls as the code grows.
"""

# %%
# Train three VAEs on the digits, with 2, 8 and 32 latent dimensions. They are plain VAEs
# (``beta=1``), the ones to generate from: ``VAETransformer``'s default ``beta=0.1`` makes
# features for a classifier, and its samples from the prior are worse.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skvae import VAEClassifier, VAETransformer
from skvae.plotting import plot_images, plot_reconstructions

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.3, random_state=0, stratify=y)

vaes = {
    k: VAETransformer(n_components=k, beta=1.0, max_iter=100, device="cpu",
                      random_state=0).fit(X_train)
    for k in (2, 8, 32)
}

# %%
# Reconstructions of the first twelve test digits (never seen in training): originals on
# top, reconstructions below. The reconstructions are the decoder's pixel probabilities,
# hence a little blurred.
fig, axes = plt.subplots(3, 1, figsize=(9, 6))
for ax, (k, vae) in zip(axes, vaes.items(), strict=True):
    plot_reconstructions(vae, X_test, n_images=12, ax=ax,
                         title=f"n_components={k}: originals (top), reconstructions (bottom)")
fig.tight_layout()
plt.show()

# %%
# The mean squared reconstruction error on the test set, the mean per-digit ELBO
# (``score``, a lower bound on the log-likelihood in nats: higher is better), and the
# number of *active* latent dimensions: those whose posterior mean varies across the
# test digits. The KL term pulls every dimension towards the prior; a dimension that is
# not worth its KL cost carries no information and its code is the same for every input.
for k, vae in vaes.items():
    Z = vae.transform(X_test)
    X_rec = vae.inverse_transform(Z)
    mse = np.mean((X_rec - X_test) ** 2)
    active = int(np.sum(Z.var(axis=0) > 0.01))
    print(f"n_components={k:2d}: test MSE {mse:.4f}, test ELBO {vae.score(X_test):6.1f} "
          f"nats, {active:2d} active dimensions")

# %%
# Going from 2 to 8 dimensions helps; going on to 32 does not: with about 1,300 small
# training images the models leave many of their dimensions unused, and the 32-D model is
# no better on new digits than the 8-D one. Choosing ``n_components`` is a matter of validation (a
# grid search on ``score``, or on the accuracy of a downstream classifier), not of
# "bigger is better".

# %%
# Samples: 30 codes drawn from the prior and decoded, for each model. Samples are
# blurrier than reconstructions, and some fall between two classes: a random code from
# the prior can land where the decoder saw few training digits.
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, (k, vae) in zip(axes, vaes.items(), strict=True):
    plot_images(vae.sample(30, random_state=0), n_cols=6, ax=ax,
                title=f"samples, n_components={k}")
fig.tight_layout()
plt.show()

# %%
# Class-conditional samples
# -------------------------
# :class:`~skvae.VAEClassifier` decodes ``[z, onehot(y)]``, so ``sample(y=...)`` draws
# inputs *of a chosen class*: the class goes in through ``y``, the style (slant, stroke
# width) through the prior draw of ``z``. Each row below is one digit, ten draws each.
X_train_c, _, y_train_c, _ = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
clf = VAEClassifier(n_components=4, max_iter=60, device="cpu", random_state=0)
clf.fit(X_train_c, y_train_c)
labels = np.repeat(clf.classes_, 10)
fig, ax = plt.subplots(figsize=(7, 7))
plot_images(clf.sample(len(labels), y=labels, random_state=0), n_cols=10, ax=ax,
            title="VAEClassifier.sample(y=k): one row per class")
fig.tight_layout()
plt.show()

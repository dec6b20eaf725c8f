"""
A two-dimensional latent space
==============================

With ``n_components=2`` the whole latent space of a VAE fits on one page. This example
trains a 2-D :class:`~skvae.VAETransformer` on the digits (without their labels), then
draws

* the *latent map*: the code of every test digit, coloured by its class
  (:func:`skvae.plotting.plot_latent`), and
* the *decoded grid*: a regular grid of points of the same plane, each decoded back into
  an image (:func:`skvae.plotting.plot_latent_grid`).

Read side by side, they show what the decoder has learned to draw in each region.
"""

# %%
# Train the VAE on 70 % of the digits; the labels are only used to colour the plot.
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skvae import VAETransformer
from skvae.plotting import plot_latent, plot_latent_grid

digits = load_digits()
X, y = digits.data / 16.0, digits.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=0, stratify=y
)
# A plain VAE (``beta=1``): its codes follow the N(0, I) prior that the decoded grid spans
# (the default ``beta=0.1`` makes features for a classifier and spreads codes wider).
vae = VAETransformer(n_components=2, beta=1.0, max_iter=150, device="cpu", random_state=0)
vae.fit(X_train)
print(f"{vae.n_iter_} epochs, final training loss {vae.loss_curve_[-1]:.1f} nats per digit")

# %%
# Encode the held-out digits (``transform`` gives the posterior mean) and draw both views
# over the same range of the plane. The prior is N(0, I), so most codes lie within two
# units of the origin.
Z_test = vae.transform(X_test)

fig, (ax_map, ax_grid) = plt.subplots(1, 2, figsize=(12, 6))
plot_latent(Z_test, y_test, ax=ax_map, s=10, title="Test digits in the latent plane")
plot_latent_grid(vae, n_per_side=15, extent=(-2.5, 2.5), ax=ax_grid,
                 title="Decoded grid of the same plane")
for ax in (ax_map, ax_grid):
    ax.set_xlim(-3, 3)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
fig.tight_layout()
plt.show()

# %%
# Digits cluster by class although the VAE never saw a label; classes that share strokes
# (here 3, 5, 8 and 9) crowd the middle of the plane, and the grid morphs smoothly from
# one digit into the next: the decoder maps every point of the plane, not only the codes
# of training digits, to a plausible image. Two numbers cannot hold all there is in a
# digit, though; larger ``n_components`` reconstruct better and give better features for
# a classifier (see the grid-search example).

"""
Training curves from ``history_``
=================================

Every fitted :class:`~skvae.VAETransformer` keeps skorch's per-epoch record in
``history_``: the training loss (the negative ELBO per sample, in nats) and its two parts,
the reconstruction term and the KL term. With ``early_stopping=True`` a share of the rows is
held out and the same parts are recorded on it as ``valid_*``.
:func:`skvae.plotting.plot_history` draws them.
"""

# %%
# Train with early stopping: 10 % of the rows are held out, and training stops when the
# validation loss has not improved for ``n_iter_no_change`` epochs (the best weights are
# kept).
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from skvae import VAEClassifier, VAETransformer
from skvae.plotting import plot_history

X, y = load_digits(return_X_y=True)
X = X / 16.0
vae = VAETransformer(n_components=8, beta=1.0, max_iter=300, early_stopping=True,
                     n_iter_no_change=15, device="cpu", random_state=0)
vae.fit(X)
print(f"stopped after {vae.n_iter_} of {vae.max_iter} epochs")

# %%
# ``history_`` can be sliced like skorch's ``History``: ``history_[:, key]`` is one value
# per epoch. Here are the last epochs as a table.
keys = ["train_loss", "train_reconstruction", "train_kl",
        "valid_loss", "valid_reconstruction", "valid_kl"]
table = pd.DataFrame({key: vae.history_[:, key] for key in keys},
                     index=pd.Index(vae.history_[:, "epoch"], name="epoch"))
print(table.tail().round(2).to_string())

# %%
# The loss falls quickly at first. The KL term first drops to almost zero: the code is
# ignored and every digit is decoded as much the same blur. Then it *rises* while the
# reconstruction term keeps falling: the encoder puts information into the code (moving
# the posterior away from the prior) as long as that buys a better reconstruction. The
# dashed validation curves follow the training ones and flatten out, and early stopping
# ends the run.
fig, (ax_all, ax_kl) = plt.subplots(1, 2, figsize=(12, 4.5))
plot_history(vae.history_, ax=ax_all, title="loss and its parts")
plot_history(vae.history_, keys=["train_kl", "valid_kl"], ax=ax_kl, title="KL term alone")
fig.tight_layout()
plt.show()

# %%
# ``beta`` weighs the KL term in the loss (a beta-VAE). A larger ``beta`` buys a code closer
# to the prior (smaller KL) at the price of worse reconstructions; a smaller one the
# opposite. Here are the final training parts for three values.
rows = []
for beta in (0.5, 1.0, 4.0):
    model = VAETransformer(n_components=8, max_iter=100, beta=beta, device="cpu",
                           random_state=0).fit(X)
    rows.append({"beta": beta,
                 "reconstruction": model.history_[-1, "train_reconstruction"],
                 "KL": model.history_[-1, "train_kl"]})
print(pd.DataFrame(rows).round(2).to_string(index=False))

# %%
# With ``beta=4`` the KL term is zero: the *posterior collapse* that the first epochs above
# showed has become permanent. The code then holds nothing about the input and every
# digit decodes to the same image, a useless feature for a classifier. If ``transform``
# gives (nearly) the same code for every row, lower ``beta``.

# %%
# With labels: the classification term
# ------------------------------------
# :class:`~skvae.VAEClassifier` records a third part, ``classification`` (the
# cross-entropy of ``q(y | x)`` on the labelled rows, weighted by ``alpha`` in the loss).
# Here a fit with early stopping on the labelled digits. The classification curves flatten
# after about 15 epochs while the reconstruction keeps falling slowly; early stopping
# watches the total validation loss, which is still improving, so this fit runs all 60
# epochs.
clf = VAEClassifier(n_components=4, max_iter=60, early_stopping=True, n_iter_no_change=10,
                    device="cpu", random_state=0).fit(X, y)
fig, (ax_parts, ax_clf) = plt.subplots(1, 2, figsize=(11, 4))
plot_history(clf.history_, keys=["train_reconstruction", "valid_reconstruction",
                                 "train_kl", "valid_kl"],
             ax=ax_parts, title="VAEClassifier: reconstruction and KL")
plot_history(clf.history_, keys=["train_classification", "valid_classification"],
             ax=ax_clf, title="VAEClassifier: classification (cross-entropy)")
ax_clf.set_ylabel("nats per labelled row")
fig.tight_layout()
plt.show()
print(f"{clf.n_iter_} epochs; validation cross-entropy "
      f"{clf.history_[-1, 'valid_classification']:.3f} nats")

# %%
# The default classifier, partly labelled
# ---------------------------------------
# Called with its defaults on digits of which 100 are labelled (the rest marked -1), a
# :class:`~skvae.VAEClassifier` trains the shared-body M2 model, whose loss has more
# terms: the reconstruction and KL terms (weighted 1/64), the classification term on the
# labelled rows, a consistency term (the class a shifted or noised input gets should
# match the class of the input) and, from half-way on, pseudo-labels for the unlabelled
# rows. Without ``keys``, :func:`~skvae.plotting.plot_history` draws what the optimiser
# minimised: the loss and each weighted term (they sum to the loss), on a log scale
# because they differ in size by a factor of hundreds, and beside them each term before
# weighting.
rng = np.random.default_rng(0)
y_partial = np.full_like(y, -1)
labelled = rng.choice(len(y), size=100, replace=False)
y_partial[labelled] = y[labelled]
default = VAEClassifier(random_state=0).fit(X, y_partial)
plot_history(default.history_)
plt.show()
print(f"{default.n_iter_} epochs; loss at the end {default.loss_curve_[-1]:.3f}; "
      f"accuracy on the {np.sum(y_partial == -1)} unlabelled digits "
      f"{np.mean(default.predict(X[y_partial == -1]) == y[y_partial == -1]):.3f}")

# %%
# The reconstruction term, weighted, is most of the loss and flat after 10 epochs; the
# classification term on the 100 labelled digits falls by three orders of magnitude; the
# consistency term rises while the classifier starts to commit to classes and then
# slowly falls; the pseudo-label term appears at epoch 51, when the pseudo-labels are
# first drawn. None of the curves still falls steeply at epoch 100.

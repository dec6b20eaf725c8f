"""
Semi-supervised learning: accuracy against the number of labels
================================================================

Labels are often the scarce part. :class:`~skvae.VAEClassifier` (the M2 model of Kingma
et al., 2014) also learns from rows whose label is ``-1`` (scikit-learn's convention for
"unlabelled"): for them the class is a latent variable, and the rows train the classifier
through the generative model. This example keeps 50, 100 and 250 of the digits' training
labels, marks the rest ``-1``, and compares on the same held-out digits:

* ``VAEClassifier`` on all rows (the labelled few plus the unlabelled rest),
* the same ``VAEClassifier`` on the labelled rows alone,
* an SVC on the labelled rows alone.
"""

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

from skvae import VAEClassifier

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, random_state=0, stratify=y
)


def keep_labels(y, n_labels, seed=0):
    """Copy of y with all but n_labels (stratified) labels replaced by -1."""
    keep, _ = train_test_split(np.arange(len(y)), train_size=n_labels, stratify=y,
                               random_state=seed)
    y_partial = np.full_like(y, -1)
    y_partial[keep] = y[keep]
    return y_partial


params = dict(n_components=8, hidden_layer_sizes=(128,), max_iter=40, device="cpu",
              random_state=0)
results = {"VAEClassifier, labelled + unlabelled": [], "VAEClassifier, labelled only": [],
           "SVC, labelled only": []}
n_labels_list = [50, 100, 250]
for n_labels in n_labels_list:
    y_partial = keep_labels(y_train, n_labels)
    labelled = y_partial != -1
    t0 = time.perf_counter()
    semi = VAEClassifier(**params).fit(X_train, y_partial)
    t_semi = time.perf_counter() - t0
    # Same number of gradient steps for the labelled-only fit: its epochs are shorter.
    steps_ratio = len(X_train) // labelled.sum()
    sup = VAEClassifier(**{**params, "max_iter": params["max_iter"] * steps_ratio}).fit(
        X_train[labelled], y_partial[labelled]
    )
    svc = SVC(C=10).fit(X_train[labelled], y_partial[labelled])
    accs = [semi.score(X_test, y_test), sup.score(X_test, y_test), svc.score(X_test, y_test)]
    for name, acc in zip(results, accs, strict=True):
        results[name].append(acc)
    print(f"{n_labels:4d} labels: " + ", ".join(
        f"{name} {acc:.3f}" for name, acc in zip(results, accs, strict=True))
        + f" (semi-supervised fit {t_semi:.0f} s)")

# %%
# The curves. On these small 8x8 digits an SVC is a strong baseline, and the unlabelled
# rows give the M2 model a modest lift at best over the same model trained on its labels
# alone (given as many gradient steps). See the benchmark page for the numbers on
# Fashion-MNIST and against LabelSpreading.
fig, ax = plt.subplots(figsize=(6, 4))
for name, accs in results.items():
    ax.plot(n_labels_list, accs, marker="o", label=name)
ax.set_xscale("log")
ax.set_xticks(n_labels_list, [str(n) for n in n_labels_list])
ax.set_xlabel("labelled training digits")
ax.set_ylabel("test accuracy")
ax.set_title("Digits: accuracy against the number of labels")
ax.grid(alpha=0.3)
ax.legend(fontsize="small")
fig.tight_layout()
plt.show()

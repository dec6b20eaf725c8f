"""
Outlier detection with ``score_samples``
========================================

``VAETransformer.score_samples`` returns each row's importance-weighted estimate of
``log p(x)`` in nats under the trained model (``n_importance_samples`` draws; one draw is
the evidence lower bound, ELBO). Inputs unlike the training data get low scores, so it is
an outlier score. This example trains a VAE on the digits 0 to 8
and scores

* held-out digits of the same classes (inliers),
* uniform noise images, and
* the digit 9, a class the VAE never saw.
"""

# %%
# Train on the digits 0-8 only; hold out 30 % of them for testing, and all the 9s.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from skvae import VAETransformer

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_known, X_nines = X[y != 9], X[y == 9]
X_train, X_test = train_test_split(X_known, test_size=0.3, random_state=0,
                                   stratify=y[y != 9])
rng = np.random.default_rng(0)
X_noise = rng.uniform(size=(len(X_test), X.shape[1]))

# A plain VAE (``beta=1``), whose loss is the negative ELBO that ``score_samples`` bounds
# (the default ``beta=0.1`` makes features for a classifier).
vae = VAETransformer(n_components=8, beta=1.0, max_iter=100, device="cpu", random_state=0)
vae.fit(X_train)

# %%
# Score every group. The score is deterministic: the same rows always get the same score.
scores = {
    "held-out digits 0-8": vae.score_samples(X_test),
    "digit 9 (unseen class)": vae.score_samples(X_nines),
    "uniform noise": vae.score_samples(X_noise),
}
for name, s in scores.items():
    print(f"{name:24s} median log p(x) {np.median(s):8.1f} nats")

# %%
# How well does the score separate inliers from each kind of outlier? The ROC AUC is the
# chance that a random inlier scores higher than a random outlier (1.0: perfect).
inliers = scores["held-out digits 0-8"]
for name in ("uniform noise", "digit 9 (unseen class)"):
    outliers = scores[name]
    labels = np.r_[np.ones(len(inliers)), np.zeros(len(outliers))]
    auc = roc_auc_score(labels, np.r_[inliers, outliers])
    print(f"inliers vs {name}: ROC AUC {auc:.3f}")

# %%
# Noise is far out: its score is some 80 nats below the digits'. The unseen class is a
# much harder case: a 9 shares most of its strokes with 4, 7 and 8, and the VAE draws it
# fairly well, so its scores overlap the inliers'. The histograms show both.
fig, (ax_noise, ax_nine) = plt.subplots(1, 2, figsize=(12, 4))
ax_noise.hist(scores["held-out digits 0-8"], bins=30, alpha=0.7, label="held-out digits 0-8")
ax_noise.hist(scores["uniform noise"], bins=30, alpha=0.7, label="uniform noise",
              color="tab:red")
ax_noise.set_title("digits vs noise")
both = np.r_[scores["held-out digits 0-8"], scores["digit 9 (unseen class)"]]
bins = np.linspace(both.min(), both.max(), 40)
ax_nine.hist(scores["held-out digits 0-8"], bins=bins, alpha=0.7, density=True,
             label="held-out digits 0-8")
ax_nine.hist(scores["digit 9 (unseen class)"], bins=bins, alpha=0.7, density=True,
             label="digit 9 (unseen class)", color="tab:green")
ax_nine.set_title("seen classes vs an unseen class")
for ax in (ax_noise, ax_nine):
    ax.set_xlabel("score_samples (log p(x), nats; higher = more typical)")
    ax.set_ylabel("rows" if ax is ax_noise else "density")
    ax.legend()
fig.tight_layout()
plt.show()

# %%
# To flag outliers in new data, pick a threshold from the inliers' scores, for example
# their 1st percentile, and call everything below it an outlier.
threshold = np.percentile(vae.score_samples(X_train), 1)
for name, s in scores.items():
    print(f"{name:24s} flagged as outliers: {np.mean(s < threshold):6.1%}")

# %%
# The threshold catches all the noise and leaves the inliers alone, but lets almost every
# 9 through: the ELBO ranks the 9s lower on average (the AUC above), yet a 9 is still a
# well-drawn digit to this model. Outliers that are near misses rather than garbage need a
# score that looks at what tells the classes apart, such as a classifier's confidence.

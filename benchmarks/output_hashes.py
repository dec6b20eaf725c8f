"""Hashes of fitted outputs on eight small configurations, to compare two commits.

A refactor that changes no number gives the same lines before and after: run it on each
commit (one torch thread, same machine) and diff the output. It writes no results file:
it is a check, not a measurement. Used for the fit-pipeline refactor (issue 20): the
lines were identical before the session, after the refactor and after every merge.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/output_hashes.py > before.txt
    git checkout other; OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/output_hashes.py \
        | diff before.txt -
"""

import hashlib

import numpy as np
import torch
from sklearn.datasets import load_digits

from skvae import VAEClassifier, VAETransformer


def digest(a):
    """The first 12 hex digits of a SHA-1 of ``a`` as float64 bytes."""
    data = np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes()
    return hashlib.sha1(data).hexdigest()[:12]


def show(name, est, X, X_fit, y_fit=None):
    """Fit, then print the hashes of transform, score_samples, sample (and probabilities)."""
    if y_fit is None:
        est.fit(X_fit)
    else:
        est.fit(X_fit, y_fit)
    out = [digest(est.transform(X[:50])), digest(est.score_samples(X[:20])),
           digest(est.sample(3, random_state=0))]
    if hasattr(est, "predict_proba"):
        out.append(digest(est.predict_proba(X[:50])))
    print(name, *out, flush=True)


def main():
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)
    X, y = X[:400] / 16, y[:400]
    y_partial = y.copy()
    y_partial[60:] = -1
    small = dict(n_components=4, random_state=0)
    show("vae", VAETransformer(max_iter=3, **small), X, X)
    show("vae-conv", VAETransformer(max_iter=2, architecture="conv", **small), X, X)
    show("m2", VAEClassifier(max_iter=3, **small), X, X, y)
    show("m2-conv", VAEClassifier(max_iter=3, architecture="conv", **small), X, X, y)
    show("m1m2", VAEClassifier(max_iter=3, **small), X, X, y_partial)
    show("m1m2-conv", VAEClassifier(max_iter=2, architecture="conv", **small), X, X,
         y_partial)
    show("m1m2-auto", VAEClassifier(hidden_layer_sizes=(16,), **small), X, X[:200],
         y_partial[:200])
    incremental = VAEClassifier(**small)
    for start in range(0, 400, 200):
        incremental.partial_fit(X[start:start + 200], y[start:start + 200],
                                classes=range(10))
    print("partial", digest(incremental.predict_proba(X[:50])))


if __name__ == "__main__":
    main()

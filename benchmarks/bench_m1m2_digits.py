"""Semi-supervised digits: M2 on raw pixels vs M1+M2 (M2 on an unsupervised VAE's code).

Kingma et al. (2014) stack their models: M1, a VAE trained on every row, gives a code,
and M2 learns from the code of labelled and unlabelled rows. This script measures, on
sklearn's digits (70/30 split) with a few labels kept and the rest marked -1:

* SVC on the labelled pixels, the baseline;
* M2 (``VAEClassifier``) on pixels, all rows, and on the labelled rows alone;
* M1 + SVC on the labelled codes;
* M1 + M2 on the codes, all rows, and on the labelled codes alone.

The labelled-only fits get as many gradient steps as the all-rows fits (their epochs
are shorter, so they get more of them). Prints a table and saves it (Markdown and CSV)
under benchmarks/results/.

    python benchmarks/bench_m1m2_digits.py --labels 50 100 250 --seeds 0 1 2
"""

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import VAEClassifier, VAETransformer

RESULTS = Path(__file__).resolve().parent / "results"


def keep_labels(y, n_labels, seed):
    keep, _ = train_test_split(np.arange(len(y)), train_size=n_labels, stratify=y,
                               random_state=seed)
    y_partial = np.full_like(y, -1)
    y_partial[keep] = y[keep]
    return y_partial


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, nargs="+", default=[50, 100, 250])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    t0 = time.perf_counter()
    m1 = VAETransformer(n_components=16, beta=0.5, max_iter=args.epochs, device="cpu",
                        random_state=0).fit(X_tr)
    print(f"M1 (16-d VAE on all {len(X_tr)} training rows): {time.perf_counter() - t0:.0f} s")
    scaler = StandardScaler().fit(m1.transform(X_tr))
    Z_tr, Z_te = scaler.transform(m1.transform(X_tr)), scaler.transform(m1.transform(X_te))

    def m2(likelihood, epochs):
        return VAEClassifier(n_components=8, hidden_layer_sizes=(128,), likelihood=likelihood,
                             max_iter=epochs, device="cpu", random_state=0)

    rows = []
    for n_labels in args.labels:
        ratio = len(y_tr) // n_labels
        for seed in args.seeds:
            yp = keep_labels(y_tr, n_labels, seed)
            lab = yp != -1
            row = {"labels": n_labels, "seed": seed}
            row["SVC pixels"] = SVC(C=10).fit(X_tr[lab], yp[lab]).score(X_te, y_te)
            row["M2 pixels, all rows"] = m2("bernoulli", args.epochs).fit(X_tr, yp).score(
                X_te, y_te)
            row["M2 pixels, labelled only"] = m2("bernoulli", args.epochs * ratio).fit(
                X_tr[lab], yp[lab]).score(X_te, y_te)
            row["M1 + SVC"] = SVC(C=10).fit(Z_tr[lab], yp[lab]).score(Z_te, y_te)
            row["M1 + M2, all rows"] = m2("gaussian", args.epochs).fit(Z_tr, yp).score(
                Z_te, y_te)
            row["M1 + M2, labelled only"] = m2("gaussian", args.epochs * ratio).fit(
                Z_tr[lab], yp[lab]).score(Z_te, y_te)
            rows.append(row)
            print(" | ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                             for k, v in row.items()), flush=True)

    cols = [c for c in rows[0] if c not in ("labels", "seed")]
    lines = [
        "Digits (sklearn, 8x8), 70/30 split; labels kept per seed (stratified), the rest -1.",
        f"M1: VAETransformer(16, beta=0.5, {args.epochs} epochs) on all training rows, codes "
        "standardised. M2: VAEClassifier(8, hidden (128,)); labelled-only fits get the same "
        "number of gradient steps. Median test accuracy over seeds "
        f"{args.seeds}; torch {torch.__version__}, {args.threads} thread(s).",
        f"Command: python benchmarks/bench_m1m2_digits.py {' '.join(sys.argv[1:])}",
        "",
        "| labels | " + " | ".join(cols) + " |",
        "|---:|" + "---:|" * len(cols),
    ]
    for n_labels in args.labels:
        sub = [r for r in rows if r["labels"] == n_labels]
        lines.append(f"| {n_labels} | " + " | ".join(
            f"{np.median([r[c] for r in sub]):.3f}" for c in cols) + " |")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "m1m2_digits.md").write_text(text)
    with open(RESULTS / "m1m2_digits.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(text)


if __name__ == "__main__":
    main()

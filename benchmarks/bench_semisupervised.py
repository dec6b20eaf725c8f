"""Semi-supervised label curves: VAEClassifier (M2) against SVC and LabelSpreading.

For each data set and number of labelled training rows, the same labelled rows
(stratified draw) are given to every model: SVC(rbf, C=10) sees only them,
LabelSpreading(knn) and VAEClassifier also see the other training rows with label -1.
``VAEClassifier (labelled only)`` is the same estimator fitted on the labelled rows
alone, for as many gradient steps as the semi-supervised fit (so the comparison
is not one of training length). Reports the median test accuracy over the seeds.

Usage::

    PYTHONPATH=. python benchmarks/bench_semisupervised.py --dataset digits --seeds 0 1 2
    PYTHONPATH=. python benchmarks/bench_semisupervised.py --dataset fashion \
        --n-train 10000 --labels 100 1000 10000 --seeds 0

Writes ``benchmarks/results/semisupervised_<dataset>.{md,csv,png}``.
"""

import argparse
import csv
import math
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.semi_supervised import LabelSpreading
from sklearn.svm import SVC

from skvae import VAEClassifier

RESULTS = Path(__file__).parent / "results"


def load(name, n_train, n_test, seed):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return train_test_split(X / 16.0, y, test_size=0.3, random_state=seed, stratify=y)
    from skvae.datasets import fetch_fashion_mnist

    X_train, y_train = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    if n_train < len(X_train):
        idx = np.random.RandomState(seed).choice(len(X_train), n_train, replace=False)
        X_train, y_train = X_train[idx], y_train[idx]
    return X_train, X_test[:n_test], y_train, y_test[:n_test]


def vae(name, epochs, seed):
    if name == "digits":
        return VAEClassifier(n_components=4, hidden_layer_sizes=(256, 128), max_iter=epochs,
                             device="cpu", random_state=seed)
    return VAEClassifier(n_components=32, hidden_layer_sizes=(512, 256), max_iter=epochs,
                         batch_size=256, device="cpu", random_state=seed)


def run(args):
    rows = []
    for seed in args.seeds:
        X_train, X_test, y_train, y_test = load(args.dataset, args.n_train, args.n_test, seed)
        for n_lab in args.labels:
            if n_lab >= len(y_train):
                lab = np.arange(len(y_train))
            else:
                split = StratifiedShuffleSplit(1, train_size=n_lab, random_state=seed)
                lab = next(split.split(X_train, y_train))[0]
            y_semi = np.full(len(y_train), -1)
            y_semi[lab] = y_train[lab]
            epochs = args.epochs
            # Same number of gradient steps for the labelled-only fit.
            steps = epochs * math.ceil(len(y_train) / vae(args.dataset, 1, 0).batch_size)
            lab_epochs = max(1, steps // math.ceil(len(lab) / vae(args.dataset, 1, 0).batch_size))
            models = {
                "VAEClassifier (M2, semi-supervised)": (vae(args.dataset, epochs, seed), y_semi,
                                                        None),
                "VAEClassifier (labelled only)": (vae(args.dataset, lab_epochs, seed), None,
                                                  lab),
                "SVC(rbf, C=10), labelled only": (SVC(C=10), None, lab),
                "LabelSpreading(knn)": (LabelSpreading(kernel="knn", n_neighbors=7,
                                                       max_iter=100), y_semi, None),
            }
            for model_name, (model, y_fit, rows_fit) in models.items():
                t0 = time.perf_counter()
                if rows_fit is None:
                    model.fit(X_train, y_fit)
                else:
                    model.fit(X_train[rows_fit], y_train[rows_fit])
                fit_s = time.perf_counter() - t0
                acc = model.score(X_test, y_test)
                rows.append({"dataset": args.dataset, "n_train": len(y_train),
                             "n_labelled": len(lab), "seed": seed, "model": model_name,
                             "accuracy": acc, "fit_s": fit_s})
                print(rows[-1], flush=True)
    return rows


def report(rows, args):
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"semisupervised_{args.dataset}"
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    models = list(dict.fromkeys(r["model"] for r in rows))
    labels = sorted({r["n_labelled"] for r in rows})
    med = {(m, n): np.median([r["accuracy"] for r in rows
                              if r["model"] == m and r["n_labelled"] == n])
           for m in models for n in labels}
    secs = {(m, n): np.median([r["fit_s"] for r in rows
                               if r["model"] == m and r["n_labelled"] == n])
            for m in models for n in labels}
    n_train = rows[0]["n_train"]
    lines = [
        f"# Semi-supervised {args.dataset}: {n_train} training rows, test accuracy "
        f"(median over seeds {args.seeds})",
        "",
        f"Command: `python benchmarks/bench_semisupervised.py --dataset {args.dataset} "
        + (f"--n-train {args.n_train} " if args.dataset == "fashion" else "")
        + f"--labels {' '.join(map(str, args.labels))} --epochs "
        f"{args.epochs} --seeds {' '.join(map(str, args.seeds))}` (CPU, 2 cores shared).",
        "",
        "| model | " + " | ".join(f"{n} labels" for n in labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(
            f"{med[m, n]:.3f} ({secs[m, n]:.0f} s)" for n in labels) + " |")
    lines.append("")
    stem.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for m in models:
        ax.plot(labels, [med[m, n] for n in labels], marker="o", label=m)
    ax.set_xscale("log")
    ax.set_xlabel("labelled training rows")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{args.dataset}: {n_train} training rows, rest unlabelled")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(stem.with_suffix(".png"), dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["digits", "fashion"], default="digits")
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    report(run(args), args)


if __name__ == "__main__":
    main()

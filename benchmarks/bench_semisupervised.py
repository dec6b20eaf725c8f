"""Semi-supervised label curves: skvae's VAE models against SVC and LabelSpreading.

For each data set and number of labelled training rows, the same labelled rows
(stratified draw) are given to every model. SVC(rbf, C=10) sees only them;
LabelSpreading(knn) and the skvae models also see the other training rows, labelled -1.
The skvae models:

* ``M1 + M2``: the stacking of Kingma et al. (2014) as a scikit-learn pipeline,
  ``VAETransformer`` (M1, unsupervised) -> ``StandardScaler`` -> ``VAEClassifier``
  (M2, ``likelihood='gaussian'``) on M1's code. M1 needs no labels, so it is fitted once
  per seed on every training row and shared by all label counts (wrapped in
  ``FrozenEstimator``); its fit time is added to every M1 + M2 row's time.
* ``M1 + M2 (labelled only)``: the same pipeline fitted on the labelled rows alone, for
  as many gradient steps as the semi-supervised fit (so the comparison is not one of
  training length): what the unlabelled rows add to M2.
* ``M1 + SVC``: the same frozen M1 and scaler in front of the SVC, on the labelled rows.
* with ``--pixel-m2``, ``VAEClassifier`` (M2) on the raw pixels, semi-supervised and
  labelled only. Each unlabelled row costs ``K = 10`` decoder passes, so on CPU this is
  only practical on digits or a reduced Fashion-MNIST.

Reports the median test accuracy over the seeds, a Markdown table, a CSV and a plot.

Usage::

    PYTHONPATH=. python benchmarks/bench_semisupervised.py --dataset fashion \
        --labels 100 1000 10000 --seeds 0
    PYTHONPATH=. python benchmarks/bench_semisupervised.py --dataset digits \
        --labels 50 100 250 --seeds 0 1 2 --pixel-m2

Writes ``benchmarks/results/semisupervised_<dataset>.{md,csv,png}``.
"""

import argparse
import csv
import math
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading
from sklearn.svm import SVC

from skvae import VAEClassifier, VAETransformer

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


def m1(name, epochs, seed):
    """The unsupervised VAE whose code M2 reads (fitted once per seed)."""
    if name == "digits":
        return VAETransformer(n_components=16, beta=0.5, max_iter=epochs, device="cpu",
                              random_state=seed)
    # A small beta keeps more of the code's dimensions in use: with beta=1 only 7 of an
    # MLP VAE's 50 are active on Fashion-MNIST, and an SVC on that code loses 7 points
    # at 100 labels to one on pixels. The conv VAE's code, with beta=0.1, beats the pixels.
    return VAETransformer(n_components=50, beta=0.1, architecture="conv",
                          hidden_layer_sizes=(256,), max_iter=epochs, batch_size=256,
                          device="cpu", random_state=seed)


def m2(name, likelihood, epochs, seed):
    """VAEClassifier (M2) on M1's standardised code or, for 'bernoulli', on pixels."""
    if name == "digits":
        return VAEClassifier(n_components=8 if likelihood == "gaussian" else 4,
                             hidden_layer_sizes=(128,) if likelihood == "gaussian"
                             else (256, 128), likelihood=likelihood, max_iter=epochs,
                             device="cpu", random_state=seed)
    return VAEClassifier(n_components=8, hidden_layer_sizes=(256, 128), likelihood=likelihood,
                         max_iter=epochs, batch_size=256, device="cpu", random_state=seed)


def equal_step_epochs(epochs, n_rows, n_labelled, batch_size):
    """Epochs over the labelled rows that give as many gradient steps as ``epochs`` over all."""
    steps = epochs * math.ceil(n_rows / batch_size)
    return max(1, steps // math.ceil(n_labelled / batch_size))


def conv_classifier(name, epochs, seed, alpha=10.0, labelled_batch_size=None):
    """VAEClassifier on pixels: conv q(y|x), fully connected VAE (cheap K decoder passes)."""
    if name == "digits":
        return VAEClassifier(n_components=4, hidden_layer_sizes=(128,),
                             classifier_architecture="conv", alpha=alpha, max_iter=epochs,
                             labelled_batch_size=labelled_batch_size, device="cpu",
                             random_state=seed)
    return VAEClassifier(n_components=16, hidden_layer_sizes=(256,),
                         classifier_architecture="conv", alpha=alpha, max_iter=epochs,
                         labelled_batch_size=labelled_batch_size, batch_size=256,
                         device="cpu", random_state=seed)


def run(args):
    rows = []
    for seed in args.seeds:
        X_train, X_test, y_train, y_test = load(args.dataset, args.n_train, args.n_test, seed)
        m1_fit = {}

        def frozen_m1(seed=seed, X_train=X_train, m1_fit=m1_fit):
            """M1 fitted on every training row, once per seed, when a model needs it."""
            if not m1_fit:
                t0 = time.perf_counter()
                m1_epochs = args.m1_epochs or (100 if args.dataset == "digits" else 20)
                m1_fit["code"] = FrozenEstimator(m1(args.dataset, m1_epochs, seed).fit(X_train))
                m1_fit["s"] = time.perf_counter() - t0
                print(f"seed {seed}: M1 fitted on {len(X_train)} rows in {m1_fit['s']:.0f} s",
                      flush=True)
            return m1_fit["code"]

        for n_lab in args.labels:
            if n_lab >= len(y_train):
                lab = np.arange(len(y_train))
            else:
                split = StratifiedShuffleSplit(1, train_size=n_lab, random_state=seed)
                lab = next(split.split(X_train, y_train))[0]
            y_semi = np.full(len(y_train), -1)
            y_semi[lab] = y_train[lab]
            bs = m2(args.dataset, "gaussian", 1, seed).batch_size
            lab_epochs = equal_step_epochs(args.epochs, len(y_train), len(lab), bs)

            def stacked(epochs, seed=seed):
                """Frozen M1, scaler, then M2 on the code (an SVC when epochs is None)."""
                head = SVC(C=10) if epochs is None else m2(args.dataset, "gaussian", epochs,
                                                           seed)
                return make_pipeline(frozen_m1(), StandardScaler(), head)

            # name: (model factory, y for a fit on all rows or None, labelled rows or None,
            # whether the fit time includes M1's)
            models = {
                "M1 + M2 (VAETransformer -> VAEClassifier)": (
                    partial(stacked, args.epochs), y_semi, None, True),
                "M1 + M2, labelled rows only": (partial(stacked, lab_epochs), None, lab, True),
                "M1 + SVC (VAETransformer -> SVC), labelled rows only": (
                    partial(stacked, None), None, lab,
                    True),
            }
            if args.pixel_m2:
                models["VAEClassifier on pixels (M2)"] = (
                    partial(m2, args.dataset, "bernoulli", args.epochs, seed), y_semi, None,
                    False)
                models["VAEClassifier on pixels, labelled rows only"] = (
                    partial(m2, args.dataset, "bernoulli", lab_epochs, seed), None, lab,
                    False)
            if args.conv_classifier:
                cc_lab_epochs = equal_step_epochs(args.conv_epochs, len(y_train), len(lab), bs)
                # The alpha is named only when it is not the default, so that runs with
                # the default merge with earlier ones.
                alpha = "" if args.conv_alpha == 10 else f", alpha={args.conv_alpha:g}"
                lbs = args.labelled_batch_size
                lbs_name = f", labelled_batch_size={lbs}" if lbs else ""
                models[f"VAEClassifier(classifier_architecture='conv'{alpha}{lbs_name}) on "
                       "pixels (M2)"] = (
                    partial(conv_classifier, args.dataset, args.conv_epochs, seed,
                            args.conv_alpha, lbs), y_semi, None, False)
                models[f"VAEClassifier(classifier_architecture='conv'{alpha}), labelled rows "
                       "only"] = (
                    partial(conv_classifier, args.dataset, cc_lab_epochs, seed,
                            args.conv_alpha), None, lab, False)
            models["SVC(rbf, C=10), labelled rows only"] = (partial(SVC, C=10), None, lab, False)
            models["LabelSpreading(knn)"] = (
                partial(LabelSpreading, kernel="knn", n_neighbors=7, max_iter=100), y_semi, None,
                False)
            for model_name, (make, y_fit, rows_fit, with_m1) in models.items():
                if args.only and not any(part in model_name for part in args.only):
                    continue
                model = make()  # fits M1 first if this is the first model that needs it
                t0 = time.perf_counter()
                if rows_fit is None:
                    model.fit(X_train, y_fit)
                else:
                    model.fit(X_train[rows_fit], y_train[rows_fit])
                fit_s = time.perf_counter() - t0 + (m1_fit["s"] if with_m1 else 0.0)
                acc = model.score(X_test, y_test)
                rows.append({"dataset": args.dataset, "n_train": len(y_train),
                             "n_labelled": len(lab), "seed": seed, "model": model_name,
                             "accuracy": acc, "fit_s": fit_s})
                print(rows[-1], flush=True)
    return rows


def report(rows, args, command):
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"semisupervised_{args.dataset}{args.tag}"
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    seeds = sorted({int(r["seed"]) for r in rows})
    models = list(dict.fromkeys(r["model"] for r in rows))
    labels = sorted({r["n_labelled"] for r in rows})

    def median(key, m, n):
        values = [r[key] for r in rows if r["model"] == m and r["n_labelled"] == n]
        return np.median(values) if values else None

    n_train = rows[0]["n_train"]
    lines = [
        f"# Semi-supervised {args.dataset}: {n_train} training rows, test accuracy "
        f"(median over seeds {seeds}; fit time in seconds)",
        "",
        f"Command: {command}",
        "M1 + M2 times include M1's fit, done once per seed and shared by every label count.",
        "",
        "| model | " + " | ".join(f"{n} labels" for n in labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(
            "not run" if median("accuracy", m, n) is None
            else f"{median('accuracy', m, n):.3f} ({median('fit_s', m, n):.0f} s)"
            for n in labels) + " |")
    lines.append("")
    stem.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for m in models:
        ran = [n for n in labels if median("accuracy", m, n) is not None]
        ax.plot(ran, [median("accuracy", m, n) for n in ran], marker="o", label=m)
    ax.set_xscale("log")
    ax.set_xlabel("labelled training rows (the rest unlabelled)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{args.dataset}: {n_train} training rows")
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
    parser.add_argument("--epochs", type=int, default=30, help="epochs of M2")
    parser.add_argument("--m1-epochs", type=int, default=None,
                        help="epochs of M1 (default: 100 on digits, 20 on fashion)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pixel-m2", action="store_true",
                        help="also fit VAEClassifier on the raw pixels (slow on CPU)")
    parser.add_argument("--conv-classifier", action="store_true",
                        help="also fit VAEClassifier(classifier_architecture='conv') on the "
                             "pixels, semi-supervised and labelled only")
    parser.add_argument("--conv-epochs", type=int, default=15,
                        help="epochs of the --conv-classifier fits")
    parser.add_argument("--conv-alpha", type=float, default=10.0,
                        help="alpha of the --conv-classifier fits")
    parser.add_argument("--labelled-batch-size", type=int, default=None,
                        help="labelled_batch_size of the semi-supervised --conv-classifier fit")
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="run only the models whose name contains one of these")
    parser.add_argument("--tag", default="", help="suffix of the output file names")
    parser.add_argument("--merge", nargs="+", metavar="CSV",
                        help="only report: combine the rows of these CSV files (e.g. "
                             "one per seed, run side by side) into one table and plot")
    args = parser.parse_args()
    command = f"`python benchmarks/bench_semisupervised.py {' '.join(sys.argv[1:])}`"
    if args.merge:
        rows = []
        for path in args.merge:
            # Name the runs that made the merged files (their reports sit beside them).
            report_md = Path(path).with_suffix(".md")
            if report_md.exists():
                command += "".join(
                    "\n" + line.replace("Command:", "- merged:", 1)
                    for line in report_md.read_text().splitlines()
                    if line.startswith("Command:"))
            with open(path, newline="") as f:
                rows += [{**r, "n_train": int(r["n_train"]), "n_labelled": int(r["n_labelled"]),
                          "accuracy": float(r["accuracy"]), "fit_s": float(r["fit_s"])}
                         for r in csv.DictReader(f)]
        report(rows, args, command)
        return
    command += f", {args.threads} thread(s); torch {torch.__version__}, CPU."
    torch.set_num_threads(args.threads)
    report(run(args), args, command)


if __name__ == "__main__":
    main()

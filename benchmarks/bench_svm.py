"""VAE features vs SVM baselines on Fashion-MNIST: test accuracy, fit and predict seconds.

Rows: SVC(rbf, C=10) on pixels, LogisticRegression on pixels, PCA(50)+SVC,
VAETransformer (mlp and conv) + SVC and + LogisticRegression, and VAEClassifier
(mlp and conv) when ``skvae.VAEClassifier`` exists (the rows are skipped, with a
note, where it does not). Each VAE transformer is fitted once; its fit time is
counted in both of its rows ("vae_s"), and "svc_s" is the time the SVC (or
logistic regression) itself took to fit, the cost the VAE is meant to cut.

Usage::

    python benchmarks/bench_svm.py                     # 60k train / 10k test
    python benchmarks/bench_svm.py --n-train 10000     # a quicker run

Writes ``benchmarks/results/svm_<n>.md``, ``.csv`` and ``.png`` (accuracy vs time).
"""

import argparse
import csv
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import VAETransformer
from skvae.datasets import fetch_fashion_mnist

RESULTS = Path(__file__).parent / "results"

# Targets from issue 4.
TARGET_CLF_CONV = 0.92  # VAEClassifier(conv) accuracy
TARGET_GAP = 0.01  # VAETransformer+SVC within one point of SVC on pixels ...
TARGET_SPEEDUP = 5.0  # ... at five times less SVC time


def vae_params(arch, epochs):
    common = {"n_components": 64, "beta": 1.0, "batch_size": 128, "learning_rate": 1e-3,
                  "max_iter": epochs, "device": "auto", "random_state": 0}
    if arch == "conv":
        return dict(common, architecture="conv", image_shape=(1, 28, 28),
                    hidden_layer_sizes=(256,))
    return dict(common, architecture="mlp", hidden_layer_sizes=(512, 256))


def svc():
    return SVC(kernel="rbf", C=10)


def logreg():
    return LogisticRegression(max_iter=300)


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=20, help="VAE training epochs")
    parser.add_argument("--skip", nargs="*", default=[],
                        help="row-name prefixes to leave out, e.g. 'SVC on pixels'")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--tag", default="",
                        help="suffix of the result files, e.g. '_classifier' for a partial run")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    X_tr, y_tr = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_te, y_te = fetch_fashion_mnist(subset="test", return_X_y=True)
    rng = np.random.default_rng(0)
    tr = np.sort(rng.permutation(len(X_tr))[: args.n_train])
    X_tr, y_tr = X_tr[tr].astype(np.float32), y_tr[tr]
    X_te, y_te = X_te[: args.n_test].astype(np.float32), y_te[: args.n_test]

    rows, notes = [], []

    def record(name, model_fit_s, predict_s, acc, vae_s=0.0, head_s=None):
        head_s = model_fit_s - vae_s if head_s is None else head_s
        row = {"model": name, "accuracy": round(float(acc), 4),
               "fit_s": round(model_fit_s, 1), "predict_s": round(predict_s, 1),
               "vae_s": round(vae_s, 1), "svc_s": round(head_s, 1), "target": ""}
        rows.append(row)
        print(row, flush=True)

    def skip(name):
        return any(name.startswith(p) for p in args.skip)

    def plain(name, est):
        if skip(name):
            return
        est, fit_s = timed(est.fit, X_tr, y_tr)
        pred, pred_s = timed(est.predict, X_te)
        record(name, fit_s, pred_s, np.mean(pred == y_te))

    plain("SVC(rbf, C=10) on pixels", svc())
    plain("LogisticRegression on pixels", logreg())
    plain("PCA(50) + SVC", make_pipeline(PCA(50, random_state=0), svc()))

    for arch in ("mlp", "conv"):
        name = f"VAETransformer({arch})"
        if skip(name):
            continue
        vae, vae_s = timed(VAETransformer(**vae_params(arch, args.epochs)).fit, X_tr)
        print(f"{name}: {vae.n_iter_} epochs in {vae_s:.0f} s", flush=True)
        (Z_tr, enc_tr_s) = timed(vae.transform, X_tr)
        (Z_te, enc_te_s) = timed(vae.transform, X_te)
        for head_name, head in (("SVC", svc()), ("LogisticRegression", logreg())):
            # Standardised codes: the rbf kernel's gamma='scale' then treats dims alike.
            head = make_pipeline(StandardScaler(), head)
            head, head_s = timed(head.fit, Z_tr, y_tr)
            pred, pred_s = timed(head.predict, Z_te)
            record(f"{name} + {head_name}", vae_s + enc_tr_s + head_s, enc_te_s + pred_s,
                   np.mean(pred == y_te), vae_s=vae_s + enc_tr_s, head_s=head_s)

    try:
        from skvae import VAEClassifier
    except ImportError:
        VAEClassifier = None
        notes.append("VAEClassifier rows skipped: skvae.VAEClassifier is not available in "
                     "this build (it lives on another branch until merged).")
        print(notes[-1], flush=True)
    if VAEClassifier is not None:
        for arch in ("mlp", "conv"):
            name = f"VAEClassifier({arch})"
            if skip(name):
                continue
            try:
                est = VAEClassifier(**vae_params(arch, args.epochs))
            except TypeError as exc:  # e.g. no architecture parameter yet
                notes.append(f"{name} skipped: {exc}")
                print(notes[-1], flush=True)
                continue
            plain(name, est)

    # -- targets --------------------------------------------------------------------
    by_name = {r["model"]: r for r in rows}
    base = by_name.get("SVC(rbf, C=10) on pixels")
    for r in rows:
        if r["model"].startswith("VAEClassifier(conv)"):
            ok = r["accuracy"] >= TARGET_CLF_CONV
            r["target"] = f"acc >= {TARGET_CLF_CONV}: {'met' if ok else 'MISSED'}"
        if base and r["model"].startswith("VAETransformer") and r["model"].endswith("+ SVC"):
            gap = base["accuracy"] - r["accuracy"]
            speedup = base["fit_s"] / max(r["svc_s"], 1e-9)
            ok = gap <= TARGET_GAP and speedup >= TARGET_SPEEDUP
            r["target"] = (f"gap {100 * gap:.1f} pts, SVC fit {speedup:.1f}x faster: "
                           f"{'met' if ok else 'MISSED'}")

    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"svm_{args.n_train}{args.tag}"
    with open(f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    header = (
        f"Fashion-MNIST, {args.n_train} training rows (random, seed 0), {args.n_test} test "
        f"rows; VAEs: 64-d latent, {args.epochs} epochs, batch 128, device "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs "
        f"({platform.machine()}), shared with other jobs: seconds are indicative.\n"
        f"fit_s: whole fit (VAE + head for VAE rows); vae_s: VAE training plus encoding the "
        f"training set; svc_s: the SVC / logistic regression fit alone; predict_s includes "
        f"encoding the test set.\n"
        f"Command: python benchmarks/bench_svm.py {' '.join(sys.argv[1:])}\n\n"
    )
    cols = list(rows[0])
    table = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    table += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    text = header + "\n".join(table) + "\n" + "".join(f"\n{n}\n" for n in notes)
    Path(f"{stem}.md").write_text(text)
    print(text)

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for r in rows:
        total = r["fit_s"] + r["predict_s"]
        ax.scatter(total, r["accuracy"], s=40)
        ax.annotate(r["model"], (total, r["accuracy"]), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi * 4)  # room for the labels
    ax.set_xlabel("fit + predict seconds (log scale)")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Fashion-MNIST ({args.n_train} train / {args.n_test} test): "
                 "accuracy vs time")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(f"{stem}.png", dpi=120)
    print(f"wrote {stem}.png")


if __name__ == "__main__":
    main()

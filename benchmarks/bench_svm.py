"""VAE features vs SVM baselines on Fashion-MNIST (or digits): accuracy, fit and predict s.

Rows: SVC(rbf, C=10) on pixels, LogisticRegression on pixels, PCA(50)+SVC, VAE codes
+ SVC (and + LogisticRegression), and VAEClassifier (mlp and conv). Each VAE transformer
is fitted once; its fit time is counted in each of its rows ("vae_s"), and "svc_s" is the
time the SVC (or logistic regression) itself took to fit, the cost the VAE is meant to cut.

The VAE transformers:

* ``VAETransformer(mlp)``, ``VAETransformer(conv)``: 64 dimensions, ``beta=1``, ``--epochs``
  epochs; their codes are standardised before the SVC / logistic regression.
* ``VAETransformer(conv) [defaults]``: ``VAETransformer(architecture="conv",
  image_shape=(1, 28, 28))``, every other setting at its default (50 dimensions,
  ``beta=0.1``, hidden layer 256, 22 epochs of 256 rows on 60,000 images); its code goes
  to the SVC as it is (``make_pipeline(vae, SVC())``).
* ``VAETransformer(conv, beta=0.1, 50 dims)``: the settings of the M1 that
  ``VAEClassifier`` fits by itself on partly labelled images (50 dimensions,
  ``beta=0.1``, hidden layer 256, 256 rows per step), ``--epochs`` epochs; code as it is.

* ``VAETransformer(conv, beta=1, 16 dims, (256, 128), 100 epochs)``: the plain VAE, the
  transformer's defaults before issue 9 (also 128 rows per step); code as it is.

``--dataset digits`` (scikit-learn's 8 x 8 digits, a stratified 70 / 30 split drawn with
``--seed``) runs the SVC on pixels, ``PCA(50)`` + SVC, and the fully connected
transformer with its defaults (``VAETransformer() [defaults]``) and as the plain VAE
above, codes as they are; run it with several seeds.

Usage::

    python benchmarks/bench_svm.py                     # 60k train / 10k test
    python benchmarks/bench_svm.py --dataset digits --seed 3
    python benchmarks/bench_svm.py --n-train 10000     # a quicker run
    python benchmarks/bench_svm.py --skip SVC LogisticRegression PCA VAETransformer
    python benchmarks/bench_svm.py --only '[defaults]' --threads 1

Appends to ``benchmarks/results/svm.csv``; rebuilds ``svm.md`` and ``svm.png``
(accuracy vs time, one panel per training-set size).
"""

import numpy as np
from _common import fmt, group, make_parser, markdown, median, save, start
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import VAEClassifier, VAETransformer
from skvae._experiment import load_digits_split, load_fashion_mnist_split, timed

SETTINGS = ("dataset", "n_train", "n_test", "threads")
METRICS = ("accuracy", "fit_s", "predict_s", "vae_s", "svc_s")
DATASETS = {"fashion": "Fashion-MNIST", "digits": "digits (8 x 8)"}


def vae_params(arch, epochs, seed):
    common = {"n_components": 64, "beta": 1.0, "batch_size": 128, "learning_rate_init": 1e-3,
              "max_iter": epochs, "device": "auto", "random_state": seed}
    if arch == "conv":
        return dict(common, architecture="conv", image_shape=(1, 28, 28),
                    hidden_layer_sizes=(256,))
    return dict(common, architecture="mlp", hidden_layer_sizes=(512, 256))


def transformers(dataset, epochs, seed):
    """{name: (VAETransformer parameters, standardise the code before the head?)}."""
    # The plain VAE: VAETransformer's defaults before issue 9 (beta=1, 16 dims, hidden
    # (256, 128), 100 epochs of 128 rows).
    plain_vae = {"n_components": 16, "beta": 1.0, "hidden_layer_sizes": (256, 128),
                 "max_iter": 100, "batch_size": 128}
    plain_name = "beta=1, 16 dims, (256, 128), 100 epochs"
    if dataset == "digits":
        mlp = {"device": "auto", "random_state": seed}
        return {"VAETransformer() [defaults]": (mlp, False),
                f"VAETransformer({plain_name})": (dict(mlp, **plain_vae), False)}
    image = {"architecture": "conv", "image_shape": (1, 28, 28), "device": "auto",
             "random_state": seed}
    return {
        "VAETransformer(mlp)": (vae_params("mlp", epochs, seed), True),
        "VAETransformer(conv)": (vae_params("conv", epochs, seed), True),
        "VAETransformer(conv) [defaults]": (image, False),
        f"VAETransformer(conv, {plain_name})": (dict(image, **plain_vae), False),
        "VAETransformer(conv, beta=0.1, 50 dims)": (
            dict(image, n_components=50, beta=0.1, hidden_layer_sizes=(256,), batch_size=256,
                 max_iter=epochs), False),
    }


def svc():
    return SVC(kernel="rbf", C=10)


def logreg():
    return LogisticRegression(max_iter=300)


def run(args):
    if args.dataset == "digits":
        X_tr, X_te, y_tr, y_te = load_digits_split(random_state=args.seed)
    else:
        X_tr, X_te, y_tr, y_te = load_fashion_mnist_split(args.n_train, args.n_test,
                                                            random_state=args.seed)
    rows = []

    def record(name, fit_s, predict_s, acc, vae_s=0.0, head_s=None, epochs=args.epochs):
        rows.append({"dataset": args.dataset, "n_train": len(X_tr), "n_test": len(X_te),
                     "epochs": epochs,
                     "seed": args.seed, "model": name, "accuracy": round(float(acc), 4),
                     "fit_s": round(fit_s, 1), "predict_s": round(predict_s, 1),
                     "vae_s": round(vae_s, 1),
                     "svc_s": round(fit_s - vae_s if head_s is None else head_s, 1)})
        print(rows[-1], flush=True)

    def skip(name):
        return (any(name.startswith(p) for p in args.skip)
                or (args.only and not any(part in name for part in args.only)))

    def plain(name, est):
        if skip(name):
            return
        est, fit_s = timed(est.fit, X_tr, y_tr)
        pred, pred_s = timed(est.predict, X_te)
        record(name, fit_s, pred_s, np.mean(pred == y_te))

    digits = args.dataset == "digits"
    plain("SVC(rbf, C=10) on pixels", svc())
    if not digits:
        plain("LogisticRegression on pixels", logreg())
    plain("PCA(50) + SVC", make_pipeline(PCA(50, random_state=0), svc()))
    for name, (params, scale) in transformers(args.dataset, args.epochs, args.seed).items():
        heads = [(h, est) for h, est in (("SVC", svc()), ("LogisticRegression", logreg()))
                 if not skip(f"{name} + {h}") and (scale or h == "SVC")]
        if not heads:
            continue
        vae, vae_s = timed(VAETransformer(**params).fit, X_tr)
        print(f"{name}: {vae.n_iter_} epochs in {vae_s:.0f} s", flush=True)
        Z_tr, enc_tr_s = timed(vae.transform, X_tr)
        Z_te, enc_te_s = timed(vae.transform, X_te)
        for head_name, head in heads:
            # The 64-dimension beta=1 codes are standardised (gamma='scale' then treats
            # dims alike); the others go in as a user's make_pipeline(vae, SVC()) gives them.
            head, head_s = timed((make_pipeline(StandardScaler(), head) if scale
                                  else head).fit, Z_tr, y_tr)
            pred, pred_s = timed(head.predict, Z_te)
            record(f"{name} + {head_name}", vae_s + enc_tr_s + head_s, enc_te_s + pred_s,
                   np.mean(pred == y_te), vae_s=vae_s + enc_tr_s, head_s=head_s,
                   epochs=vae.n_iter_)
    for arch in () if digits else ("mlp", "conv"):
        plain(f"VAEClassifier({arch})", VAEClassifier(**vae_params(arch, args.epochs,
                                                                   args.seed)))
    return rows


def with_dataset(rows):
    """Rows from before ``--dataset`` existed are Fashion-MNIST rows."""
    return [{**r, "dataset": r.get("dataset") or "fashion"} for r in rows]


def table(rows):
    lines = []
    rows = with_dataset(rows)
    for settings, sub in group(rows, SETTINGS).items():
        dataset, n_train, n_test, threads = settings
        lines += [f"## {DATASETS[dataset]}, {n_train} train / {n_test} test, {threads} "
                  "thread(s)", ""]
        # A VAE row per training length; a baseline's runs are one row whatever the VAEs'.
        keyed = [{**r, "vae_epochs": r["epochs"] if "VAE" in r["model"] else None}
                 for r in sub]
        body = [[model, fmt(epochs), ", ".join(str(s) for s in sorted({r["seed"] for r in rs}))]
                + [fmt(median(rs, m), 4 if m == "accuracy" else 1) for m in METRICS]
                for (model, epochs), rs in group(keyed, ["model", "vae_epochs"]).items()]
        lines += markdown(["model", "VAE epochs", "seeds (medians over them)", *METRICS],
                          body) + [""]
    return lines


def plot(rows, path):
    import matplotlib.pyplot as plt

    rows = [r for r in with_dataset(rows) if r["dataset"] == "fashion"]
    sizes = sorted({r["n_train"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(1, len(sizes), figsize=(9.5 * len(sizes), 5), squeeze=False)
    for ax, n in zip(axes[0], sizes, strict=True):
        sub = [r for r in rows if r["n_train"] == n]
        for (model,), rs in group(sub, ["model"]).items():
            total, acc = median(rs, "fit_s") + median(rs, "predict_s"), median(rs, "accuracy")
            # A legend, not labels next to the points: close points made them overlap.
            ax.scatter(total, acc, s=40, label=model)
        ax.set_xscale("log")
        ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(1.01, 0.0))
        ax.set_xlabel("fit + predict seconds (log scale)")
        ax.set_ylabel("test accuracy")
        ax.set_title(f"Fashion-MNIST, {n} train / {sub[0]['n_test']} test")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = make_parser(__doc__, threads=0)
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="fashion")
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=20, help="VAE training epochs")
    parser.add_argument("--seed", type=int, default=0,
                        help="training subset draw and the VAEs' random_state")
    parser.add_argument("--skip", nargs="*", default=[],
                        help="row-name prefixes to leave out, e.g. 'SVC on pixels'")
    parser.add_argument("--only", nargs="*", default=[], metavar="TEXT",
                        help="run only the rows whose name contains one of these texts")
    args = parser.parse_args(argv)
    command = start(args)
    save("svm", [] if args.report_only else run(args), args, command, table=table, plot=plot,
         title="VAE features against SVM baselines (Fashion-MNIST; digits)",
         text="fit_s: whole fit (VAE + head for VAE rows); vae_s: VAE training plus encoding "
              "the training set; svc_s: the SVC / logistic regression fit alone; predict_s "
              "includes encoding the test set. Seconds on a shared machine are indicative.")


if __name__ == "__main__":
    main()

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
* ``VAEClassifier() [defaults]``: the estimator as a user calls it, every setting at its
  default but ``architecture`` (``--default-arch``), ``image_shape`` for Fashion-MNIST,
  ``device`` and ``random_state``. ``--defaults`` runs only this row and the baselines
  (SVC, ``LabelSpreading(knn)`` and ``LabelSpreading()`` with scikit-learn's defaults).
* with ``--pixel-m2``, ``VAEClassifier`` (M2) on the raw pixels, semi-supervised and
  labelled only. Each unlabelled row costs ``K = 10`` decoder passes, so on CPU this is
  only practical on digits or a reduced Fashion-MNIST.

Usage::

    PYTHONPATH=. python benchmarks/bench_semisupervised.py --dataset fashion \
        --labels 100 1000 10000 --seeds 0
    PYTHONPATH=. python benchmarks/bench_semisupervised.py --dataset digits \
        --labels 50 100 250 --seeds 0 1 2 --pixel-m2

Seeds run side by side (one process per seed) simply append their rows. Appends to
``benchmarks/results/semisupervised.csv`` (one row per data set, model, settings, label
count and seed); rebuilds ``semisupervised.md`` (medians over the seeds) and
``semisupervised.png`` (the label curves, one panel per data set).
"""

import math
import statistics
from functools import partial

import numpy as np
from _common import fmt, group, make_parser, markdown, median, save, start
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading
from sklearn.svm import SVC

from skvae import VAEClassifier, VAETransformer
from skvae._experiment import draw_labelled, load_digits_split, load_fashion_mnist_split, timed

# Per-row settings: blank where they do not apply to the row's model.
SETTINGS = ("epochs", "m1_epochs", "alpha", "labelled_batch_size")


def load(name, n_train, n_test, seed):
    if name == "digits":
        return load_digits_split(seed)
    return load_fashion_mnist_split(n_train, n_test, seed)


def m1(name, epochs, seed):
    """The unsupervised VAE whose code M2 reads (fitted once per seed)."""
    if name == "digits":
        return VAETransformer(n_components=16, beta=0.5, hidden_layer_sizes=(256, 128),
                              max_iter=epochs, batch_size=128, device="cpu",
                              random_state=seed)
    # A small beta keeps more of the code's dimensions in use: with beta=1 only 7 of an
    # MLP VAE's 50 are active on Fashion-MNIST, and an SVC on that code loses 7 points
    # at 100 labels to one on pixels. The conv VAE's code, with beta=0.1, beats the pixels.
    return VAETransformer(n_components=50, beta=0.1, architecture="conv",
                          hidden_layer_sizes=(256,), max_iter=epochs, batch_size=256,
                          device="cpu", random_state=seed)


def m2(name, likelihood, epochs, seed):
    """VAEClassifier (M2) on M1's standardised code or, for 'bernoulli', on pixels."""
    # Every setting pinned: these rows measure a fixed recipe, whatever the defaults.
    fixed = {"model": "m2", "labelled_batch_size": None, "device": "cpu",
             "random_state": seed}
    if name == "digits":
        return VAEClassifier(n_components=8 if likelihood == "gaussian" else 4,
                             hidden_layer_sizes=(128,) if likelihood == "gaussian"
                             else (256, 128), likelihood=likelihood, max_iter=epochs,
                             batch_size=128, **fixed)
    return VAEClassifier(n_components=8, hidden_layer_sizes=(256, 128), likelihood=likelihood,
                         max_iter=epochs, batch_size=256, **fixed)


def equal_step_epochs(epochs, n_rows, n_labelled, batch_size):
    """Epochs over the labelled rows that give as many gradient steps as ``epochs`` over all."""
    steps = epochs * math.ceil(n_rows / batch_size)
    return max(1, steps // math.ceil(n_labelled / batch_size))


def conv_classifier(name, epochs, seed, alpha=10.0, labelled_batch_size=None):
    """VAEClassifier on pixels: conv q(y|x), fully connected VAE (cheap K decoder passes)."""
    fixed = {"model": "m2", "labelled_batch_size": labelled_batch_size,
             "device": "cpu", "random_state": seed}
    if name == "digits":
        return VAEClassifier(n_components=4, hidden_layer_sizes=(128,),
                             classifier_architecture="conv", alpha=alpha, max_iter=epochs,
                             batch_size=128, **fixed)
    return VAEClassifier(n_components=16, hidden_layer_sizes=(256,),
                         classifier_architecture="conv", alpha=alpha, max_iter=epochs,
                         batch_size=256, **fixed)


def run(args):
    rows = []
    m1_epochs = args.m1_epochs or (100 if args.dataset == "digits" else 20)
    for seed in args.seeds:
        X_train, X_test, y_train, y_test = load(args.dataset, args.n_train, args.n_test, seed)
        m1_fit = {}

        def frozen_m1(seed=seed, X_train=X_train, m1_fit=m1_fit):
            """M1 fitted on every training row, once per seed, when a model needs it."""
            if not m1_fit:
                fitted, m1_fit["s"] = timed(m1(args.dataset, m1_epochs, seed).fit, X_train)
                m1_fit["code"] = FrozenEstimator(fitted)
                print(f"seed {seed}: M1 fitted on {len(X_train)} rows in {m1_fit['s']:.0f} s",
                      flush=True)
            return m1_fit["code"]

        for n_lab in args.labels:
            lab = draw_labelled(y_train, n_lab, seed)
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
            # the row's settings; M1's fit time is added when "m1_epochs" is among them).
            # "epochs" is the nominal one: labelled-only fits get as many gradient steps.
            m2_set = {"epochs": args.epochs, "m1_epochs": m1_epochs, "alpha": 10.0}
            image = {} if args.dataset == "digits" else {"image_shape": (1, 28, 28)}
            default_name = (f"VAEClassifier(architecture='{args.default_arch}') [defaults]"
                            if args.default_arch != "auto" else "VAEClassifier() [defaults]")
            defaults = {default_name: (
                partial(VAEClassifier, architecture=args.default_arch, device="cpu",
                        random_state=seed, **image), y_semi, None, {})}
            models = {} if args.defaults else {
                "M1 + M2 (VAETransformer -> VAEClassifier)": (
                    partial(stacked, args.epochs), y_semi, None, m2_set),
                "M1 + M2, labelled rows only": (partial(stacked, lab_epochs), None, lab, m2_set),
                "M1 + SVC (VAETransformer -> SVC), labelled rows only": (
                    partial(stacked, None), None, lab, {"m1_epochs": m1_epochs}),
            }
            models.update(defaults)
            if args.pixel_m2 and not args.defaults:
                px_set = {"epochs": args.epochs, "alpha": 10.0}
                models["VAEClassifier on pixels (M2)"] = (
                    partial(m2, args.dataset, "bernoulli", args.epochs, seed), y_semi, None,
                    px_set)
                models["VAEClassifier on pixels, labelled rows only"] = (
                    partial(m2, args.dataset, "bernoulli", lab_epochs, seed), None, lab, px_set)
            if args.conv_classifier and not args.defaults:
                cc_lab_epochs = equal_step_epochs(args.conv_epochs, len(y_train), len(lab), bs)
                lbs = args.labelled_batch_size
                cc_set = {"epochs": args.conv_epochs, "alpha": args.conv_alpha}
                models["VAEClassifier(classifier_architecture='conv') on pixels (M2)"] = (
                    partial(conv_classifier, args.dataset, args.conv_epochs, seed,
                            args.conv_alpha, lbs), y_semi, None,
                    {**cc_set, "labelled_batch_size": lbs})
                models["VAEClassifier(classifier_architecture='conv'), labelled rows only"] = (
                    partial(conv_classifier, args.dataset, cc_lab_epochs, seed,
                            args.conv_alpha), None, lab, cc_set)
            models["SVC(rbf, C=10), labelled rows only"] = (partial(SVC, C=10), None, lab, {})
            models["LabelSpreading(knn)"] = (
                partial(LabelSpreading, kernel="knn", n_neighbors=7, max_iter=100), y_semi, None,
                {})
            # scikit-learn's default rbf kernel builds a dense n x n affinity matrix:
            # 29 GB for 60,000 rows, more than this machine has. Only where it fits.
            if args.defaults and len(y_train) ** 2 * 8 < 4e9:
                models["LabelSpreading() [sklearn defaults]"] = (LabelSpreading, y_semi, None,
                                                                  {})
            for model_name, (make, y_fit, rows_fit, settings) in models.items():
                if args.only and not any(part in label(model_name, settings)
                                         for part in args.only):
                    continue
                model = make()  # fits M1 first if this is the first model that needs it
                if rows_fit is None:
                    model, fit_s = timed(model.fit, X_train, y_fit)
                else:
                    model, fit_s = timed(model.fit, X_train[rows_fit], y_train[rows_fit])
                if "m1_epochs" in settings:
                    fit_s += m1_fit["s"]
                rows.append({"dataset": args.dataset, "n_train": len(y_train),
                             "n_test": len(y_test), "n_labelled": len(lab), "model": model_name,
                             **dict.fromkeys(SETTINGS), **settings, "seed": seed,
                             "accuracy": model.score(X_test, y_test), "fit_s": fit_s})
                print(rows[-1], flush=True)
    return rows


def label(model, settings):
    """The model's name and its settings, e.g. "... [epochs=15, alpha=100]"."""
    parts = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in settings.items() if v is not None]
    return f"{model} [{', '.join(parts)}]" if parts else model


def curves(rows):
    """{(dataset, n_train): {label: {n_labelled: rows}}}, one row per seed.

    A draw run more than once (the same seed appended by several runs) counts once: its
    last row, as in the defaults report.
    """
    out = {}
    for key, sub in group(rows, ["dataset", "n_train"]).items():
        out[key] = {}
        for (model, *values), rs in group(sub, ["model", *SETTINGS]).items():
            out[key][label(model, dict(zip(SETTINGS, values, strict=True)))] = {
                n: list(seeds.values()) for (_, n), seeds in latest_per_seed(rs).items()}
    return out


def table(rows):
    lines = []
    for (dataset, n_train), models in curves(rows).items():
        labels = sorted({n for by_n in models.values() for n in by_n})
        lines += [f"## {dataset}: {n_train} training rows", "",
                  "Test accuracy, median over the seeds (fit seconds, number of seeds); M1 "
                  "times include M1's fit, done once per seed and shared by every label count.",
                  ""]
        body = []
        for name, by_n in models.items():
            cells = []
            for n in labels:
                rs = by_n.get(n)
                cells.append("not run" if not rs else
                             f"{fmt(median(rs, 'accuracy'), 3)} ({median(rs, 'fit_s'):.0f} s, "
                             f"{len(rs)})")
            body.append([name, *cells])
        lines += markdown(["model [settings]"] + [f"{n} labels" for n in labels], body) + [""]
        seeds = sorted({r["seed"] for by_n in models.values() for rs in by_n.values()
                        for r in rs})
        body = []
        for name, by_n in models.items():
            for n, rs in sorted(by_n.items()):
                acc = {r["seed"]: r["accuracy"] for r in rs}
                body.append([name, n] + [fmt(acc.get(s), 4) for s in seeds])
        lines += ["Per seed, test accuracy:", ""]
        lines += markdown(["model [settings]", "labels"] + [f"seed {s}" for s in seeds],
                          body) + [""]
    return lines


# The models of the --defaults comparison, the defaults first (matched by name).
BASELINES = ("LabelSpreading() [sklearn defaults]", "LabelSpreading(knn)",
             "SVC(rbf, C=10), labelled rows only")
#: Rows of earlier defaults keep their model name with this mark (not run again; the
#: report pairs the current defaults with them on the draws both ran).
SUPERSEDED = "[superseded defaults"


def is_defaults(model):
    return model.startswith("VAEClassifier") and model.endswith("[defaults]")


def latest_per_seed(rows):
    """{(model, n_labelled): {seed: row}}, the last row of a repeated draw winning."""
    out = {}
    for r in rows:
        out.setdefault((r["model"], r["n_labelled"]), {})[r["seed"]] = r
    return out


def defaults_report(rows):
    """Markdown: the defaults against the baselines, with ranges and paired differences.

    Only label counts where the defaults were run; every baseline is compared on the
    same label draws (seeds) as the defaults (with several defaults rows, such as the
    MLP and the conv architecture, the first one's draws).
    """
    lines = []
    for (dataset, n_train), sub in group(rows, ["dataset", "n_train"]).items():
        per = latest_per_seed(sub)
        names = sorted({m for m, _ in per if is_defaults(m)})
        if not names:
            continue
        labels = sorted({n for m, n in per if m in names})
        earlier = sorted({m for m, n in per if SUPERSEDED in m and n in labels})
        models = names + earlier + [b for b in BASELINES if any((b, n) in per for n in labels)]
        if not lines:
            lines += ["## The defaults against SVC and LabelSpreading", "",
                      "Rows of `--defaults` runs; the curves of every model follow.", ""]
        lines += [f"### {dataset}: {n_train} training rows", "",
                  "Test accuracy, median over the label draws (range; median fit seconds; "
                  "draws), on the draws the defaults ran:", ""]
        body = []
        for m in models:
            cells = []
            for n in labels:
                seeds = next((per[(d, n)] for d in names if (d, n) in per), {})
                rs = [r for s, r in per.get((m, n), {}).items() if s in seeds]
                if not rs:
                    cells.append("not run")
                    continue
                acc = [r["accuracy"] for r in rs]
                cells.append(f"{median(rs, 'accuracy'):.3f} ({min(acc):.3f} to {max(acc):.3f}; "
                             f"{median(rs, 'fit_s'):.0f} s; {len(rs)})")
            body.append([f"**{m}**" if m in names else m, *cells])
        lines += markdown(["model"] + [f"{n:,} labels" for n in labels], body) + [""]
        lines += ["Paired with the same label draws (median of the differences, in points):",
                  ""]
        for name in names:
            for n in labels:
                mine = per.get((name, n), {})
                parts = []
                for b in models[len(names):]:
                    theirs = per.get((b, n), {})
                    diffs = [mine[s]["accuracy"] - theirs[s]["accuracy"] for s in mine
                             if s in theirs]
                    if diffs:
                        ahead = sum(d > 0 for d in diffs)
                        parts.append(f"against {b} {100 * statistics.median(diffs):+.1f}, "
                                     f"ahead on {ahead} of {len(diffs)}")
                if parts:
                    prefix = f"{name}, " if len(names) > 1 else ""
                    lines.append(f"- {prefix}{n:,} labels: " + "; ".join(parts) + ".")
        lines.append("")
    return lines


def plot(rows, path):
    import matplotlib.pyplot as plt

    # A curve needs two label counts: single-count runs (a timing check) stay in the tables.
    panels = {key: models for key, models in curves(rows).items()
              if len({n for by_n in models.values() for n in by_n}) > 1}
    if not panels:
        print("no curve to plot (every data set has one label count): no figure")
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(8 * len(panels), 5.5), squeeze=False)
    for ax, ((dataset, n_train), models) in zip(axes[0], panels.items(), strict=True):
        for i, (name, by_n) in enumerate(models.items()):
            ns = sorted(by_n)
            # The defaults stand out; the recipes cycle through colours and line styles.
            style = ({"color": "black", "linewidth": 3, "zorder": 5} if "[defaults]" in name
                     else {"linestyle": ("-", "--", ":")[i // 10 % 3]})
            ax.plot(ns, [median(by_n[n], "accuracy") for n in ns], marker="o", label=name,
                    **style)
        ax.set_xscale("log")
        ax.set_xlabel("labelled training rows (the rest unlabelled)")
        ax.set_ylabel("test accuracy (median over seeds)")
        ax.set_title(f"{dataset}: {n_train} training rows")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--dataset", choices=["digits", "fashion"], default="digits")
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--epochs", type=int, default=30, help="epochs of M2")
    parser.add_argument("--m1-epochs", type=int, default=None,
                        help="epochs of M1 (default: 100 on digits, 20 on fashion)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--defaults", action="store_true",
                        help="only VAEClassifier with its defaults, and the baselines")
    parser.add_argument("--default-arch", choices=["auto", "mlp", "conv"], default="auto",
                        help="architecture of the defaults row ('auto': the default, conv "
                             "for the images of Fashion-MNIST, which get image_shape)")
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
                        help="run only the models whose name or settings contain one of "
                             "these (e.g. 'on pixels (M2)', labelled_batch_size, SVC)")
    args = parser.parse_args(argv)
    command = start(args)
    save("semisupervised", [] if args.report_only else run(args), args, command,
         table=lambda rows: defaults_report(rows) + table(rows), plot=plot,
         title="Semi-supervised label curves: skvae's VAE models against SVC and "
               "LabelSpreading")


if __name__ == "__main__":
    main()

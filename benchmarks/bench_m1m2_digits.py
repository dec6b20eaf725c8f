"""Semi-supervised digits: M2 on raw pixels vs M1+M2 (M2 on an unsupervised VAE's code).

Kingma et al. (2014) stack their models: M1, a VAE trained on every row, gives a code,
and M2 learns from the code of labelled and unlabelled rows. This script measures, on
sklearn's digits (70/30 split) with a few labels kept and the rest marked -1:

* SVC on the labelled pixels, the baseline;
* M2 (``VAEClassifier``) on pixels, all rows, and on the labelled rows alone;
* M1 + SVC on the labelled codes;
* M1 + M2 on the codes, all rows, and on the labelled codes alone.

The labelled-only fits get as many gradient steps as the all-rows fits (their epochs
are shorter, so they get more of them).

    python benchmarks/bench_m1m2_digits.py --labels 50 100 250 --seeds 0 1 2

Appends to ``benchmarks/results/m1m2_digits.csv`` (one row per model, label count and
seed); rebuilds ``m1m2_digits.md`` (medians over the seeds).
"""

import numpy as np
from _common import (
    draw_labelled,
    fmt,
    group,
    load_digits_split,
    make_parser,
    markdown,
    median,
    save,
    start,
    timed,
)
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from skvae import VAEClassifier, VAETransformer


def run(args):
    X_tr, X_te, y_tr, y_te = load_digits_split(seed=0)
    m1, m1_s = timed(VAETransformer(n_components=16, beta=0.5, max_iter=args.epochs,
                                    device="cpu", random_state=0).fit, X_tr)
    print(f"M1 (16-d VAE on all {len(X_tr)} training rows): {m1_s:.0f} s")
    scaler = StandardScaler().fit(m1.transform(X_tr))
    Z_tr, Z_te = scaler.transform(m1.transform(X_tr)), scaler.transform(m1.transform(X_te))

    def m2(likelihood, epochs):
        return VAEClassifier(n_components=8, hidden_layer_sizes=(128,), likelihood=likelihood,
                             max_iter=epochs, device="cpu", random_state=0)

    rows = []
    for n_labels in args.labels:
        ratio = len(y_tr) // n_labels
        for seed in args.seeds:
            lab = np.zeros(len(y_tr), dtype=bool)
            lab[draw_labelled(y_tr, n_labels, seed)] = True
            yp = np.where(lab, y_tr, -1)
            models = {
                "SVC pixels": (SVC(C=10), X_tr[lab], yp[lab], X_te),
                "M2 pixels, all rows": (m2("bernoulli", args.epochs), X_tr, yp, X_te),
                "M2 pixels, labelled only": (m2("bernoulli", args.epochs * ratio), X_tr[lab],
                                             yp[lab], X_te),
                "M1 + SVC": (SVC(C=10), Z_tr[lab], yp[lab], Z_te),
                "M1 + M2, all rows": (m2("gaussian", args.epochs), Z_tr, yp, Z_te),
                "M1 + M2, labelled only": (m2("gaussian", args.epochs * ratio), Z_tr[lab],
                                           yp[lab], Z_te),
            }
            for name, (model, X_fit, y_fit, X_score) in models.items():
                rows.append({"n_labelled": n_labels, "epochs": args.epochs, "seed": seed,
                             "model": name,
                             "accuracy": model.fit(X_fit, y_fit).score(X_score, y_te)})
                print(rows[-1], flush=True)
    return rows


def table(rows):
    lines = []
    for (epochs,), sub in group(rows, ["epochs"]).items():
        models = list(dict.fromkeys(r["model"] for r in sub))
        cells = group(sub, ["n_labelled", "model"])
        seeds = sorted({r["seed"] for r in sub})
        lines += [f"{epochs} epochs, median test accuracy over seeds {seeds}:", ""]
        lines += markdown(["labels", *models], [
            [n] + [fmt(median(cells.get((n, m), []), "accuracy"), 3) for m in models]
            for n in sorted({r["n_labelled"] for r in sub})]) + [""]
    return lines


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--labels", type=int, nargs="+", default=[50, 100, 250])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=100)
    args = parser.parse_args(argv)
    command = start(args)
    save("m1m2_digits", [] if args.report_only else run(args), args, command, table=table,
         title="Semi-supervised digits: M2 on pixels against M1 + M2",
         text="Digits (sklearn, 8x8), 70/30 split (seed 0); labels kept per seed "
              "(stratified), the rest -1. M1: VAETransformer(16, beta=0.5) on all training "
              "rows, codes standardised. M2: VAEClassifier(8, hidden (128,)); labelled-only "
              "fits get the same number of gradient steps.")


if __name__ == "__main__":
    main()

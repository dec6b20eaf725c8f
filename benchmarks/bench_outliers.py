"""One-class novelty detection: VAEOutlierDetector against scikit-learn's detectors (AUROC).

The one-class protocol: each class in turn is "normal"; a detector is fitted on that
class's training rows only and scores the evaluation rows of every class; the AUROC says
how well its score ranks the normal class above the nine others (1.0: perfectly; 0.5:
chance). Two evaluation splits:

- ``--split validation`` chooses ``score_method``: the training set is split 80/20
  (stratified, seed 0); each detector is fitted on the class's rows of the 80 % part and
  scores the 20 % part. Every score method is read from the same fitted VAE (the
  statistics each needs are recomputed on the fitting rows). The test set is not read.
- ``--split test`` is the reported benchmark: fitted on all the class's training rows,
  scoring the whole test set (Fashion-MNIST 60k/10k; the digits' 70/30 split of
  ``skvae._experiment.load_digits_split``).

The VAE runs with its defaults over ``--seeds``; the baselines, deterministic (the forest's
seed is fixed at 0), run once per class, with these settings: ``OneClassSVM(gamma='scale',
nu=0.1)``, ``IsolationForest(random_state=0)``, ``LocalOutlierFactor(novelty=True)`` and
the reconstruction error of ``PCA(n_components=20)`` (minus the squared error, as a score).
Fit and score seconds are wall-clock, with the 1-minute load average (``uptime``) taken
before each fit stored next to them, and the fit's CPU seconds (``time.process_time``,
all threads of the process): on a busy machine the wall-clock time of a fit is mostly
waiting, while its CPU time is close to what it takes alone with one thread.

    python benchmarks/bench_outliers.py --data digits --split validation
    python benchmarks/bench_outliers.py --data fashion --split validation --seeds 0
    python benchmarks/bench_outliers.py --data digits --split test
    python benchmarks/bench_outliers.py --data fashion --split test

Appends to ``benchmarks/results/outliers.csv``; rebuilds ``docs/results/outliers.md``.
"""

import datetime
import os
import time
from pathlib import Path

import numpy as np
import torch
from _common import append_rows, fmt, group, make_parser, markdown, save, start
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from skvae import VAEOutlierDetector
from skvae._experiment import load_digits_split, load_fashion_mnist_split
from skvae._outlier import SCORE_METHODS

DEFAULT = VAEOutlierDetector().score_method


class PCAReconstruction:
    """Minus the squared reconstruction error of PCA(20): a linear baseline."""

    def __init__(self, n_components=20):
        self.n_components = n_components

    def fit(self, X):
        self.pca_ = PCA(self.n_components, random_state=0).fit(X)
        return self

    def score_samples(self, X):
        recon = self.pca_.inverse_transform(self.pca_.transform(X))
        return -((X - recon) ** 2).sum(axis=1)


BASELINES = {
    "OneClassSVM(gamma='scale', nu=0.1)": lambda: OneClassSVM(gamma="scale", nu=0.1),
    "IsolationForest(random_state=0)": lambda: IsolationForest(random_state=0),
    "LocalOutlierFactor(novelty=True)": lambda: LocalOutlierFactor(novelty=True),
    "PCA(20) reconstruction error": lambda: PCAReconstruction(20),
}


def load(name, split):
    if name == "digits":
        X_tr, X_te, y_tr, y_te = load_digits_split()
    else:
        X_tr, X_te, y_tr, y_te = load_fashion_mnist_split()
    if split == "validation":  # the test set is not read
        X_tr, X_te, y_tr, y_te = train_test_split(X_tr, y_tr, test_size=0.2, random_state=0,
                                                  stratify=y_tr)
    return (np.asarray(X_tr, dtype=np.float32), np.asarray(X_te, dtype=np.float32),
            y_tr, y_te)


def load_average():
    return os.getloadavg()[0]


def timed(fn, *args):
    """``fn(*args)``, its wall-clock seconds (and, as ``timed.cpu``, its CPU seconds)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn(*args)
    timed.cpu = time.process_time() - c0
    return out, time.perf_counter() - t0


def vae_scores(detector, X_fit, X_eval, methods):
    """{method: scores} from one fitted detector (statistics refitted per method)."""
    out = {}
    for method in methods:
        # Benchmark-only shortcut: switch the fitted score method instead of refitting
        # the same VAE once per method (the statistics a method needs come from X_fit).
        detector.score_method_ = method
        detector._set_score_statistics(X_fit)
        out[method] = timed(detector.score_samples, X_eval)
    detector.score_method_ = detector.score_method
    return out


def run(args, keep):
    """Fit and score every class; ``keep(rows)`` stores each class's rows as it ends."""
    X_tr, X_ev, y_tr, y_ev = load(args.data, args.split)
    classes = args.classes if args.classes else sorted(np.unique(y_tr))
    methods = (args.methods or list(SCORE_METHODS)) if args.all_methods else [DEFAULT]
    base = {"data": args.data, "split": args.split, "n_eval": len(X_ev)}
    for c in classes:
        rows = []
        X_fit = X_tr[y_tr == c]
        truth = (y_ev == c).astype(int)
        common = {**base, "normal_class": int(c), "n_fit": len(X_fit)}
        for seed in args.seeds:
            detector = VAEOutlierDetector(device="cpu", random_state=seed, verbose=0)
            load1 = load_average()
            _, fit_s = timed(detector.fit, X_fit)
            fit_cpu_s = timed.cpu
            for method, (scores, score_s) in vae_scores(detector, X_fit, X_ev,
                                                        methods).items():
                assert np.all(np.isfinite(scores))
                rows.append({**common, "detector": f"VAEOutlierDetector({method})",
                             "seed": seed,
                             "auroc": roc_auc_score(truth, scores), "fit_s": fit_s,
                             "fit_cpu_s": fit_cpu_s, "score_s": score_s, "load_1min": load1,
                             "n_epochs": detector.n_iter_})
                print(f"{args.data} {args.split} class {c} seed {seed} {method}: "
                      f"AUROC {rows[-1]['auroc']:.3f} (fit {fit_s:.1f} s, load {load1:.1f})",
                      flush=True)
        for name, make in {} if args.no_baselines else BASELINES.items():
            load1 = load_average()
            model, fit_s = timed(make().fit, X_fit)
            fit_cpu_s = timed.cpu
            scores, score_s = timed(model.score_samples, X_ev)
            rows.append({**common, "detector": name, "seed": 0,
                         "auroc": roc_auc_score(truth, scores), "fit_s": fit_s,
                         "fit_cpu_s": fit_cpu_s, "score_s": score_s, "load_1min": load1})
            print(f"{args.data} {args.split} class {c} {name}: AUROC {rows[-1]['auroc']:.3f} "
                  f"(fit {fit_s:.1f} s)", flush=True)
        keep(rows)  # a run stopped half-way keeps the classes it finished


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def _mean(values):
    return float(np.mean(values)) if values else None


def table(rows):
    lines = []
    for (data, split), sub in group(rows, ["data", "split"]).items():
        # The latest run of each detector and class counts (earlier runs stay in the CSV).
        latest = {}
        for r in sub:
            latest.setdefault((r["detector"], r["normal_class"]), {})[r["seed"]] = r
        per = {}  # detector -> class -> mean AUROC over seeds
        for (det, c), by_seed in latest.items():
            per.setdefault(det, {})[c] = _mean([r["auroc"] for r in by_seed.values()])
        classes = sorted({c for d in per.values() for c in d})
        vae_default = f"VAEOutlierDetector({DEFAULT})"
        body = []
        for det, by_class in per.items():
            cells = [by_class.get(c) for c in classes]
            runs = [r for (d, _), s in latest.items() if d == det for r in s.values()]
            n_seeds = len({r["seed"] for r in runs})
            ahead = ""
            if vae_default in per and det != vae_default and split == "test":
                ref = per[vae_default]
                ahead = sum(ref.get(c, -1) > by_class[c] for c in by_class)
                ahead = f"{ahead}/{len(by_class)}"
            body.append([det + (" **default**" if det == vae_default else ""), n_seeds,
                         fmt(_mean([v for v in cells if v is not None]), 3),
                         *[fmt(v, 3) for v in cells],
                         fmt(_median([r.get("fit_s") for r in runs]), 1),
                         fmt(_median([r.get("fit_cpu_s") for r in runs]), 1),
                         fmt(_median([r.get("score_s") for r in runs]), 2),
                         fmt(_median([r.get("load_1min") for r in runs]), 1), ahead])
        body.sort(key=lambda row: -float(row[2] or 0))
        lines += [f"**{data}, {split} split** (n_fit per class: "
                  f"{min(r['n_fit'] for r in sub)}-{max(r['n_fit'] for r in sub)}; "
                  f"rows scored: {sub[0]['n_eval']})", ""]
        lines += markdown(["detector", "seeds", "mean AUROC", *[f"class {c}" for c in classes],
                           "fit s (median)", "fit CPU s (median)", "score s (median)",
                           "load (1 min)", "default ahead on"], body)
        lines.append("")
    return lines


def main(argv=None):
    parser = make_parser(__doc__, threads=1)
    parser.add_argument("--data", choices=["digits", "fashion"], default="digits")
    parser.add_argument("--split", choices=["validation", "test"], default="test")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classes", type=int, nargs="*", default=None)
    parser.add_argument("--all-methods", action="store_true",
                        help="score with every score_method (default: with the split "
                             "'validation', else only the default)")
    parser.add_argument("--methods", nargs="+", choices=sorted(SCORE_METHODS),
                        help="the score methods of --all-methods (default: all)")
    parser.add_argument("--no-baselines", action="store_true")
    args = parser.parse_args(argv)
    args.all_methods = args.all_methods or args.split == "validation"
    command = start(args)
    if not args.report_only:
        stamp = {"date": datetime.date.today().isoformat(), "command": command,
                 "torch": torch.__version__, "threads": torch.get_num_threads(),
                 "note": args.note}
        run(args, lambda rows: append_rows(Path(args.out) / "outliers.csv",
                                           [{**r, **stamp} for r in rows]))
    args.report_only = True  # the rows are in the CSV: rebuild the table from it
    save("outliers", [], args, command, table=table,
         title="One-class novelty detection (AUROC, normal class against the rest)",
         text="Each class in turn is normal: fitted on its training rows, scoring every "
              "evaluation row. `VAEOutlierDetector` with its defaults (`seeds`: one fit "
              "per seed; AUROC averaged over seeds, then classes); the baselines are "
              "deterministic and run once. Times are wall-clock on a shared 2-core "
              "machine busy with other work (the load column), so they are upper "
              "bounds. 'default ahead on': classes where the default's AUROC is higher "
              "than the row's.")


if __name__ == "__main__":
    main()

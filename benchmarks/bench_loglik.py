"""Importance-weighted log-likelihood of Fashion-MNIST test images (nats per image).

Fits ``VAETransformer`` (MLP, Bernoulli likelihood) on the training images, then reports
the mean ``score_samples`` of test images for several ``n_importance_samples`` k: k = 1
is a one-sample ELBO, and the estimate of Burda et al. (2016) rises towards ``log p(x)``
as k grows (they report k = 5,000). Also times each estimate.

``--models vae vampprior --seeds 0 1 2`` compares the VampPrior VAE (Tomczak & Welling
2018: the prior a mixture of the encoder's posteriors at 500 learnt pseudo-inputs) with
the N(0, I) VAE: the same network, epochs and training rows, one fit per model and
seed, and a second table of the paired difference (VampPrior minus VAE, same seed, same
test images). The paper reports a gain of a few nats on MNIST.

    python benchmarks/bench_loglik.py --n-train 20000 --epochs 30 --n-test 1000 --k 1 50 5000
    python benchmarks/bench_loglik.py --n-train 10000 --epochs 30 --n-test 2000 --k 1 100 \\
        --models vae vampprior --seeds 0 1 2

Appends to ``benchmarks/results/loglik.csv``; rebuilds ``loglik.md``.
"""

import statistics

from _common import fmt, group, make_parser, markdown, median, save, start

from skvae import VAETransformer
from skvae._experiment import load_fashion_mnist_split, timed

SETTINGS = ("n_train", "epochs", "n_components", "beta_warmup", "n_test")


def run(args):
    X_tr, X_te, _, _ = load_fashion_mnist_split(args.n_train, args.n_test)
    rows = []
    for seed in args.seeds:
        for model in args.models:
            # The plain VAE (beta=1): its loss is the negative ELBO whose bound
            # score_samples tightens; the VampPrior is the same VAE with its own prior.
            vae = VAETransformer(n_components=args.n_components,
                                 hidden_layer_sizes=(512, 256), beta=1.0,
                                 max_iter=args.epochs, beta_warmup=args.beta_warmup,
                                 batch_size=256, device="cpu", random_state=seed,
                                 model=model)
            vae, fit_s = timed(vae.fit, X_tr)
            for k in args.k:
                # n_importance_samples is read when score_samples runs: no refit needed.
                scores, score_s = timed(vae.set_params(n_importance_samples=k).score_samples,
                                        X_te)
                rows.append({"n_train": len(X_tr), "epochs": args.epochs,
                             "n_components": args.n_components,
                             "beta_warmup": args.beta_warmup, "n_test": len(X_te),
                             "model": model, "k": k, "seed": seed, "fit_s": fit_s,
                             "nats_per_image": float(scores.mean()), "score_s": score_s})
                print(f"{model} seed {seed} k={k}: {scores.mean():.2f} nats per image "
                      f"(fit {fit_s:.0f} s, score {score_s:.1f} s)", flush=True)
    return rows


def _model(row):
    return row.get("model") or "vae"  # rows from before the column: the VAE


def table(rows):
    body, pairs = [], []
    for settings, sub in group(rows, SETTINGS).items():
        for (model, k), cell in group([{**r, "model": _model(r)} for r in sub],
                                      ["model", "k"]).items():
            body.append([*settings, model, k, len(cell),
                         fmt(median(cell, "nats_per_image"), 2),
                         fmt(median(cell, "fit_s"), 0), fmt(median(cell, "score_s"), 1)])
        by_seed = {(_model(r), r["k"], r["seed"]): r["nats_per_image"] for r in sub}
        for k in sorted({r["k"] for r in sub}):
            diffs = [by_seed[("vampprior", k, s)] - by_seed[("vae", k, s)]
                     for (m, kk, s) in by_seed if m == "vampprior" and kk == k
                     and ("vae", k, s) in by_seed]
            if diffs:
                pairs.append([*settings, k, len(diffs), fmt(statistics.mean(diffs), 2),
                              fmt(min(diffs), 2), fmt(max(diffs), 2),
                              sum(d > 0 for d in diffs)])
    lines = markdown(["train rows", "epochs", "n_components", "KL warm-up", "test rows",
                      "model", "k", "seeds", "log p(x) estimate (nats/image, median)",
                      "fit s", "score s"], body)
    if pairs:
        lines += ["", "VampPrior minus the N(0, I) VAE, paired by seed (nats per image; "
                  "positive: the VampPrior is better):", ""]
        lines += markdown(["train rows", "epochs", "n_components", "KL warm-up",
                           "test rows", "k", "seeds", "mean difference", "min", "max",
                           "seeds VampPrior ahead"], pairs)
    return lines


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-components", type=int, default=32)
    parser.add_argument("--beta-warmup", type=int, default=0)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 50, 5000])
    parser.add_argument("--models", nargs="+", default=["vae"], choices=["vae", "vampprior"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    command = start(args)
    save("loglik", [] if args.report_only else run(args), args, command, table=table,
         title="Importance-weighted log-likelihood, Fashion-MNIST test images",
         text="Higher is better; every k of a model and seed scores the same fitted VAE. "
              "k = 1 is a one-sample ELBO; larger k tighten the bound towards log p(x) "
              "(Burda et al. 2016).")


if __name__ == "__main__":
    main()

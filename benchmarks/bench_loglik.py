"""Importance-weighted log-likelihood of Fashion-MNIST test images (nats per image).

Fits one ``VAETransformer`` (MLP, Bernoulli likelihood) on the training images, then
reports the mean ``score_samples`` of test images for several ``n_importance_samples``
k: k = 1 is a one-sample ELBO, and the estimate of Burda et al. (2016) rises towards
``log p(x)`` as k grows (they report k = 5,000). Also times each estimate.

    python benchmarks/bench_loglik.py --n-train 20000 --epochs 30 --n-test 1000 --k 1 50 5000

Appends to ``benchmarks/results/loglik.csv``; rebuilds ``loglik.md``.
"""

from _common import fmt, group, make_parser, markdown, median, save, start

from skvae import VAETransformer
from skvae._experiment import load_fashion_mnist_split, timed

SETTINGS = ("n_train", "epochs", "n_components", "beta_warmup", "n_test")


def run(args):
    X_tr, X_te, _, _ = load_fashion_mnist_split(args.n_train, args.n_test)
    # The plain VAE (beta=1, the transformer's default before issue 9): its loss is the
    # negative ELBO whose bound score_samples tightens.
    vae = VAETransformer(n_components=args.n_components, hidden_layer_sizes=(512, 256),
                         beta=1.0, max_iter=args.epochs, beta_warmup=args.beta_warmup,
                         batch_size=256, device="cpu", random_state=0)
    vae, fit_s = timed(vae.fit, X_tr)
    rows = []
    for k in args.k:
        # n_importance_samples is read when score_samples runs: no refit needed.
        scores, score_s = timed(vae.set_params(n_importance_samples=k).score_samples, X_te)
        rows.append({"n_train": len(X_tr), "epochs": args.epochs,
                     "n_components": args.n_components, "beta_warmup": args.beta_warmup,
                     "n_test": len(X_te), "k": k, "seed": 0, "fit_s": fit_s,
                     "nats_per_image": float(scores.mean()), "score_s": score_s})
        print(f"k={k}: {scores.mean():.2f} nats per image ({score_s:.1f} s)", flush=True)
    return rows


def table(rows):
    body = []
    for settings, sub in group(rows, SETTINGS).items():
        for (k,), cell in group(sub, ["k"]).items():
            body.append([*settings, k, fmt(median(cell, "nats_per_image"), 2),
                         fmt(median(cell, "score_s"), 1)])
    return markdown(["train rows", "epochs", "n_components", "KL warm-up", "test rows", "k",
                     "log p(x) estimate (nats/image)", "score s"], body)


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n-components", type=int, default=32)
    parser.add_argument("--beta-warmup", type=int, default=0)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 50, 5000])
    args = parser.parse_args(argv)
    command = start(args)
    save("loglik", [] if args.report_only else run(args), args, command, table=table,
         title="Importance-weighted log-likelihood, Fashion-MNIST test images",
         text="Higher is better; every k scores the same fitted VAE. k = 1 is a one-sample "
              "ELBO; larger k tighten the bound towards log p(x) (Burda et al. 2016).")


if __name__ == "__main__":
    main()

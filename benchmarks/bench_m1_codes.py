"""How good is an unsupervised VAE's code for few-label classification? (Fashion-MNIST)

Fits one ``VAETransformer`` (M1) on the 60,000 training images without labels, then an
SVC(rbf, C=10) on the codes of 100, 1,000 and 10,000 labelled images (stratified draw,
seed 0), scored on the 10,000 test images. Also counts the code's active dimensions
(posterior-mean variance over the training set above 0.02): with ``beta=1`` a VAE on
Fashion-MNIST leaves most of them unused. This is the probe that chose the M1 of
``bench_semisupervised.py``.

    python benchmarks/bench_m1_codes.py --arch mlp --beta 1.0
    python benchmarks/bench_m1_codes.py --arch mlp --beta 0.1
    python benchmarks/bench_m1_codes.py --arch conv --beta 0.1 --epochs 20
    python benchmarks/bench_m1_codes.py --arch mlp --beta 1.0 --beta-warmup 10

``--beta-warmup N`` raises the KL weight linearly from 0 over the first N epochs (KL
warm-up, ``VAETransformer(beta_warmup=N)``), the standard cure for inactive units.

Appends to ``benchmarks/results/m1_codes.csv`` (one row per label count); rebuilds
``m1_codes.md``.
"""

from _common import fmt, group, make_parser, markdown, median, save, start
from sklearn.svm import SVC

from skvae import VAETransformer
from skvae._experiment import draw_labelled, load_fashion_mnist_split, timed

SETTINGS = ("arch", "n_components", "beta", "beta_warmup", "epochs", "n_train")


def run(args):
    X_tr, X_te, y_tr, y_te = load_fashion_mnist_split(args.n_train, args.n_test)
    arch = ({"hidden_layer_sizes": (512, 256)} if args.arch == "mlp"
            else {"architecture": "conv", "hidden_layer_sizes": (256,)})
    m1 = VAETransformer(n_components=args.n_components, beta=args.beta, max_iter=args.epochs,
                        beta_warmup=args.beta_warmup, batch_size=256, device="cpu",
                        random_state=0, **arch)
    m1, fit_s = timed(m1.fit, X_tr)
    Z_tr, Z_te = m1.transform(X_tr), m1.transform(X_te)
    active = int((Z_tr.var(axis=0) > 0.02).sum())
    rows = []
    for n in args.labels:
        lab = draw_labelled(y_tr, n, random_state=0)
        acc = SVC(C=10).fit(Z_tr[lab], y_tr[lab]).score(Z_te, y_te)
        rows.append({"arch": args.arch, "n_components": args.n_components, "beta": args.beta,
                     "beta_warmup": args.beta_warmup,
                     "epochs": args.epochs, "n_train": len(X_tr), "n_test": len(X_te),
                     "seed": 0, "n_labelled": n, "active_dims": active, "m1_fit_s": fit_s,
                     "accuracy": acc})
        print(f"{n} labels: code SVC accuracy {acc:.4f}", flush=True)
    return rows


def table(rows):
    labels = sorted({r["n_labelled"] for r in rows})
    body = []
    for (arch, dims, beta, warmup, epochs, n_train), sub in group(rows, SETTINGS).items():
        by_n = group(sub, ["n_labelled"])
        body.append([arch, beta, warmup or 0, epochs, n_train,
                     f"{median(sub, 'active_dims'):g} of {dims}",
                     fmt(median(sub, "m1_fit_s"), 0)]
                    + [fmt(median(by_n.get((n,), []), "accuracy"), 3) for n in labels])
    return markdown(["M1", "beta", "KL warm-up", "epochs", "train rows", "active dims",
                     "M1 fit (s)"]
                    + [f"{n} labels" for n in labels], body)


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--arch", choices=["mlp", "conv"], default="mlp")
    parser.add_argument("--n-components", type=int, default=50)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--beta-warmup", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--labels", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    args = parser.parse_args(argv)
    command = start(args)
    save("m1_codes", [] if args.report_only else run(args), args, command, table=table,
         title="SVC(rbf, C=10) on an unsupervised VAE's code, Fashion-MNIST",
         text="Labels drawn with seed 0 (stratified); test accuracy on the test images. "
              "SVC on the raw pixels with the same labels: `semisupervised.csv`, "
              "model `SVC(rbf, C=10), labelled rows only`, seed 0.")


if __name__ == "__main__":
    main()

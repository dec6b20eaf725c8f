"""The ``skvae`` command (also ``python -m skvae``).

``skvae compare`` fits, on one dataset, an SVC on the raw inputs against
``VAETransformer -> SVC`` and ``VAETransformer -> LogisticRegression``, and prints
test accuracy, fit seconds and predict seconds for each, side by side.
"""

import argparse
import sys
import time

import numpy as np

__all__ = ["main", "run_comparison", "format_table"]

DATASETS = ("digits", "fashion-mnist")


def load_dataset(name, n_train=None, random_state=0):
    """Return ``X_train, X_test, y_train, y_test, image_shape, target_names``.

    ``digits``: sklearn's 8x8 digits scaled to [0, 1], 30 % held out (stratified).
    ``fashion-mnist``: the official 60k/10k split from local IDX files (see
    :func:`skvae.datasets.fetch_fashion_mnist`).
    ``n_train`` keeps a stratified subset of that many training rows.
    """
    from sklearn.model_selection import train_test_split

    if name == "digits":
        from sklearn.datasets import load_digits

        data = load_digits()
        X, y = data.data / 16.0, data.target
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=random_state, stratify=y
        )
        shape, names = (1, 8, 8), [str(t) for t in data.target_names]
    elif name == "fashion-mnist":
        from .datasets import fetch_fashion_mnist

        train = fetch_fashion_mnist(subset="train")
        test = fetch_fashion_mnist(subset="test")
        X_train, y_train, X_test, y_test = train.data, train.target, test.data, test.target
        shape, names = (1, 28, 28), list(train.target_names)
    else:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {DATASETS}.")
    if n_train is not None and n_train < len(X_train):
        X_train, _, y_train, _ = train_test_split(
            X_train, y_train, train_size=n_train, random_state=random_state, stratify=y_train
        )
    return X_train, X_test, y_train, y_test, shape, names


def run_comparison(X_train, y_train, X_test, y_test, *, n_components=16, max_iter=100,
                   beta=1.0, device="auto", random_state=0, log=None):
    """Fit each model and measure it.

    The two pipelines share one trained ``VAETransformer``: it is fitted once, and
    its fit (and transform) time is counted in both rows, as if each pipeline had
    been fitted on its own.

    Returns
    -------
    rows : list of dict
        ``model``, ``accuracy``, ``fit_s``, ``predict_s`` and the fitted ``estimator``.

    Examples
    --------
    >>> from skvae.cli import load_dataset, run_comparison
    >>> Xtr, Xte, ytr, yte, _, _ = load_dataset("digits", n_train=300)
    >>> rows = run_comparison(Xtr, ytr, Xte, yte, n_components=4, max_iter=2)
    >>> [row["model"] for row in rows][0]
    'SVC(rbf, C=10) on pixels'
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    from ._transformer import VAETransformer

    def timed(fn, *args):
        t0 = time.perf_counter()
        out = fn(*args)
        return out, time.perf_counter() - t0

    log = log or (lambda msg: None)
    rows = []
    log("fitting SVC(rbf, C=10) on pixels ...")
    svc, fit_s = timed(SVC(C=10).fit, X_train, y_train)
    y_pred, predict_s = timed(svc.predict, X_test)
    rows.append({"model": "SVC(rbf, C=10) on pixels", "estimator": svc,
                 "accuracy": float(np.mean(y_pred == y_test)), "fit_s": fit_s,
                 "predict_s": predict_s})

    log(f"fitting VAETransformer(n_components={n_components}) ...")
    vae = VAETransformer(n_components=n_components, max_iter=max_iter, beta=beta,
                         device=device, random_state=random_state)
    _, vae_fit_s = timed(vae.fit, X_train)
    Z_train, train_transform_s = timed(vae.transform, X_train)
    Z_test, test_transform_s = timed(vae.transform, X_test)
    heads = {"SVC(C=10)": SVC(C=10), "LogisticRegression": LogisticRegression(max_iter=2000)}
    for head_name, head in heads.items():
        log(f"fitting {head_name} on the latent code ...")
        _, head_fit_s = timed(head.fit, Z_train, y_train)
        y_pred, head_predict_s = timed(head.predict, Z_test)
        rows.append({
            "model": f"VAETransformer({n_components}) -> {head_name}",
            "estimator": Pipeline([("vae", vae), ("head", head)]),
            "accuracy": float(np.mean(y_pred == y_test)),
            "fit_s": vae_fit_s + train_transform_s + head_fit_s,
            "predict_s": test_transform_s + head_predict_s,
        })
    return rows


def format_table(rows):
    """Render comparison rows as a Markdown table."""
    lines = ["| model | test accuracy | fit s | predict s |", "|---|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['accuracy']:.4f} | {row['fit_s']:.1f} "
                     f"| {row['predict_s']:.2f} |")
    return "\n".join(lines)


def _plot(path, rows, X_train, y_train, X_test, y_test, image_shape, names, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._transformer import VAETransformer
    from .plotting import plot_latent, plot_reconstructions

    fig, (ax_map, ax_rec) = plt.subplots(
        1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1, 1.4]}
    )
    # A separate 2-D VAE, so the map shows a true latent plane rather than a projection.
    vae2 = VAETransformer(n_components=2, max_iter=args.max_iter, beta=args.beta,
                          device=args.device, random_state=args.random_state).fit(X_train)
    n_show = min(len(X_test), 2000)
    plot_latent(vae2.transform(X_test[:n_show]), y_test[:n_show], ax=ax_map,
                target_names=names, title=f"2-D VAE latent map ({args.dataset}, test set)")
    vae = rows[1]["estimator"][0]
    plot_reconstructions(vae, X_test, image_shape=image_shape, n_images=12, ax=ax_rec,
                         title=f"VAETransformer({args.n_components}): test originals (top), "
                               "reconstructions (bottom)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _parser():
    parser = argparse.ArgumentParser(
        prog="skvae",
        description="Variational autoencoders as scikit-learn estimators.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser(
        "compare",
        help="compare SVC on raw inputs with VAETransformer -> SVC / LogisticRegression",
        description=(
            "Fit three models on one dataset and print test accuracy, fit seconds and "
            "predict seconds for each: SVC(rbf, C=10) on the raw inputs, "
            "VAETransformer -> SVC(C=10), and VAETransformer -> LogisticRegression. "
            "Fit time of a pipeline includes training the VAE."
        ),
        epilog=(
            "examples:\n"
            "  skvae compare                                 # digits, about a minute on CPU\n"
            "  skvae compare --plot compare.png              # also save latent map + recons\n"
            "  skvae compare --dataset fashion-mnist --n-train 10000\n"
            "Fashion-MNIST is read from local IDX files: apt-get install "
            "dataset-fashion-mnist,\nor set SKVAE_DATA to a folder holding the four .gz files."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmp.add_argument("--dataset", choices=DATASETS, default="digits",
                     help="digits (sklearn's 8x8, ships with scikit-learn; default) or "
                          "fashion-mnist (60k/10k, local files)")
    cmp.add_argument("--n-train", type=int, default=None, metavar="N",
                     help="train on a stratified subset of N rows (default: all of digits; "
                          "10000 of Fashion-MNIST, whose full 60k SVC takes minutes)")
    cmp.add_argument("--n-components", type=int, default=16, help="latent size (default 16)")
    cmp.add_argument("--max-iter", type=int, default=100, help="VAE epochs (default 100)")
    cmp.add_argument("--beta", type=float, default=1.0, help="KL weight (default 1.0)")
    cmp.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    cmp.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    cmp.add_argument("--plot", metavar="FILE",
                     help="save a figure: 2-D latent map coloured by class and reconstructions")
    return parser


def main(argv=None):
    """Entry point of the ``skvae`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    n_train = args.n_train
    if n_train is None and args.dataset == "fashion-mnist":
        n_train = 10000
    if n_train is not None and n_train < 20:
        print("skvae: error: --n-train must be at least 20", file=sys.stderr)
        return 2
    try:
        X_train, X_test, y_train, y_test, shape, names = load_dataset(
            args.dataset, n_train, args.random_state
        )
    except FileNotFoundError as exc:
        print(f"skvae: error: {exc}", file=sys.stderr)
        return 1

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    log(f"{args.dataset}: {len(X_train)} training rows, {len(X_test)} test rows, "
        f"{X_train.shape[1]} features")
    try:
        rows = run_comparison(
            X_train, y_train, X_test, y_test, n_components=args.n_components,
            max_iter=args.max_iter, beta=args.beta, device=args.device,
            random_state=args.random_state, log=log,
        )
    except ValueError as exc:
        print(f"skvae: error: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    if args.plot:
        _plot(args.plot, rows, X_train, y_train, X_test, y_test, shape, names, args)
        log(f"figure saved to {args.plot}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

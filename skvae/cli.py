"""The ``skvae`` command (also ``python -m skvae``).

``skvae compare`` fits, on one dataset, an SVC on the raw inputs against
``VAETransformer -> SVC`` and ``VAETransformer -> LogisticRegression``, and prints
test accuracy, fit seconds and predict seconds for each, side by side.

``skvae compare --labels N [N ...]`` tells the semi-supervised story instead: it keeps N
labels of the training rows (the others become unlabelled, ``-1``) and compares, for each
N, an SVC on the labelled rows, ``LabelSpreading``, self-training, ``VAETransformer -> SVC``
(the VAE learns from every row, the SVC from the labelled ones) and ``VAEClassifier``.

Every error is one ``skvae: error: ...`` line on stderr and exit status 2.
"""

import argparse
import math
import os
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["main", "run_comparison", "run_semisupervised", "hide_labels", "format_table"]

DATASETS = ("digits", "fashion-mnist")
_MIN_TRAIN = 20
_MAX_SEED = 2**32 - 1


class CommandError(Exception):
    """A mistake in the command line, found after parsing; shown as one error line."""


def _stratified_indices(y, n, random_state):
    """Indices of a stratified draw of ``n`` rows of ``y`` without replacement."""
    from sklearn.utils import resample

    return resample(np.arange(len(y)), n_samples=n, replace=False, stratify=y,
                    random_state=random_state)


def load_dataset(name, n_train=None, random_state=0):
    """Return ``X_train, X_test, y_train, y_test, image_shape, target_names``.

    ``digits``: sklearn's 8x8 digits scaled to [0, 1], 30 % held out (stratified).
    ``fashion-mnist``: the official 60k/10k split from local IDX files (see
    :func:`skvae.datasets.fetch_fashion_mnist`).
    ``n_train`` keeps a stratified subset of that many training rows; asking for more
    rows than the training set has is a ``ValueError``.
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
    if n_train is not None:
        if n_train > len(X_train):
            raise ValueError(
                f"cannot keep {n_train} training rows: {name} has {len(X_train)} "
                f"(ask for at most {len(X_train)})."
            )
        if n_train < len(X_train):
            keep = _stratified_indices(y_train, n_train, random_state)
            X_train, y_train = X_train[keep], y_train[keep]
    return X_train, X_test, y_train, y_test, shape, names


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _given(**params):
    """The parameters that are not None (None: keep the estimator's default)."""
    return {k: v for k, v in params.items() if v is not None}


def run_comparison(X_train, y_train, X_test, y_test, *, n_components=None, max_iter=None,
                   beta=None, device="auto", random_state=0, log=None):
    """Fit each model and measure it.

    The two pipelines share one trained ``VAETransformer``: it is fitted once, and
    its fit (and transform) time is counted in both rows, as if each pipeline had
    been fitted on its own. ``n_components``, ``max_iter`` and ``beta`` set the
    ``VAETransformer``'s; None keeps its defaults.

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

    log = log or (lambda msg: None)
    rows = []
    log("fitting SVC(rbf, C=10) on pixels ...")
    svc, fit_s = _timed(SVC(C=10).fit, X_train, y_train)
    y_pred, predict_s = _timed(svc.predict, X_test)
    rows.append({"model": "SVC(rbf, C=10) on pixels", "estimator": svc,
                 "accuracy": float(np.mean(y_pred == y_test)), "fit_s": fit_s,
                 "predict_s": predict_s})

    vae = VAETransformer(**_given(n_components=n_components, max_iter=max_iter, beta=beta),
                         device=device, random_state=random_state)
    log(f"fitting VAETransformer(n_components={vae.n_components}) ...")
    _, vae_fit_s = _timed(vae.fit, X_train)
    Z_train, train_transform_s = _timed(vae.transform, X_train)
    Z_test, test_transform_s = _timed(vae.transform, X_test)
    heads = {"SVC(C=10)": SVC(C=10), "LogisticRegression": LogisticRegression(max_iter=2000)}
    for head_name, head in heads.items():
        log(f"fitting {head_name} on the latent code ...")
        _, head_fit_s = _timed(head.fit, Z_train, y_train)
        y_pred, head_predict_s = _timed(head.predict, Z_test)
        rows.append({
            "model": f"VAETransformer({vae.n_components_}) -> {head_name}",
            "estimator": Pipeline([("vae", vae), ("head", head)]),
            "accuracy": float(np.mean(y_pred == y_test)),
            "fit_s": vae_fit_s + train_transform_s + head_fit_s,
            "predict_s": test_transform_s + head_predict_s,
        })
    return rows


def hide_labels(y, n_labels, random_state=0):
    """Keep ``n_labels`` labels of ``y`` (a stratified draw) and mark the rest unlabelled.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Integer class labels, all known.
    n_labels : int
        How many labels to keep, from 1 to ``n_samples``. They are drawn without
        replacement and stratified: each class keeps about its share of ``n_labels``.
    random_state : int, RandomState instance or None, default=0
        Seeds the draw.

    Returns
    -------
    y_semi : ndarray of shape (n_samples,)
        A copy of ``y`` in which every row but the ``n_labels`` kept is ``-1``, the
        scikit-learn (and skvae) marker of an unlabelled row.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae.cli import hide_labels
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> y_semi = hide_labels(y, 4, random_state=0)
    >>> int((y_semi == -1).sum()), sorted(y_semi[y_semi != -1].tolist())
    (4, [0, 0, 1, 1])
    """
    y = np.asarray(y)
    if not 1 <= n_labels <= len(y):
        raise ValueError(f"n_labels must be between 1 and {len(y)}, got {n_labels}.")
    keep = _stratified_indices(y, n_labels, random_state)
    y_semi = np.full(y.shape, -1, dtype=np.result_type(y.dtype, np.int8))
    y_semi[keep] = y[keep]
    return y_semi


def run_semisupervised(X_train, y_train, X_test, y_test, n_labels, *, n_components=None,
                       max_iter=None, beta=None, device="auto", random_state=0, log=None):
    """Compare semi-supervised learners when only some training labels are known.

    For each count in ``n_labels`` the labels of all but that many training rows are
    hidden (:func:`hide_labels`, stratified, seeded by ``random_state``), and five models
    are fitted and scored on the test set:

    - ``SVC(C=10)`` on the labelled rows only (the supervised baseline);
    - ``LabelSpreading()`` with scikit-learn's defaults, on all rows;
    - ``SelfTrainingClassifier(SVC(C=10, probability=True))``, on all rows;
    - ``VAETransformer -> SVC(C=10)``: the VAE learns from every training row (it needs
      no labels), the SVC from the labelled rows' codes;
    - ``VAEClassifier`` with its defaults, on all rows (labelled and unlabelled).

    The models run with their defaults, as a user would first try them. Note that
    ``LabelSpreading``'s default RBF kernel (``gamma=20``) suits short distances such as
    those of the 64 digits pixels; on the 784 pixels of Fashion-MNIST every affinity
    underflows to 0 and it predicts at chance level (scikit-learn warns of a division by
    zero).

    The ``VAETransformer`` does not depend on the labels, so it is fitted once; its fit
    and transform times are counted in the row of every count, as if it had been fitted
    for each.

    Parameters
    ----------
    X_train : ndarray of shape (n_samples, n_features)
        Training inputs, in [0, 1] for the default Bernoulli likelihood.
    y_train : ndarray of shape (n_samples,)
        All training labels (some are hidden here).
    X_test : ndarray of shape (n_test, n_features)
        Test inputs.
    y_test : ndarray of shape (n_test,)
        Test labels.
    n_labels : int or sequence of int
        How many training labels to keep; one comparison per count.
    n_components : int, default=None
        Latent size of both VAEs; None keeps each estimator's default.
    max_iter : int, default=None
        Training epochs of both VAEs; None keeps each estimator's default (``'auto'``).
    beta : float, default=None
        KL weight of both VAEs; None keeps each estimator's default.
    device : str, default='auto'
        Device of both VAEs: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    random_state : int, default=0
        Seeds the label draw, the VAEs and the SVC's probability calibration.
    log : callable, default=None
        Called with a progress message before each fit.

    Returns
    -------
    rows : list of dict
        One per model and count, counts in the given order: ``n_labels``, ``model``,
        ``accuracy`` (on the test set), ``fit_s``, ``predict_s`` and the fitted
        ``estimator``.

    See Also
    --------
    run_comparison : The same kind of table with every training label known.

    Examples
    --------
    >>> from skvae.cli import load_dataset, run_semisupervised
    >>> Xtr, Xte, ytr, yte, _, _ = load_dataset("digits", n_train=200)
    >>> rows = run_semisupervised(Xtr, ytr, Xte, yte, [30, 60], n_components=4,
    ...                           max_iter=2, device="cpu")
    >>> len(rows), rows[0]["n_labels"], rows[0]["model"]
    (10, 30, 'SVC(rbf, C=10) on labelled pixels')
    >>> all(0.0 <= row["accuracy"] <= 1.0 for row in rows)
    True
    """
    from sklearn.pipeline import Pipeline
    from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
    from sklearn.svm import SVC

    from ._classifier import VAEClassifier
    from ._transformer import VAETransformer

    log = log or (lambda msg: None)
    counts = [int(n_labels)] if np.ndim(n_labels) == 0 else [int(n) for n in n_labels]
    shared = {"device": device, "random_state": random_state,
              **_given(n_components=n_components, max_iter=max_iter, beta=beta)}

    log(f"fitting VAETransformer on all {len(X_train)} training rows (no labels) ...")
    vae = VAETransformer(**shared)
    _, vae_fit_s = _timed(vae.fit, X_train)
    Z_train, train_transform_s = _timed(vae.transform, X_train)
    Z_test, test_transform_s = _timed(vae.transform, X_test)

    def accuracy(y_pred):
        return float(np.mean(y_pred == y_test))

    rows = []
    for n in counts:
        y_semi = hide_labels(y_train, n, random_state=random_state)
        labelled = y_semi != -1
        log(f"{n} labels ({100 * n / len(y_semi):.1f} % of {len(y_semi)} training rows):")

        def add(model, estimator, fit_s, y_pred, predict_s, n=n):
            rows.append({"n_labels": n, "model": model, "estimator": estimator,
                         "accuracy": accuracy(y_pred), "fit_s": fit_s,
                         "predict_s": predict_s})

        models = [
            ("SVC(rbf, C=10) on labelled pixels", SVC(C=10), True),
            ("LabelSpreading()", LabelSpreading(), False),
            ("SelfTraining(SVC(C=10))",
             SelfTrainingClassifier(SVC(C=10, probability=True, random_state=random_state)),
             False),
        ]
        for name, model, labelled_only in models:
            log(f"  fitting {name} ...")
            with warnings.catch_warnings():
                # scikit-learn 1.9 deprecates SVC(probability=True); self-training with it
                # beats CalibratedClassifierCV(SVC(), ensemble=False) on few labels, so
                # keep it while it is there.
                warnings.filterwarnings("ignore", message="The `probability` parameter",
                                        category=FutureWarning)
                if labelled_only:
                    _, fit_s = _timed(model.fit, X_train[labelled], y_semi[labelled])
                else:
                    _, fit_s = _timed(model.fit, X_train, y_semi)
                y_pred, predict_s = _timed(model.predict, X_test)
            add(name, model, fit_s, y_pred, predict_s)

        log(f"  fitting SVC(C=10) on the VAETransformer({vae.n_components}) code ...")
        head = SVC(C=10)
        _, head_fit_s = _timed(head.fit, Z_train[labelled], y_semi[labelled])
        y_pred, head_predict_s = _timed(head.predict, Z_test)
        add(f"VAETransformer({vae.n_components}) -> SVC(C=10)",
            Pipeline([("vae", vae), ("head", head)]),
            vae_fit_s + train_transform_s + head_fit_s, y_pred,
            test_transform_s + head_predict_s)

        clf = VAEClassifier(**shared)
        log(f"  fitting VAEClassifier({clf.n_components}) ...")
        _, fit_s = _timed(clf.fit, X_train, y_semi)
        y_pred, predict_s = _timed(clf.predict, X_test)
        add(f"VAEClassifier({clf.n_components})", clf, fit_s, y_pred, predict_s)
    return rows


def format_table(rows):
    """Render comparison rows as a Markdown table.

    Rows from :func:`run_semisupervised` (with an ``n_labels`` key) get a ``labels``
    column first.
    """
    with_labels = any("n_labels" in row for row in rows)
    head = "| model | test accuracy | fit s | predict s |"
    rule = "|---|---:|---:|---:|"
    if with_labels:
        head, rule = "| labels " + head, "|---:" + rule
    lines = [head, rule]
    for row in rows:
        first = f"| {row['n_labels']} " if with_labels else ""
        lines.append(f"{first}| {row['model']} | {row['accuracy']:.4f} | {row['fit_s']:.2f} "
                     f"| {row['predict_s']:.2f} |")
    return "\n".join(lines)


def _format_accuracy_by_labels(rows):
    """Markdown table of test accuracy: one row per model, one column per label count."""
    counts = list(dict.fromkeys(row["n_labels"] for row in rows))
    models = list(dict.fromkeys(row["model"] for row in rows))
    acc = {(row["model"], row["n_labels"]): row["accuracy"] for row in rows}
    lines = ["| test accuracy with N labels | " + " | ".join(str(n) for n in counts) + " |",
             "|---|" + "---:|" * len(counts)]
    for model in models:
        cells = " | ".join(f"{acc[model, n]:.4f}" for n in counts)
        lines.append(f"| {model} | {cells} |")
    return "\n".join(lines)


def _check_plot_path(path, *, labels):
    """Check ``--plot FILE`` before any training; return ``(path, format)``.

    The folder must exist and be writable, FILE must not be a folder, and its extension
    must name a format matplotlib can write (the format is passed to ``savefig``, so the
    file written is exactly FILE, never FILE plus an added extension).
    """
    try:
        import matplotlib
    except ImportError:
        raise CommandError(
            "--plot needs matplotlib, which is not installed: pip install matplotlib "
            "(or pip install 'skvae[plot]')"
        ) from None
    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    if labels is not None and len(labels) < 2:
        raise CommandError(
            "--plot with --labels draws test accuracy against the number of labels: give "
            "at least two counts, e.g. --labels 50 100 250"
        )
    formats = FigureCanvasBase.get_supported_filetypes()
    known = ", ".join(sorted(formats))
    path = Path(path).expanduser()
    if path.is_dir():
        raise CommandError(f"--plot {path}: is a folder; give a file name such as "
                           f"{path / 'compare.png'}")
    fmt = path.suffix[1:].lower()
    if not fmt:
        raise CommandError(f"--plot {path}: no extension to tell the image format; end the "
                           f"name with one of: {known}")
    if fmt not in formats:
        raise CommandError(f"--plot {path}: matplotlib cannot write '.{fmt}' files; end the "
                           f"name with one of: {known}")
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(f"--plot {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"--plot {path}: the folder {folder} is not writable")
    return path, fmt


def _plot(path, fmt, rows, X_train, X_test, y_test, image_shape, names, args):
    import matplotlib.pyplot as plt

    from ._transformer import VAETransformer
    from .plotting import plot_latent, plot_reconstructions

    fig, (ax_map, ax_rec) = plt.subplots(
        1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1, 1.4]}
    )
    # A separate 2-D VAE, so the map shows a true latent plane rather than a projection.
    vae2 = VAETransformer(n_components=2, **_given(max_iter=args.max_iter, beta=args.beta),
                          device=args.device, random_state=args.random_state).fit(X_train)
    n_show = min(len(X_test), 2000)
    plot_latent(vae2.transform(X_test[:n_show]), y_test[:n_show], ax=ax_map,
                target_names=names, title=f"2-D VAE latent map ({args.dataset}, test set)")
    vae = rows[1]["estimator"][0]
    plot_reconstructions(vae, X_test, image_shape=image_shape, n_images=12, ax=ax_rec,
                         title=f"VAETransformer({vae.n_components}): test originals (top), "
                               "reconstructions (bottom)")
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=120)
    plt.close(fig)


def _plot_labels(path, fmt, rows, n_train, dataset):
    """Test accuracy against the number of labels (log x axis), one line per model."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for model in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == model]
        ax.plot([row["n_labels"] for row in mine], [row["accuracy"] for row in mine],
                marker="o", label=model)
    counts = sorted({row["n_labels"] for row in rows})
    ax.set_xscale("log")
    ax.set_xticks(counts, [str(n) for n in counts])
    ax.minorticks_off()
    ax.set_xlabel(f"labelled training rows (of {n_train})")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{dataset}: semi-supervised comparison")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, format=fmt, dpi=120)
    plt.close(fig)


class _Parser(argparse.ArgumentParser):
    """argparse, but every error is the single line ``skvae: error: ...``, status 2."""

    def error(self, message):
        self.exit(2, f"skvae: error: {message}\n")


def _int_in(low, high=None, what="an integer"):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} expected, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value

    return parse


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number expected, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _label_amount(text):
    """``--labels`` value: a count (an integer >= 1) or a fraction in (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a count or a fraction below 1 expected, got {text!r}") from None
    if 0 < value < 1:
        return value
    if not math.isfinite(value) or value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(
            f"each N must be a count (a whole number >= 2) or a fraction of the training "
            f"rows between 0 and 1, got {text}")
    return int(value)


def _label_counts(amounts, y_train):
    """Turn ``--labels`` values into distinct counts (ascending); raise CommandError."""
    n_rows = len(y_train)
    counts = []
    for amount in amounts:
        n = round(amount * n_rows) if isinstance(amount, float) else amount
        given = f"{amount} (= {n} of {n_rows} rows)" if isinstance(amount, float) else str(n)
        if n > n_rows:
            raise CommandError(f"--labels {given}: more labels than the {n_rows} training "
                               "rows (see --n-train)")
        if n < 2:
            raise CommandError(f"--labels {given}: a classifier needs at least 2 labels, of "
                               "2 classes")
        counts.append(n)
    return sorted(set(counts))


def _paragraphs(*texts):
    """Help text: each paragraph wrapped to 79 columns (the raw formatter keeps it so)."""
    return "\n\n".join(textwrap.fill(text, 79) for text in texts)


def _parser():
    parser = _Parser(
        prog="skvae",
        description="Variational autoencoders as scikit-learn estimators.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmp = sub.add_parser(
        "compare",
        help="compare SVC on raw inputs with VAETransformer -> SVC / LogisticRegression",
        description=_paragraphs(
            "Fit three models on one dataset and print test accuracy, fit seconds and "
            "predict seconds for each: SVC(rbf, C=10) on the raw inputs, "
            "VAETransformer -> SVC(C=10), and VAETransformer -> LogisticRegression. "
            "Fit time of a pipeline includes training the VAE.",
            "With --labels N [N ...], keep only N training labels (a stratified draw; the "
            "other rows are unlabelled) and compare, for each N: SVC(C=10) on the labelled "
            "rows, LabelSpreading, SelfTrainingClassifier(SVC), VAETransformer -> SVC (the "
            "VAE learns from all rows, the SVC from the labelled ones) and VAEClassifier."
        ),
        epilog=(
            "examples:\n"
            "  skvae compare                                 # digits, about a minute on CPU\n"
            "  skvae compare --plot compare.png              # also save latent map + recons\n"
            "  skvae compare --labels 50 100 250             # semi-supervised, digits\n"
            "  skvae compare --labels 50 100 250 --plot labels.png  # accuracy against N\n"
            "  skvae compare --dataset fashion-mnist --n-train 10000\n"
            "Fashion-MNIST is read from local IDX files: apt-get install "
            "dataset-fashion-mnist,\nor set SKVAE_DATA to a folder holding the four .gz files."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmp.add_argument("--dataset", choices=DATASETS, default="digits",
                     help="digits (sklearn's 8x8, ships with scikit-learn; default) or "
                          "fashion-mnist (60k/10k, local files)")
    cmp.add_argument("--n-train", type=_int_in(_MIN_TRAIN), default=None, metavar="N",
                     help="train on a stratified subset of N rows (default: all of digits; "
                          "10000 of Fashion-MNIST, whose full 60k SVC takes minutes)")
    cmp.add_argument("--labels", type=_label_amount, nargs="+", default=None, metavar="N",
                     help="semi-supervised comparison keeping N training labels, for each N "
                          "given: a count, or a fraction below 1 of the training rows")
    cmp.add_argument("--n-components", type=_int_in(1), default=None, metavar="K",
                     help="latent size, at most the number of input features (default: the "
                          "estimators' defaults: 50 for VAETransformer, 8 for "
                          "VAEClassifier)")
    cmp.add_argument("--max-iter", type=_int_in(1), default=None,
                     help="VAE epochs (default: the estimators' 'auto', which sets the "
                          "training length from the number of rows)")
    cmp.add_argument("--beta", type=_non_negative_float, default=None,
                     help="KL weight (default: the estimators' defaults: 0.1 for "
                          "VAETransformer, 1.0 for VAEClassifier)")
    cmp.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    cmp.add_argument("--random-state", type=_int_in(0, _MAX_SEED), default=0, metavar="SEED",
                     help=f"seed, 0 to {_MAX_SEED} (default 0)")
    cmp.add_argument("--plot", metavar="FILE",
                     help="save a figure (format from the extension: .png, .pdf, .svg ...): "
                          "2-D latent map coloured by class and reconstructions; with "
                          "several --labels, test accuracy against N")
    return parser


def _one_line(exc):
    """The message of ``exc`` on one line (multi-line messages are joined)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = ""
    for line in lines:
        text += line if not text else (" " if text.endswith(":") else "; ") + line
    return text or type(exc).__name__


def _compare(args, log):
    from ._base import resolve_device

    resolve_device(args.device)  # an unknown or absent device fails before any training
    plot = _check_plot_path(args.plot, labels=args.labels) if args.plot else None
    n_train = args.n_train
    if n_train is None and args.dataset == "fashion-mnist":
        n_train = 10000
    X_train, X_test, y_train, y_test, shape, names = load_dataset(
        args.dataset, n_train, args.random_state
    )
    n_features = X_train.shape[1]
    if args.n_components is not None and args.n_components > n_features:
        raise CommandError(f"--n-components {args.n_components}: must be at most "
                           f"{n_features}, the number of input features of {args.dataset}")
    counts = None if args.labels is None else _label_counts(args.labels, y_train)
    log(f"{args.dataset}: {len(X_train)} training rows, {len(X_test)} test rows, "
        f"{n_features} features")

    if counts is not None:
        rows = run_semisupervised(
            X_train, y_train, X_test, y_test, counts, n_components=args.n_components,
            max_iter=args.max_iter, beta=args.beta, device=args.device,
            random_state=args.random_state, log=log,
        )
        print(format_table(rows))
        if len(counts) > 1:
            print()
            print(_format_accuracy_by_labels(rows))
        if plot:
            _plot_labels(*plot, rows, len(X_train), args.dataset)
            log(f"figure saved to {plot[0]}")
        return 0

    rows = run_comparison(
        X_train, y_train, X_test, y_test, n_components=args.n_components,
        max_iter=args.max_iter, beta=args.beta, device=args.device,
        random_state=args.random_state, log=log,
    )
    print(format_table(rows))
    if plot:
        _plot(*plot, rows, X_train, X_test, y_test, shape, names, args)
        log(f"figure saved to {plot[0]}")
    return 0


def main(argv=None):
    """Entry point of the ``skvae`` command; returns the exit status.

    0 on success (and for ``--help``); 2 on any error, reported as one
    ``skvae: error: ...`` line on stderr with no traceback; 130 when interrupted.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or an argument error already reported
        return exc.code

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        return _compare(args, log)
    except KeyboardInterrupt:
        print("skvae: interrupted", file=sys.stderr)
        return 130
    except (CommandError, ValueError, OSError, FloatingPointError, MemoryError) as exc:
        print(f"skvae: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # torch's out-of-memory errors; anything else is a bug
        if "out of memory" not in str(exc).lower():
            raise
        print(f"skvae: error: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

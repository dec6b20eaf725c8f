"""The ``skvae`` command (also ``python -m skvae``).

This module is over 400 lines because the command's options, their checks, its tables
and the Ctrl-C contract form one interface, documented together.

``skvae compare`` fits, on one dataset, an SVC on the raw inputs against
``VAETransformer -> SVC`` and ``VAETransformer -> LogisticRegression``, and prints
test accuracy, fit seconds and predict seconds for each, side by side.

``skvae compare --labels N [N ...]`` tells the semi-supervised story instead: it keeps N
labels of the training rows (the others become unlabelled, ``-1``) and compares, for each
N, an SVC on the labelled rows, ``LabelSpreading``, self-training, ``VAETransformer -> SVC``
(the VAE learns from every row, the SVC from the labelled ones) and ``VAEClassifier``.

Every error is one ``skvae: error: ...`` line on stderr and exit status 2; Ctrl-C, at any
moment, is one ``skvae: interrupted`` line and exit status 130.

This module parses the arguments and prints; loading the data, drawing the labelled rows
and timing the fits is :mod:`skvae._experiment`'s work (the benchmarks use it too). It
imports nothing heavy before the arguments are parsed: ``skvae --help`` and
``skvae --version`` never load torch or scikit-learn.
"""

import argparse
import math
import os
import sys
import textwrap
import threading
from pathlib import Path

from . import __version__
from ._experiment import (
    DATASETS,
    hide_labels,
    latent_map_vae,
    load_dataset,
    run_comparison,
    run_semisupervised,
)
from ._interrupt import INTERRUPTED as _INTERRUPTED
from ._interrupt import exit_at_once_on_interrupt as _exit_at_once_on_interrupt

# Data, label draws and timed fits live in skvae._experiment (shared with the benchmarks);
# they are re-exported here, where they have been documented since the first release.
__all__ = ["main", "run_comparison", "run_semisupervised", "hide_labels", "load_dataset",
           "format_table"]

ARCHITECTURES = ("mlp", "conv")
_MIN_TRAIN = 20
_MAX_SEED = 2**32 - 1


class CommandError(Exception):
    """A mistake in the command line, found after parsing; shown as one error line."""


def format_table(rows):
    """Render comparison rows as a Markdown table.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`run_comparison` or :func:`run_semisupervised`: ``model``,
        ``accuracy``, ``fit_s``, ``predict_s`` and, for the latter, ``n_labels``.

    Returns
    -------
    table : str
        A Markdown table, one line per row. Rows with an ``n_labels`` key get a
        ``labels`` column first.

    Examples
    --------
    >>> from skvae.cli import format_table
    >>> print(format_table([{"model": "SVC", "accuracy": 0.95, "fit_s": 1.5,
    ...                      "predict_s": 0.25}]))
    | model | test accuracy | fit s | predict s |
    |---|---:|---:|---:|
    | SVC | 0.9500 | 1.50 | 0.25 |
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
            "(or, in a clone of skvae, pip install -e '.[plot]')"
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

    from .plotting import plot_latent, plot_reconstructions

    fig, (ax_map, ax_rec) = plt.subplots(
        1, 2, figsize=(13, 5.5), gridspec_kw={"width_ratios": [1, 1.4]}
    )
    # A separate 2-D VAE, so the map shows a true latent plane rather than a projection.
    vae2 = latent_map_vae(X_train, max_iter=args.max_iter, beta=args.beta,
                          architecture=args.architecture, image_shape=image_shape,
                          device=args.device, random_state=args.random_state)
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
    parser.add_argument("--version", action="version", version=f"skvae {__version__}")
    sub = parser.add_subparsers(dest="command")
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
            "  skvae compare --dataset fashion-mnist --n-train 60000 --architecture conv\n"
            "      # the README's conv VAE -> SVC result (hours on CPU; add --device cuda)\n"
            "Fashion-MNIST is read from local IDX files: apt-get install "
            "dataset-fashion-mnist,\nor set SKVAE_DATA to a folder holding the four .gz files."
            "\nThe VAEs get the images' shape, as in Python:\n"
            "  VAEClassifier(image_shape=fetch_fashion_mnist().image_shape)  # (1, 28, 28)\n"
            "Each fit picks its torch threads (n_threads='auto': one for small networks, "
            "else\nthe idle cores), so a busy machine does not slow it down many times."
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
                     help="latent size, the estimators' n_components; it may exceed the "
                          "number of input features (default: the estimators' defaults: "
                          "50 for VAETransformer, 8 for VAEClassifier)")
    cmp.add_argument("--max-iter", type=_int_in(1), default=None,
                     help="VAE epochs (default: the estimators' 'auto', which sets the "
                          "training length from the number of rows)")
    cmp.add_argument("--beta", type=_non_negative_float, default=None,
                     help="KL weight (default: the estimators' defaults: 0.1 for "
                          "VAETransformer, 1.0 for VAEClassifier)")
    cmp.add_argument("--architecture", choices=ARCHITECTURES, default=None,
                     help="network of both VAEs: mlp (fully connected) or conv "
                          "(convolutional, reads each row as an image of the dataset's "
                          "shape); default: the estimators' default, mlp")
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
    log(f"skvae compare: loading {args.dataset} ...")
    from ._devices import resolve_device

    resolve_device(args.device)  # an unknown or absent device fails before any training
    if args.plot is not None and not args.plot.strip():
        raise CommandError("--plot needs a file name, e.g. --plot compare.png (got an "
                           "empty one)")
    plot = _check_plot_path(args.plot, labels=args.labels) if args.plot else None
    n_train = args.n_train
    if n_train is None and args.dataset == "fashion-mnist":
        n_train = 10000
    X_train, X_test, y_train, y_test, shape, names = load_dataset(
        args.dataset, n_train, args.random_state
    )
    n_features = X_train.shape[1]
    counts = None if args.labels is None else _label_counts(args.labels, y_train)
    log(f"{args.dataset}: {len(X_train)} training rows, {len(X_test)} test rows, "
        f"{n_features} features")

    if counts is not None:
        rows = run_semisupervised(
            X_train, y_train, X_test, y_test, counts, n_components=args.n_components,
            max_iter=args.max_iter, beta=args.beta, architecture=args.architecture,
            image_shape=shape, device=args.device, random_state=args.random_state, log=log,
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
        max_iter=args.max_iter, beta=args.beta, architecture=args.architecture,
        image_shape=shape, device=args.device, random_state=args.random_state, log=log,
    )
    print(format_table(rows))
    if plot:
        _plot(*plot, rows, X_train, X_test, y_test, shape, names, args)
        log(f"figure saved to {plot[0]}")
    return 0


def main(argv=None):
    """Entry point of the ``skvae`` command; returns the exit status.

    0 on success (and for ``--help`` and ``--version``); 2 on any error, reported as one
    ``skvae: error: ...`` line on stderr with no traceback; 130 when interrupted.

    Run as the command (``argv=None``, in the main thread), Ctrl-C stops it at any moment,
    start-up included: one ``skvae: interrupted`` line on stderr and exit status 130 at
    once, whatever it was doing (see ``_exit_at_once_on_interrupt``). Called from Python
    with an ``argv`` list it installs no signal handling; a ``KeyboardInterrupt`` that
    reaches it returns 130.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after ``skvae``; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        The exit status.

    Examples
    --------
    >>> from skvae.cli import main
    >>> main(["--version"])  # doctest: +ELLIPSIS
    skvae ...
    0
    """
    if argv is None and threading.current_thread() is threading.main_thread():
        _exit_at_once_on_interrupt()  # at once when started by skvae._command
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or an argument error already reported
        return exc.code
    if args.command is None:  # a bare `skvae`: the usage, and what to run
        parser.print_usage(sys.stderr)
        print("skvae: error: name a command: skvae compare (skvae --help for more)",
              file=sys.stderr)
        return 2

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    try:
        return _compare(args, log)
    except KeyboardInterrupt:
        print(_INTERRUPTED, file=sys.stderr)
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

"""Data, label draws and timed fits shared by the ``skvae`` command and the benchmarks.

This module is over 400 lines because it holds both comparisons (every label, few
labels) with their baselines, and the loaders and label draws they share, each with
examples.

One place decides how a comparison gets its data: which split of a dataset, which rows
keep their labels, which training subset, and how a fit is timed. ``skvae compare``
(:mod:`skvae.cli`, which only parses arguments and prints) and the scripts under
``benchmarks/`` both call it, so a CLI run and a benchmark row with the same seed draw
the same labelled rows.

The draws are fixed on purpose: :func:`~skvae._experiment.load_digits_split`,
:func:`~skvae._experiment.load_fashion_mnist_split` and
:func:`~skvae._experiment.draw_labelled` return, seed for seed, the rows the benchmark
scripts drew before this module existed, so old rows of ``benchmarks/results/*.csv`` stay
comparable with new ones.

numpy, scikit-learn and torch are imported inside the functions, never at import time:
the ``skvae`` command imports this module before it parses its arguments and installs its
Ctrl-C handler, and ``skvae --help`` must not wait for torch.

Examples
--------
>>> from skvae._experiment import draw_labelled, load_digits_split
>>> X_train, X_test, y_train, y_test = load_digits_split(random_state=0)
>>> X_train.shape, X_test.shape
((1257, 64), (540, 64))
>>> rows = draw_labelled(y_train, 50, random_state=0)
>>> len(rows), len(set(y_train[rows].tolist()))
(50, 10)
"""

import time

__all__ = [
    "DATASETS",
    "draw_labelled",
    "hide_labels",
    "latent_map_vae",
    "load_dataset",
    "load_digits_split",
    "load_fashion_mnist_split",
    "run_comparison",
    "run_semisupervised",
    "timed",
]

# name -> (channels, height, width) of its images: what a data folder must hold to be it.
DATASETS = {"digits": (1, 8, 8), "fashion-mnist": (1, 28, 28)}


def timed(fn, *args, **kwargs):
    """Call ``fn(*args, **kwargs)`` and measure its wall-clock time.

    Parameters
    ----------
    fn : callable
        What to run, e.g. an estimator's bound ``fit``.
    *args, **kwargs
        Passed to ``fn``.

    Returns
    -------
    result : object
        What ``fn`` returned.
    seconds : float
        Wall-clock seconds the call took (:func:`time.perf_counter`).

    Examples
    --------
    >>> from skvae._experiment import timed
    >>> total, seconds = timed(sum, [1, 2, 3])
    >>> total, seconds >= 0
    (6, True)
    """
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def load_digits_split(random_state=0, test_size=0.3):
    """scikit-learn's 8x8 digits scaled to [0, 1], split into train and test (stratified).

    Parameters
    ----------
    random_state : int, default=0
        Seeds the split.
    test_size : float, default=0.3
        Share of the 1,797 rows held out for testing.

    Returns
    -------
    X_train, X_test : ndarray of shape (n_rows, 64)
        Pixels divided by 16, so in [0, 1].
    y_train, y_test : ndarray of shape (n_rows,)
        Digits 0 to 9.

    Examples
    --------
    >>> from skvae._experiment import load_digits_split
    >>> X_train, X_test, y_train, y_test = load_digits_split(random_state=1)
    >>> len(y_train), len(y_test), float(X_train.max())
    (1257, 540, 1.0)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=test_size, random_state=random_state,
                            stratify=y)


def load_fashion_mnist_split(n_train=None, n_test=None, random_state=0, *, data_home=None):
    """Fashion-MNIST's official train/test split, read from local IDX files.

    The files are found as :func:`skvae.datasets.fetch_fashion_mnist` finds them
    (``data_home``, else ``$SKVAE_DATA``, else the system folder), and a folder whose
    images are not 28x28 is refused there, before anything is trained.

    Parameters
    ----------
    n_train : int, default=None
        Keep a random subset of this many training images (drawn with
        ``random_state``, not stratified, kept in file order); None keeps all 60,000.
    n_test : int, default=None
        Keep the first ``n_test`` test images; None keeps all 10,000.
    random_state : int, default=0
        Seeds the training subset.
    data_home : str or os.PathLike, default=None
        Folder of the four IDX files; see :func:`skvae.datasets.fetch_fashion_mnist`.

    Returns
    -------
    X_train, X_test : ndarray of shape (n_rows, 784), float32 in [0, 1]
    y_train, y_test : ndarray of shape (n_rows,), int64 in 0..9

    Raises
    ------
    FileNotFoundError
        If the files are not there; the message says how to get them.
    ValueError
        If a file is corrupt, or the folder holds images of another size.

    Examples
    --------
    >>> from skvae._experiment import load_fashion_mnist_split
    >>> X_train, X_test, y_train, y_test = load_fashion_mnist_split(
    ...     1000, 500, random_state=0)  # doctest: +SKIP
    >>> X_train.shape, X_test.shape  # doctest: +SKIP
    ((1000, 784), (500, 784))
    """
    import numpy as np

    from .datasets import fetch_fashion_mnist

    X_tr, y_tr = fetch_fashion_mnist(subset="train", data_home=data_home, return_X_y=True)
    X_te, y_te = fetch_fashion_mnist(subset="test", data_home=data_home, return_X_y=True)
    if n_train is not None and n_train < len(X_tr):
        keep = np.sort(np.random.default_rng(random_state).permutation(len(X_tr))[:n_train])
        X_tr, y_tr = X_tr[keep], y_tr[keep]
    X_te, y_te = X_te[:n_test], y_te[:n_test]
    return (X_tr.astype(np.float32, copy=False), X_te.astype(np.float32, copy=False),
            y_tr, y_te)


def draw_labelled(y, n_labelled, random_state=0):
    """Indices of a stratified draw of ``n_labelled`` rows of ``y``, without replacement.

    Each class keeps about its share of ``n_labelled`` rows
    (:class:`~sklearn.model_selection.StratifiedShuffleSplit`; where that cannot split,
    with fewer rows drawn or left out than there are classes,
    :func:`sklearn.utils.resample` with ``stratify=y``).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels, all known.
    n_labelled : int
        How many rows to draw; ``len(y)`` or more returns every row.
    random_state : int, default=0
        Seeds the draw.

    Returns
    -------
    indices : ndarray of shape (min(n_labelled, n_samples),)
        Row indices into ``y``, in the order drawn (``arange(len(y))`` for every row).

    Examples
    --------
    >>> import numpy as np
    >>> from skvae._experiment import draw_labelled
    >>> y = np.repeat([0, 1, 2], 10)
    >>> rows = draw_labelled(y, 6, random_state=0)
    >>> np.bincount(y[rows]).tolist()
    [2, 2, 2]
    """
    import numpy as np
    from sklearn.model_selection import StratifiedShuffleSplit
    from sklearn.utils import resample

    y = np.asarray(y)
    if n_labelled >= len(y):
        return np.arange(len(y))
    n_classes = len(np.unique(y))
    if min(n_labelled, len(y) - n_labelled) < n_classes:
        # fewer rows drawn (or left out) than classes: StratifiedShuffleSplit refuses
        # that, resample apportions the rows it can
        return resample(np.arange(len(y)), n_samples=n_labelled, replace=False, stratify=y,
                        random_state=random_state)
    split = StratifiedShuffleSplit(1, train_size=n_labelled, random_state=random_state)
    return next(split.split(np.zeros(len(y)), y))[0]


def hide_labels(y, n_labels, random_state=0):
    """Keep ``n_labels`` labels of ``y`` (a stratified draw) and mark the rest unlabelled.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Integer class labels, all known.
    n_labels : int
        How many labels to keep, from 1 to ``n_samples``. They are drawn by
        :func:`~skvae._experiment.draw_labelled`: without replacement, each class
        keeping about its share.
    random_state : int, default=0
        Seeds the draw.

    Returns
    -------
    y_semi : ndarray of shape (n_samples,)
        A copy of ``y`` in which every row but the ``n_labels`` kept is ``-1``, the
        scikit-learn (and skvae) marker of an unlabelled row.

    Raises
    ------
    ValueError
        If ``n_labels`` is not between 1 and ``n_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae._experiment import hide_labels
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> y_semi = hide_labels(y, 4, random_state=0)
    >>> int((y_semi == -1).sum()), sorted(y_semi[y_semi != -1].tolist())
    (4, [0, 0, 1, 1])
    """
    import numpy as np

    y = np.asarray(y)
    if not 1 <= n_labels <= len(y):
        raise ValueError(f"n_labels must be between 1 and {len(y)}, got {n_labels}; ask "
                         "for at most as many labels as there are rows.")
    keep = draw_labelled(y, n_labels, random_state)
    y_semi = np.full(y.shape, -1, dtype=np.result_type(y.dtype, np.int8))
    y_semi[keep] = y[keep]
    return y_semi


def load_dataset(name, n_train=None, random_state=0):
    """A dataset as the ``skvae compare`` command uses it, checked before any training.

    ``digits``: :func:`~skvae._experiment.load_digits_split`. ``fashion-mnist``: the
    official 60k/10k split of :func:`~skvae._experiment.load_fashion_mnist_split` (its local
    files must hold 28x28 images). With ``n_train``, a stratified subset
    (:func:`~skvae._experiment.draw_labelled`, kept in file order) of that many training
    rows.

    Parameters
    ----------
    name : {'digits', 'fashion-mnist'}
        Which dataset.
    n_train : int, default=None
        Keep this many training rows; None keeps all.
    random_state : int, default=0
        Seeds the split (digits) and the subset.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Rows in [0, 1] and their labels.
    image_shape : tuple of int
        ``(channels, height, width)`` of one row.
    target_names : list of str
        The class names.

    Raises
    ------
    ValueError
        If ``name`` is unknown, ``n_train`` is more than the training rows, or the data
        files do not hold the dataset's image shape.

    Examples
    --------
    >>> from skvae._experiment import load_dataset
    >>> X_train, X_test, y_train, y_test, shape, names = load_dataset("digits", n_train=100)
    >>> X_train.shape, shape, names[:3]
    ((100, 64), (1, 8, 8), ['0', '1', '2'])
    """
    import numpy as np

    if name == "digits":
        X_train, X_test, y_train, y_test = load_digits_split(random_state)
        names = [str(digit) for digit in range(10)]
    elif name == "fashion-mnist":
        from .datasets import _FASHION_MNIST_CLASSES

        X_train, X_test, y_train, y_test = load_fashion_mnist_split()
        names = list(_FASHION_MNIST_CLASSES)
    else:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {tuple(DATASETS)}.")
    shape = DATASETS[name]
    if X_train.shape[1] != int(np.prod(shape)):  # a loader's promise, checked once more
        raise ValueError(f"{name} rows have {X_train.shape[1]} values, not the "
                         f"{int(np.prod(shape))} of {shape[1]}x{shape[2]} images.")
    if n_train is not None:
        if n_train > len(X_train):
            raise ValueError(f"cannot keep {n_train} training rows: {name} has "
                             f"{len(X_train)} (ask for at most {len(X_train)}).")
        keep = np.sort(draw_labelled(y_train, n_train, random_state))
        X_train, y_train = X_train[keep], y_train[keep]
    return X_train, X_test, y_train, y_test, shape, names


def _given(**params):
    """The parameters that are not None (None: keep the estimator's default)."""
    return {k: v for k, v in params.items() if v is not None}


def _vae_params(n_components, max_iter, beta, architecture, image_shape, device,
                random_state):
    """Keyword arguments of the VAEs of a comparison; None keeps an estimator's default."""
    return {"device": device, "random_state": random_state,
            **_given(n_components=n_components, max_iter=max_iter, beta=beta,
                     architecture=architecture,
                     image_shape=image_shape if architecture is not None else None)}


def latent_map_vae(X_train, *, max_iter=None, beta=None, architecture=None,
                   image_shape=None, device="auto", random_state=0):
    """Fit a ``VAETransformer`` with a 2-D code, to draw a true latent plane.

    Parameters
    ----------
    X_train : ndarray of shape (n_samples, n_features)
        Rows to learn from (no labels).
    max_iter, beta, architecture, image_shape, device, random_state
        As in :func:`run_comparison`.

    Returns
    -------
    vae : VAETransformer
        Fitted, with ``n_components=2``.

    Examples
    --------
    >>> from skvae._experiment import latent_map_vae, load_dataset
    >>> X_train = load_dataset("digits", n_train=100)[0]
    >>> latent_map_vae(X_train, max_iter=1, device="cpu").transform(X_train[:3]).shape
    (3, 2)
    """
    from ._transformer import VAETransformer

    params = _vae_params(2, max_iter, beta, architecture, image_shape, device, random_state)
    return VAETransformer(**params).fit(X_train)


def run_comparison(X_train, y_train, X_test, y_test, *, n_components=None, max_iter=None,
                   beta=None, architecture=None, image_shape=None, device="auto",
                   random_state=0, log=None):
    """Fit an SVC on the inputs and two heads on a VAE's code; measure each.

    The two pipelines share one trained ``VAETransformer``: it is fitted once, and
    its fit (and transform) time is counted in both rows, as if each pipeline had
    been fitted on its own.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        Training and test rows (in [0, 1] for the default Bernoulli likelihood) and
        their labels.
    n_components, max_iter, beta : int, int, float, default=None
        The ``VAETransformer``'s; None keeps its defaults.
    architecture : {'mlp', 'conv'}, default=None
        The ``VAETransformer``'s; None keeps its default.
    image_shape : tuple of int, default=None
        ``(channels, height, width)`` of a row, passed with ``architecture``.
    device : str, default='auto'
        The ``VAETransformer``'s device.
    random_state : int, default=0
        Seeds the ``VAETransformer``.
    log : callable, default=None
        Called with a progress message before each fit.

    Returns
    -------
    rows : list of dict
        ``model``, ``accuracy``, ``fit_s``, ``predict_s`` and the fitted ``estimator``.

    Examples
    --------
    >>> from skvae._experiment import load_dataset, run_comparison
    >>> Xtr, Xte, ytr, yte, _, _ = load_dataset("digits", n_train=300)
    >>> rows = run_comparison(Xtr, ytr, Xte, yte, n_components=4, max_iter=2, device="cpu")
    >>> [row["model"] for row in rows][0]
    'SVC(rbf, C=10) on pixels'
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    from ._transformer import VAETransformer

    log = log or (lambda msg: None)
    rows = []
    log("fitting SVC(rbf, C=10) on pixels ...")
    svc, fit_s = timed(SVC(C=10).fit, X_train, y_train)
    y_pred, predict_s = timed(svc.predict, X_test)
    rows.append({"model": "SVC(rbf, C=10) on pixels", "estimator": svc,
                 "accuracy": float(np.mean(y_pred == y_test)), "fit_s": fit_s,
                 "predict_s": predict_s})

    vae = VAETransformer(**_vae_params(n_components, max_iter, beta, architecture,
                                       image_shape, device, random_state))
    log(f"fitting VAETransformer(n_components={vae.n_components}, "
        f"architecture={vae.architecture!r}) ...")
    _, vae_fit_s = timed(vae.fit, X_train)
    Z_train, train_transform_s = timed(vae.transform, X_train)
    Z_test, test_transform_s = timed(vae.transform, X_test)
    heads = {"SVC(C=10)": SVC(C=10), "LogisticRegression": LogisticRegression(max_iter=2000)}
    for head_name, head in heads.items():
        log(f"fitting {head_name} on the latent code ...")
        _, head_fit_s = timed(head.fit, Z_train, y_train)
        y_pred, head_predict_s = timed(head.predict, Z_test)
        rows.append({
            "model": f"VAETransformer(n_components={vae.n_components_}) -> {head_name}",
            "estimator": Pipeline([("vae", vae), ("head", head)]),
            "accuracy": float(np.mean(y_pred == y_test)),
            "fit_s": vae_fit_s + train_transform_s + head_fit_s,
            "predict_s": test_transform_s + head_predict_s,
        })
    return rows


def run_semisupervised(X_train, y_train, X_test, y_test, n_labels, *, n_components=None,
                       max_iter=None, beta=None, architecture=None, image_shape=None,
                       device="auto", random_state=0, log=None):
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
    architecture : {'mlp', 'conv'}, default=None
        Network of both VAEs; None keeps each estimator's default.
    image_shape : tuple of int, default=None
        ``(channels, height, width)`` of a row, passed with ``architecture``.
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
    >>> from skvae._experiment import load_dataset, run_semisupervised
    >>> Xtr, Xte, ytr, yte, _, _ = load_dataset("digits", n_train=200)
    >>> rows = run_semisupervised(Xtr, ytr, Xte, yte, [30, 60], n_components=4,
    ...                           max_iter=2, device="cpu")
    >>> len(rows), rows[0]["n_labels"], rows[0]["model"]
    (10, 30, 'SVC(rbf, C=10) on labelled pixels')
    >>> all(0.0 <= row["accuracy"] <= 1.0 for row in rows)
    True
    """
    import warnings

    import numpy as np
    from sklearn.pipeline import Pipeline
    from sklearn.semi_supervised import LabelSpreading, SelfTrainingClassifier
    from sklearn.svm import SVC

    from ._classifier import VAEClassifier
    from ._transformer import VAETransformer

    log = log or (lambda msg: None)
    counts = [int(n_labels)] if np.ndim(n_labels) == 0 else [int(n) for n in n_labels]
    shared = _vae_params(n_components, max_iter, beta, architecture, image_shape, device,
                         random_state)

    log(f"fitting VAETransformer on all {len(X_train)} training rows (no labels) ...")
    vae = VAETransformer(**shared)
    _, vae_fit_s = timed(vae.fit, X_train)
    Z_train, train_transform_s = timed(vae.transform, X_train)
    Z_test, test_transform_s = timed(vae.transform, X_test)

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
                    _, fit_s = timed(model.fit, X_train[labelled], y_semi[labelled])
                else:
                    _, fit_s = timed(model.fit, X_train, y_semi)
                y_pred, predict_s = timed(model.predict, X_test)
            add(name, model, fit_s, y_pred, predict_s)

        log(f"  fitting SVC(C=10) on the VAETransformer(n_components={vae.n_components}) code ...")
        head = SVC(C=10)
        _, head_fit_s = timed(head.fit, Z_train[labelled], y_semi[labelled])
        y_pred, head_predict_s = timed(head.predict, Z_test)
        add(f"VAETransformer(n_components={vae.n_components}) -> SVC(C=10)",
            Pipeline([("vae", vae), ("head", head)]),
            vae_fit_s + train_transform_s + head_fit_s, y_pred,
            test_transform_s + head_predict_s)

        clf = VAEClassifier(**shared)
        log(f"  fitting VAEClassifier(n_components={clf.n_components}) ...")
        _, fit_s = timed(clf.fit, X_train, y_semi)
        y_pred, predict_s = timed(clf.predict, X_test)
        add(f"VAEClassifier(n_components={clf.n_components})", clf, fit_s, y_pred, predict_s)
    return rows

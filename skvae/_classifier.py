"""VAEClassifier: a VAE and a classifier trained together, also from unlabelled rows.

This module is over 400 lines because of its docstrings: the class docstring is the
estimator's reference page (every parameter, attribute and choice, with examples, about
300 lines). The code itself (targets, transduction, prediction, sampling) is short; the
models are in :mod:`skvae.models`.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ._base import LEARNING_RATES, BaseVAE
from ._compat import Interval, StrOptions, _fit_context
from ._docs import fill
from ._rows import Rows, is_file_backed
from .models import UNLABELLED
from .nn import ARCHITECTURES

__all__ = ["VAEClassifier"]


def _unlabelled_mask(y):
    """Rows of ``y`` that equal the integer -1 (never a string such as '-1')."""
    if y.dtype.kind in "iuf":
        return y == UNLABELLED
    if y.dtype.kind == "O":
        return np.array(
            [isinstance(v, Integral | Real) and not isinstance(v, bool) and v == UNLABELLED
             for v in y],
            dtype=bool,
        )
    return np.zeros(len(y), dtype=bool)


def _warn_string_minus_one(y):
    """Warn when the string '-1' sits among integer-like labels (it is a class, not -1)."""
    if y.dtype.kind not in "OUS":
        return
    text = np.array([v if isinstance(v, str) else None for v in y], dtype=object)
    marked = text == "-1"
    if not marked.any():
        return
    others = [v for v in text[~marked] if v is not None]
    if others and all(v.strip().lstrip("+-").isdigit() for v in others):
        warnings.warn(
            f"y holds the string '-1' in {int(marked.sum())} row(s) among integer-like "
            "string labels: a string '-1' is an ordinary class, not the unlabelled marker "
            "(the integer -1). If those rows are unlabelled, pass integer labels "
            "(e.g. y.astype(int)).", UserWarning, stacklevel=3,
        )


def _check_label_weights(y, sample_weight):
    """Refuse weights that leave fewer than two classes among the labelled rows.

    Rows of weight 0 are dropped, so weights that zero every labelled row (or all but
    one class) leave nothing to learn the classes from: refused before training.
    """
    if sample_weight is None:
        return
    from ._base import check_sample_weight

    weights = check_sample_weight(sample_weight, len(y))
    labelled = ~_unlabelled_mask(y)
    kept = labelled & (weights > 0)
    if not kept.any():
        raise ValueError(
            f"sample_weight is 0 for every labelled row ({int(labelled.sum())} of them): "
            "rows of weight 0 are dropped, which leaves no label to learn the classes "
            "from. Give labelled rows positive weights."
        )
    classes = np.unique(y[kept].astype(str) if y.dtype.kind == "O" else y[kept])
    if len(classes) < 2:
        raise ValueError(
            f"sample_weight is positive only for labelled rows of one class "
            f"({classes[0]!r}); rows of weight 0 are dropped, and VAEClassifier needs "
            "labelled rows of at least two classes. Give them positive weights."
        )


def _missing_labels(y):
    """Rows of an object ``y`` holding a missing value (None or a float NaN)."""
    if y.dtype.kind != "O":
        return np.zeros(len(y), dtype=bool)
    return np.array([v is None or (isinstance(v, float) and v != v) for v in y], dtype=bool)


@fill
class VAEClassifier(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClassifierMixin, BaseVAE
):
    """Semi-supervised VAE classifier (Kingma et al., 2014, model M2, and successors).

    A classifier ``q(y | x)`` and a conditional VAE (encoder ``q(z | x, y)``,
    decoder ``p(x | z, y)``) trained together. The loss is the batch mean of the
    negative evidence lower bound plus ``alpha`` times the classification
    cross-entropy. Rows labelled ``-1`` are unlabelled, as in scikit-learn's
    :class:`~sklearn.semi_supervised.LabelSpreading`: for them the class is a latent
    variable, the bound is averaged over ``q(y | x)`` and they train the classifier
    through the generative model. The default model with unlabelled rows
    (``'shared-m2'``) adds two terms
    that let the unlabelled rows teach ``q(y | x)`` much more: its prediction should
    not change under a small perturbation of the row, and it learns labels spread to
    the unlabelled rows in its own feature space. ``predict`` reads ``q(y | x)``;
    ``transform`` gives the latent code; ``sample`` generates inputs, of chosen
    classes if asked. Training runs through a skorch net (``net_``) on CPU or GPU.

    Parameters
    ----------
    n_components : int, default=16
        Size of the continuous latent code ``z`` (the output of ``transform``).
    hidden_layer_sizes : int or sequence of int, default=(256, 256)
        Hidden widths of the encoder and of the classifier network; the decoder
        mirrors them.
    {{architecture}}
    classifier_architecture : {'mlp', 'conv'} or None, default=None
        Architecture of the classifier network ``q(y | x)`` alone; None means
        ``architecture``. ``architecture='mlp', classifier_architecture='conv'`` gives
        a convolutional classifier with a fully connected VAE: on images the classifier
        then sees local structure, while an unlabelled row's ``K`` decoder passes stay
        cheap.
    image_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of one image, e.g. ``(1, 28, 28)``; rows of X are
        images flattened channels first (``images.reshape(n, -1)``). Its product must
        equal the number of features. None with a conv network (``architecture`` or
        ``classifier_architecture``) takes a square one-channel image (needs a
        perfect-square number of features, else fit raises ValueError). Given, it
        makes ``architecture='auto'`` convolutional, and ``'shared-m2'`` also shifts
        images by up to 2 pixels in its consistency term: pass it for images. With
        ``architecture='mlp'`` it is used for those shifts only.
    {{encoder}}
    {{decoder}}
        Here ``n_inputs`` is ``n_components`` plus the number of classes (the
        decoder reads ``[z, onehot(y)]``), and the classifier ``q(y | x)`` gets its
        own copy of ``encoder`` with a class head.
    likelihood : {'bernoulli', 'gaussian'}, default='bernoulli'
        Observation model ``p(x | z, y)``. ``'bernoulli'`` is for data in [0, 1]
        such as pixel intensities (X outside [0, 1] is an error); ``'gaussian'`` is
        for any real-valued data and learns one noise scale per feature.
    beta : float, default=1.0
        Weight of the KL terms (of ``z``, and of ``y`` for unlabelled rows).
    {{beta_warmup}}
    alpha : float or 'auto', default='auto'
        Weight of the classification cross-entropy, which is averaged over the
        labelled rows of each batch (so ``alpha`` does not depend on the share of
        labelled rows). For ``'m2'`` and ``'m1+m2'`` the negative bound is in nats
        per row, about the number of features times a fraction of a nat, and
        ``'auto'`` is 10 (large enough that the cross-entropy is not drowned by it;
        see the user guide). ``'shared-m2'`` counts the bound per feature, so one
        weight fits any row width: ``'auto'`` is 1 there.
    max_iter : int or 'auto', default='auto'
        Number of training epochs (fewer if early stopping triggers). ``'auto'``: for
        ``'shared-m2'``, as many epochs as give 1,500 gradient steps, 10 passes over
        all rows or 10 passes over the labelled rows, whichever is most (the budget
        grows with the data from about 19,000 rows on); for
        ``'m1+m2'``, as many epochs as give 4,000 gradient steps (1,000 with a conv
        M1), for M1 and for M2; for ``'m2'``, 100 epochs. ``partial_fit``: one epoch.
    {{batch_size}}
        ``'shared-m2'`` takes 128 rows per step for ``'auto'``, whatever the data size.
    labelled_batch_size : int, 'auto' or None, default='auto'
        Every training batch is topped up with this many labelled rows, taken in
        turn from a reshuffled pass over the labelled rows (as Kingma et al. draw a
        labelled and an unlabelled minibatch at each step). With few labels among
        many unlabelled rows, the classifier then sees each label many times per
        epoch instead of once. ``'auto'``: for ``'shared-m2'``, ``min(n_labelled,
        64)``; otherwise ``min(n_labelled, batch_size)`` when some rows are
        unlabelled, none when all are labelled. None: batches draw from all rows
        alike.
    model : {'auto', 'shared-m2', 'm2', 'm1+m2'}, str or model object, default='auto'
        The generative model: a key of :data:`skvae.models.MODELS` (a model you
        register there works too), or a model object with a classifier (a
        :class:`skvae.models.ClassifierRecipe`; its settings are tuned as
        ``model__<setting>``). ``'shared-m2'``: M2 whose ``q(y|x)`` and
        ``q(z|x,y)`` share one encoder body (the ``architecture``'s, with 16 and 32
        channels for a conv body, whose decoder is fully connected), trained with two
        more terms on ``q(y|x)``: consistency (``KL(p || q(y|x~))`` on unlabelled
        rows, with ``x~`` the row plus Gaussian noise of half the data's standard
        deviation and, with ``image_shape``, moved by up to 2 pixels, and ``p`` the
        model's ``q(y|x)`` aligned to the labelled rows' class mix, so that its own
        predictions cannot drift towards some classes; weight 3, raised over the
        first fifth of the run) and,
        from half-way, a cross-entropy on pseudo-labels that
        :class:`~sklearn.semi_supervised.LabelSpreading` spreads from the labels over
        a kNN graph of the model's own standardised features, each weighted by its
        confidence. The predictor is ``q(y|x)``, a network of the VAE; see
        :mod:`skvae.models.shared`. ``'m2'``: M2 on the rows themselves. ``'m1+m2'``:
        the stacking of Kingma et al. (2014): a VAE (M1) is first fitted on every row
        without labels, then M2 learns the classes from M1's standardised code; on
        images with few labels this is far better than M2 on pixels, and much faster
        (M2's per-class decoder passes are then on a small code). M1's settings follow
        the data (see :mod:`skvae.models.stacked` and the user guide);
        ``architecture``, ``image_shape``, ``likelihood``, ``encoder`` and ``decoder``
        apply to M1, while M2's encoder and decoder on the code are fully connected,
        with a Gaussian likelihood. M2's classifier reads the row and the code: the row
        through the image layers of ``classifier_architecture`` (``architecture`` when
        None; for ``'conv'`` its convolutions, new ones, not M1's; a user ``encoder``
        whole), the code joined after them, then the hidden layers (an explicit
        ``'m1+m2'`` in ``partial_fit`` fits M1 on the first call's rows for
        ``max_iter`` epochs, then keeps it frozen). ``'auto'``, in ``fit``:
        ``'shared-m2'`` when some rows are unlabelled, whatever the networks, and when
        all are labelled with fully connected networks; ``'m2'`` when all are labelled
        and a network is convolutional (``architecture`` or
        ``classifier_architecture`` ``'conv'``), which measured better there (see the
        user guide). In ``partial_fit``:
        ``'m2'`` (one pass per call at a constant step size, while ``'shared-m2'``
        anneals its step size over a whole run and spreads pseudo-labels over every
        row).
    learning_rate : {'auto', 'constant', 'cosine'}, default='auto'
        Step-size schedule (scikit-learn's ``MLPClassifier`` name). ``'constant'``:
        ``learning_rate_init`` throughout. ``'cosine'``: decayed along a half cosine
        from ``learning_rate_init`` towards 0 over the ``max_iter`` epochs of a fit
        (Loshchilov & Hutter 2017), stepped after each epoch; the step size of each
        epoch is in ``history_`` as ``lr``. ``'auto'``: ``'cosine'`` for
        ``'shared-m2'``; for ``'m2'``, ``'cosine'`` when every row is
        labelled and ``q(y|x)`` is convolutional (``architecture`` or
        ``classifier_architecture`` ``'conv'``), where the last epochs then settle
        instead of wandering (measured on Fashion-MNIST, see the user guide);
        ``'constant'`` otherwise: for M1 + M2, whose settings were measured with it, and
        for a fully connected ``q(y|x)``, which measured no better with the decay on the
        digits. ``partial_fit`` trains at ``learning_rate_init`` (it runs one epoch per
        call).
    learning_rate_init : float or 'auto', default='auto'
        Initial step size of the AdamW optimiser (``MLPClassifier``'s name).
        ``'auto'``: 2e-3 for ``'shared-m2'`` (measured on the digits and on
        Fashion-MNIST: docs/classifier.md), 1e-3 for the other models.
    {{weight_decay tol}}
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified by label, the
        unlabelled rows forming their own stratum) and stop when the validation
        loss has not improved (by a relative 1e-4) for ``n_iter_no_change`` epochs; the
        best weights are kept. ``tol`` plays no part in it.
    {{validation_fraction n_iter_no_change device n_threads precision}}
    {{data_placement n_importance_samples}}
    {{callbacks}}
    {{verbose random_state}}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (the unlabelled marker -1 excluded).
    {{model_ plan_}}
    transduction_ : ndarray of shape (n_samples,)
        A label for every row of the last ``fit`` (or ``partial_fit``) call: the given
        label for labelled rows, the predicted one for unlabelled rows (as
        :class:`~sklearn.semi_supervised.LabelSpreading` gives).
    net_ : skvae._net.VAENet
        The fitted skorch net of the model's last stage; ``net_.module_`` is the
        :class:`skvae.nn.SharedM2` module (:class:`skvae.nn.M2` for ``'m2'``,
        :class:`skvae.nn.StackedM2` for ``'m1+m2'``).
    {{n_features_in_ feature_names_in_ n_components_ image_shape_ n_iter_}}
    loss_curve_ : list of float
        Training loss at each epoch.
    {{best_loss_ validation_scores_ best_validation_score_}}
    history_ : skorch.History
        Per-epoch record: ``train_loss``, ``train_reconstruction``, ``train_kl``,
        ``train_classification`` (and, for ``'shared-m2'``, ``train_consistency`` and
        ``train_pseudo``), each term's weighted share of the loss
        (``train_loss_<term>``: they sum to ``train_loss``; drawn by
        :func:`skvae.plotting.plot_history`), ``dur``, and ``valid_*`` with early
        stopping.

    See Also
    --------
    VAETransformer : The unsupervised VAE.
    sklearn.semi_supervised.LabelSpreading : Graph-based semi-supervised classifier.
    sklearn.semi_supervised.SelfTrainingClassifier : Self-training wrapper.

    Notes
    -----
    Unlabelled rows are marked by the integer label ``-1`` (also inside an
    object array mixing strings and -1, as for
    :class:`~sklearn.semi_supervised.SelfTrainingClassifier`). A string label such as
    ``'-1'`` is an ordinary class. Input with no labelled row, or with fewer than
    two classes among the labelled rows, is an error.

    Per row M2 minimises (see :class:`skvae.nn.M2`): for labelled rows
    ``-log p(x | z, y) + beta * (KL(q(z|x,y) || N(0, I)) + log K)
    + alpha * CE(q(y|x), y)``; for unlabelled rows the expectation over ``q(y | x)``
    of the first two terms plus ``beta * KL(q(y|x) || uniform)``, evaluated exactly by
    decoding the row under each of the ``K`` classes. The encoder's hidden layers run
    once per row and only its output layer and the decoder once per class, so an
    unlabelled row costs less than ``K`` labelled ones, but several. ``'shared-m2'``
    divides the bound by the number of features, conditions an unlabelled row on the
    soft class ``q(y | x)`` in one pass instead of decoding it ``K`` times, and adds
    its consistency and pseudo-label terms (see :class:`skvae.nn.SharedM2`).

    Choices of ``'m2'``, measured on digits with 10 % of the labels (see
    ``docs/classifier.md``): the cross-entropy is averaged over the labelled rows of
    each batch, so few labels are not drowned by many unlabelled rows; ``alpha=10`` beat
    100 and 1000 there (a large ``alpha`` lets the classifier fit the few labels before
    the generative model shapes it); a small ``n_components`` keeps the class in ``y``
    rather than in ``z``; and M2 needs many epochs, its gain over a labelled-only fit
    appearing only with longer training.

    Defaults that differ from :class:`VAETransformer`'s, and why: ``n_components=8``
    (against 50) and ``beta=1`` (against 0.1) because here the class is a latent
    variable of the model: a small code ``z`` with the full KL weight leaves the class
    in ``y`` instead of in ``z``, which is what ``predict`` reads (measured on the
    digits, ``docs/classifier.md``), while ``VAETransformer``'s code is the features a
    classifier downstream reads, where a wide, lightly regularised code measured best
    (``docs/choosing.md``); the M1 inside ``'m1+m2'`` uses the transformer's choice
    (50 dimensions, ``beta=0.1``). ``hidden_layer_sizes=(256, 128)`` (against
    ``(256,)``): each estimator keeps the widths its defaults were measured with; one
    layer measured better for codes fed to an SVC on Fashion-MNIST, not tried here.

    ``transform`` conditions the encoder on the predicted class probabilities
    ``q(y | x)`` (no label needed) and returns the posterior mean of ``z``. As
    ``z`` is inferred together with ``y``, it mostly carries the style of the input
    (the class is carried by ``y``); for class information use ``predict_proba``.

    References
    ----------
    D. P. Kingma, D. J. Rezende, S. Mohamed and M. Welling, "Semi-supervised
    Learning with Deep Generative Models", NeurIPS 2014.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAEClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> clf = VAEClassifier(n_components=4, max_iter=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.predict_proba(X[:3]).shape
    (3, 10)
    >>> clf.transform(X[:3]).shape
    (3, 4)
    >>> clf.sample(2, y=7, random_state=0).shape
    (2, 64)

    Semi-supervised: rows labelled -1 are unlabelled.

    >>> y_partial = y.copy()
    >>> y_partial[200:] = -1
    >>> clf = VAEClassifier(n_components=4, max_iter=2, random_state=0).fit(X, y_partial)
    >>> clf.classes_
    array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    """

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "classifier_architecture": [StrOptions(set(ARCHITECTURES)), None],
        "labelled_batch_size": [Interval(Integral, 1, None, closed="left"),
                                StrOptions({"auto"}), None],
        "learning_rate": [StrOptions({"auto", *LEARNING_RATES})],
    }

    _task = "classification"

    def __init__(
        self,
        n_components=16,
        *,
        hidden_layer_sizes=(256, 256),
        architecture="auto",
        classifier_architecture=None,
        image_shape=None,
        encoder=None,
        decoder=None,
        likelihood="bernoulli",
        beta=1.0,
        beta_warmup=0,
        alpha="auto",
        max_iter="auto",
        batch_size="auto",
        labelled_batch_size="auto",
        model="auto",
        learning_rate="auto",
        learning_rate_init="auto",
        weight_decay=0.0,
        tol=0.02,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="auto",
        n_threads="auto",
        precision="32",
        data_placement="auto",
        n_importance_samples=10,
        callbacks=None,
        verbose=0,
        random_state=None,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.architecture = architecture
        self.classifier_architecture = classifier_architecture
        self.image_shape = image_shape
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.beta = beta
        self.beta_warmup = beta_warmup
        self.alpha = alpha
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.labelled_batch_size = labelled_batch_size
        self.model = model
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.n_threads = n_threads
        self.precision = precision
        self.data_placement = data_placement
        self.n_importance_samples = n_importance_samples
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state

    # -- targets -----------------------------------------------------------------
    @staticmethod
    def _check_y(X, y):
        if y is None:
            raise ValueError(
                "VAEClassifier requires y to be passed, but the target y is None. "
                "Mark unlabelled rows with -1."
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(X, y)
        if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
            raise ValueError(
                "Input y contains NaN or infinity. Mark unlabelled rows with -1, "
                "not NaN."
            )
        _warn_string_minus_one(y)
        missing = _missing_labels(y)
        if missing.any():
            raise ValueError(
                f"y has a missing label (None or NaN) in {int(missing.sum())} row(s), the "
                f"first at row {int(np.argmax(missing))}. Mark unlabelled rows with the "
                "integer -1, as scikit-learn's semi-supervised estimators do."
            )
        return y

    def _validate_targets(self, y, reset, classes=None):
        unlabelled = _unlabelled_mask(y)
        labels = y[~unlabelled]
        if classes is not None:
            classes = column_or_1d(classes)
            if _unlabelled_mask(classes).any():
                raise ValueError(
                    f"classes={classes!r} contains -1, the marker of unlabelled rows, not a "
                    "class; list only the real class labels."
                )
            if not reset and not np.array_equal(np.sort(classes), self.classes_):
                raise ValueError(
                    f"classes={classes!r} differs from the classes_ of the first "
                    f"partial_fit call ({self.classes_!r}); pass the same classes, or none."
                )
        if reset and classes is not None:
            check_classification_targets(classes)
            self._label_encoder = LabelEncoder().fit(classes)
            self.classes_ = self._label_encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"classes must hold at least two labels, got {classes!r}."
                )
        elif reset:
            if labels.size == 0:
                raise ValueError(
                    "All rows of y are -1 (unlabelled): VAEClassifier needs labelled rows "
                    "of at least two classes. To learn from unlabelled data alone use "
                    "VAETransformer."
                )
            check_classification_targets(labels)
            self._label_encoder = LabelEncoder().fit(labels)
            self.classes_ = self._label_encoder.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    "VAEClassifier needs labelled rows of at least two classes; y has only "
                    f"one class ({self.classes_[0]!r}) besides the unlabelled -1."
                )
        unknown = ~np.isin(labels, self.classes_)
        if unknown.any():
            raise ValueError(
                f"y contains labels not in classes_: {np.unique(labels[unknown])!r}; "
                f"classes_ are {self.classes_!r} (pass every label in `classes` on the "
                "first partial_fit call)."
            )
        codes = np.full(len(y), UNLABELLED, dtype=np.int64)
        codes[~unlabelled] = self._label_encoder.transform(labels)
        return codes, self.classes_

    def _set_fitted(self, plan, net, X32, targets, first):
        super()._set_fitted(plan, net, X32, targets, first)
        codes = targets.copy()
        unlabelled = codes == UNLABELLED
        if unlabelled.any():
            if isinstance(X32, Rows) or is_file_backed(X32):
                # On disk: classify every row batch by batch, no in-memory copy of X.
                best = self._run("classify", X32).argmax(dim=1).numpy()[unlabelled]
            else:
                best = self._run("classify", X32[unlabelled]).argmax(dim=1).numpy()
            codes[unlabelled] = best
        self.transduction_ = self.classes_[codes]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the model on X and y; rows labelled -1 are unlabelled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; in [0, 1] for ``likelihood='bernoulli'``.
        y : array-like of shape (n_samples,)
            Class labels (ints, strings, ...); the integer -1 marks an unlabelled row.
        {{sample_weight}}

        Returns
        -------
        self : VAEClassifier
            The fitted estimator.
        """
        y = self._check_y(X, y)
        _check_label_weights(y, sample_weight)
        return self._fit(X, y, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one more epoch on X and y (starting a model if there is none).

        As in scikit-learn's incremental classifiers, the first call must list every
        class in ``classes`` (a batch may not hold them all); later calls may omit it.
        Early stopping does not apply here, and the step size is ``learning_rate_init``.
        Rows labelled -1 are unlabelled.

        Semi-supervised: with ``model='auto'`` the first call starts an ``'m2'`` model
        on the rows (so each call is one pass over its rows, unlabelled ones included);
        M1 + M2 is not chosen here, since M1 needs every row before M2 starts. With
        ``model='m1+m2'`` the first call fits M1 on that call's rows for ``max_iter``
        epochs (``'auto'``: as in ``fit``, about 4,000 gradient steps; pass a number to
        bound it) and then runs one pass of M2; later calls train M2 only, M1 staying
        frozen. A model fitted by ``fit`` keeps its model: ``partial_fit`` after an
        M1 + M2 ``fit`` trains its M2 on.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; in [0, 1] for ``likelihood='bernoulli'``.
        y : array-like of shape (n_samples,)
            Class labels; the integer -1 marks an unlabelled row.
        classes : array-like of shape (n_classes,), default=None
            Every class label. Required on the first call, ignored-but-checked later.
        {{sample_weight}}

        Returns
        -------
        self : VAEClassifier
            The estimator, trained one more epoch.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from skvae import VAEClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = VAEClassifier(n_components=4, random_state=0)
        >>> for start in range(0, 600, 200):
        ...     clf = clf.partial_fit(X[start:start + 200] / 16, y[start:start + 200],
        ...                           classes=range(10))
        >>> clf.n_iter_
        3
        """
        y = self._check_y(X, y)
        if not hasattr(self, "net_") and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit (every class "
                "label, e.g. classes=np.unique(y_all)): a batch may not hold them all."
            )
        return self._fit(X, y, partial=True, classes=classes, sample_weight=sample_weight)

    # -- prediction --------------------------------------------------------------
    def _logits(self, X):
        X, _ = self._check_fitted_X(X)
        return self._run("classify", X)

    def predict_proba(self, X):
        """Class probabilities ``q(y | x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return torch.softmax(self._logits(X).double(), dim=1).numpy()

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return torch.log_softmax(self._logits(X).double(), dim=1).numpy()

    def predict(self, X):
        """Most probable class under ``q(y | x)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        best = self._logits(X).argmax(dim=1).numpy()
        return self.classes_[best]

    # -- the generative side -----------------------------------------------------
    def transform(self, X):
        """Posterior mean of the latent code ``z``, given the predicted class (deterministic).

        The encoder ``q(z | x, y)`` is conditioned on the probabilities
        ``q(y | x)``, so no label is needed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            In X's floating dtype (float32 or float64).
        """
        return self._transform(X)

    def sample(self, n_samples=1, y=None, random_state=None):
        """Generate inputs: decode codes drawn from the model's prior, with classes.

        The prior is N(0, I) for the built-in models (a model object may bring its
        own: :meth:`skvae.models.Recipe.sample_latent`).

        Parameters
        ----------
        n_samples : int, default=1
            Number of inputs to generate.
        y : label or array-like of shape (n_samples,), default=None
            Class of each generated input (one label for all, or one per input),
            from ``classes_``. When None, classes are drawn uniformly.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of the codes (and of the classes when ``y`` is None).

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_)
            Decoded means (pixel probabilities in [0, 1] for ``'bernoulli'``).
        """
        rng = check_random_state(random_state)
        Z = self._sample_latent(n_samples, rng)
        k = len(self.classes_)
        if y is None:
            codes = rng.randint(k, size=len(Z))
        else:
            y = np.asarray(y)
            if y.ndim == 0:
                y = np.full(len(Z), y.item(), dtype=y.dtype)
            y = column_or_1d(y)
            if len(y) != len(Z):
                raise ValueError(
                    f"y has {len(y)} labels but n_samples={len(Z)}; pass one "
                    "label, or one per sample."
                )
            unknown = ~np.isin(y, self.classes_)
            if unknown.any():
                raise ValueError(
                    f"y contains labels not seen in fit: {np.unique(y[unknown])!r}; "
                    f"classes_ are {self.classes_!r}."
                )
            codes = self._label_encoder.transform(y)
        onehot = np.eye(k, dtype=np.float32)[codes]
        out = self._run("decode", np.concatenate([Z, onehot], axis=1))
        return self._answer_fit_dtype(out)

    def score_samples(self, X):
        """Per-sample lower bound on ``log p(x)`` in nats, importance-weighted.

        What is bounded depends on the fitted model (its recipe's ``score``):
        ``'shared-m2'`` (the default) and ``'m2'``: ``log p(x)`` with the class summed
        out, ``log sum_y p(y) p(x | y)`` over every class, each ``p(x | y)`` estimated
        with ``n_importance_samples``
        draws from ``q(z | x, y)`` (Burda et al. 2016); ``'m1+m2'``: ``log p(x)`` under
        M1, the model of the rows (M2 models M1's code), from ``n_importance_samples``
        draws of M1's ``q(z | x)``. The bound tightens as the draws grow (one draw: the
        ELBO); they come from a fixed seed, so the same X always gets the same scores,
        and they are taken in blocks, so memory stays bounded. Higher means X looks
        more like the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._score_samples(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

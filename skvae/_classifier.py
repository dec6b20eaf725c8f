"""VAEClassifier: a VAE and a classifier trained together, also from unlabelled rows."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_consistent_length, column_or_1d

from ._base import LEARNING_RATES, BaseVAE, epochs_for_steps, resolve_batch_size
from ._net import BatchIterator
from .nn import (
    ARCHITECTURES,
    M2,
    Classifier,
    JoinedBody,
    StackedM2,
    make_architecture,
    make_likelihood,
)

__all__ = ["VAEClassifier"]

#: Label of an unlabelled row (scikit-learn's semi-supervised convention).
UNLABELLED = -1

# The M1 of representation='code' (see VAEClassifier's Notes and docs/classifier.md):
# a small beta keeps more of the code in use (benchmarks/results/m1_codes.md), and its
# training length is set in gradient steps, so that small and large data sets alike
# get a trained code.
_M1_CODE_SIZE = 50
_M1_BETA = 0.1
_M1_IMAGE_HIDDEN = (256,)
# M2 models the row beside M1's code only for rows this narrow (twice M1's largest code;
# the 64 pixels of the 8x8 digits): on wider rows, 784 pixels say, a Gaussian M2 on the
# standardised row spends itself on the pixels and loses to an SVC (docs/classifier.md).
_ROWS_IN_M2 = 2 * _M1_CODE_SIZE
# Training length of M1 and of M2 on the code, in gradient steps: 4000, or 1000 with a
# conv M1 (a cost cap: its steps are the dearest). With max_iter='auto' only.
_CODE_STEPS = {"images": 1000, "other": 4000}
# max_iter='auto' with representation 'input': epochs.
_INPUT_EPOCHS = 100


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


class LabelledTopUpIterator(BatchIterator):
    """Training batches topped up with labelled rows (Kingma et al.'s labelled minibatch).

    Every batch of the shuffled pass gets ``labelled_batch_size`` extra labelled rows
    (targets other than -1), taken in turn from a shuffled pass over the labelled
    rows that starts again whenever it runs out: with few labels, each one is then
    seen many times per epoch. Reaches the net as skorch's ``iterator_train``.

    Parameters
    ----------
    dataset : skvae._net.TensorData
        Rows with targets, -1 marking an unlabelled row.
    batch_size : int
    shuffle : bool, default=True
    labelled_batch_size : int, default=0
        Labelled rows added to each batch (0: none, a plain :class:`BatchIterator`).
    """

    def __init__(self, dataset, batch_size, shuffle=True, labelled_batch_size=0):
        super().__init__(dataset, batch_size, shuffle)
        self.labelled_batch_size = int(labelled_batch_size or 0)

    def _labelled_stream(self, rows):
        """Endless shuffled passes over ``rows``, ``labelled_batch_size`` at a time."""
        k, pool = self.labelled_batch_size, rows[:0]
        while True:
            while len(pool) < k:
                pool = torch.cat([pool, rows[torch.randperm(len(rows)).to(rows.device)]])
            yield pool[:k]
            pool = pool[k:]

    def batch_rows(self):
        targets = self.dataset.targets
        extra = None
        if self.shuffle and self.labelled_batch_size and targets is not None:
            labelled = torch.nonzero(targets != UNLABELLED).flatten()
            if len(labelled):
                extra = self._labelled_stream(labelled)
        for idx in super().batch_rows():
            yield idx if extra is None else torch.cat([idx, next(extra)])


class VAEClassifier(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClassifierMixin, BaseVAE
):
    """Semi-supervised VAE classifier (Kingma et al., 2014, model M2).

    A classifier ``q(y | x)`` and a conditional VAE (encoder ``q(z | x, y)``,
    decoder ``p(x | z, y)``) trained together. The loss is the batch mean of the
    negative evidence lower bound plus ``alpha`` times the classification
    cross-entropy. Rows labelled ``-1`` are unlabelled, as in scikit-learn's
    :class:`~sklearn.semi_supervised.LabelSpreading`: for them the class is a latent
    variable, the bound is averaged over ``q(y | x)`` and they train the classifier
    through the generative model. ``predict`` reads ``q(y | x)``; ``transform`` gives
    the latent code; ``sample`` generates inputs, of chosen classes if asked.
    Training runs through a skorch net (``net_``) on CPU or GPU.

    Parameters
    ----------
    n_components : int, default=8
        Size of the continuous latent code ``z`` (the output of ``transform``).
    hidden_layer_sizes : sequence of int, default=(256, 128)
        Hidden widths of the encoder and of the classifier network; the decoder
        mirrors them.
    architecture : {'mlp', 'conv'}, default='mlp'
        ``'mlp'``: fully connected layers only. ``'conv'``: for images, two stride-2
        3 x 3 convolutions (32 and 64 channels) before the fully connected layers, and
        transposed convolutions mirroring them in the decoder. X stays 2-D (one
        flattened image per row); the model reshapes it with ``image_shape``.
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
        perfect-square number of features, else fit raises ValueError). Ignored by
        ``'mlp'`` networks apart from that check.
    encoder : torch.nn.Module, callable or None, default=None
        Your own encoder network, replacing the architecture's: a module mapping a
        batch of rows ``(n, n_features)`` to features of any shape ``(n, ...)``; skvae
        adds the linear Gaussian head of ``q(z | x)`` after it. A module is
        deep-copied at each fit (the one passed is never trained) and starts from
        the weights it has (``random_state`` does not reseed it: seed torch before
        building it, or pass a factory); a callable is a factory called as
        ``encoder(n_features)`` under the fit's seed, which returns a new module. Works
        with ``clone`` and ``GridSearchCV``; pickling the estimator needs a
        picklable factory (a class or module-level function, not a lambda).
    decoder : torch.nn.Module, callable or None, default=None
        Your own decoder, replacing the architecture's: maps codes ``(n, n_inputs)``
        to the likelihood's parameters ``(n, n_features)`` (logits for
        ``'bernoulli'``, means for ``'gaussian'``). A module is deep-copied at each
        fit; a callable is called as ``decoder(n_inputs, n_features)``.
        Here ``n_inputs`` is ``n_components`` plus the number of classes (the
        decoder reads ``[z, onehot(y)]``), and the classifier ``q(y | x)`` gets its
        own copy of ``encoder`` with a class head.
    likelihood : {'bernoulli', 'gaussian'}, default='bernoulli'
        Observation model ``p(x | z, y)``. ``'bernoulli'`` is for data in [0, 1]
        such as pixel intensities (X outside [0, 1] is an error); ``'gaussian'`` is
        for any real-valued data and learns one noise scale per feature.
    beta : float, default=1.0
        Weight of the KL terms (of ``z``, and of ``y`` for unlabelled rows).
    beta_warmup : int, default=0
        KL warm-up: the KL weight rises linearly from 0 in the first epoch to ``beta``
        at epoch ``beta_warmup + 1`` (Bowman et al. 2016, Sonderby et al. 2016), a
        cure for inactive latent dimensions. 0: ``beta`` from the start. The weight
        used at each epoch is in ``history_`` as ``kl_weight``.
    alpha : float, default=10.0
        Weight of the classification cross-entropy, which is averaged over the
        labelled rows of each batch (so ``alpha`` does not depend on the share of
        labelled rows). The negative bound is in nats per row, about the number
        of features times a fraction of a nat; ``alpha`` should be large enough
        that the cross-entropy is not drowned by it (see the user guide).
    max_iter : int or 'auto', default='auto'
        Number of training epochs (fewer if early stopping triggers). ``'auto'``: with
        ``representation`` ``'code'``, as many epochs as give 4,000 gradient steps
        (1,000 with a conv M1), for M1 and for M2; with ``'input'``, 100 epochs.
    batch_size : int or 'auto', default='auto'
        Rows per gradient step. ``'auto'``: 256 from 2,000 training rows on, else 128.
    labelled_batch_size : int, 'auto' or None, default='auto'
        Every training batch is topped up with this many labelled rows, taken in
        turn from a reshuffled pass over the labelled rows (as Kingma et al. draw a
        labelled and an unlabelled minibatch at each step). With few labels among
        many unlabelled rows, the classifier then sees each label many times per
        epoch instead of once. ``'auto'``: ``min(n_labelled, batch_size)`` when some
        rows are unlabelled, none when all are labelled. None: batches draw from all
        rows alike.
    representation : {'auto', 'input', 'code'}, default='auto'
        What M2 reads. ``'input'``: the rows themselves. ``'code'``: the M1 + M2 model
        of Kingma et al. (2014): a VAE (M1) is first fitted on every row without
        labels, then M2 learns the classes from M1's standardised code; on images
        with few labels this is far better than M2 on pixels, and much faster (M2's
        per-class decoder passes are then on a small code). M1's settings follow the
        data (see the user guide, ``docs/classifier.md``); ``architecture``,
        ``image_shape``, ``likelihood``, ``encoder`` and ``decoder`` apply to M1, while
        M2's encoder and decoder on the code are fully connected, with a Gaussian
        likelihood. M2's classifier reads the row and the code: the row through the
        image layers of ``classifier_architecture`` (``architecture`` when None; for
        ``'conv'`` its convolutions, new ones, not M1's; a user ``encoder`` whole), the
        code joined after them, then the hidden layers. ``'auto'``: ``'code'`` when
        some rows are unlabelled (-1), ``'input'`` when every row has a label.
    learning_rate : {'auto', 'constant', 'cosine'}, default='auto'
        Step-size schedule (scikit-learn's ``MLPClassifier`` name). ``'constant'``:
        ``learning_rate_init`` throughout. ``'cosine'``: decayed along a half cosine
        from ``learning_rate_init`` towards 0 over the ``max_iter`` epochs of a fit
        (Loshchilov & Hutter 2017), stepped after each epoch; the step size of each
        epoch is in ``history_`` as ``lr``. ``'auto'``: ``'cosine'`` when every row is
        labelled and ``q(y|x)`` is convolutional (``architecture`` or
        ``classifier_architecture`` ``'conv'``), where the last epochs then settle
        instead of wandering (measured on Fashion-MNIST, see the user guide);
        ``'constant'`` otherwise: for M1 + M2, whose settings were measured with it, and
        for a fully connected ``q(y|x)``, which measured no better with the decay on the
        digits. ``partial_fit`` trains at ``learning_rate_init`` (it runs one epoch per
        call).
    learning_rate_init : float, default=1e-3
        Initial step size of the AdamW optimiser (``MLPClassifier``'s name).
    weight_decay : float, default=0.0
        AdamW's decoupled weight decay (an L2-like penalty on the weights; called
        ``alpha`` in ``MLPClassifier``, a name skvae keeps for the classification
        weight of Kingma et al.).
    tol : float or None, default=None
        None trains for ``max_iter`` epochs (or until early stopping). A float stops
        training when the loss (the validation loss with ``early_stopping``, else the
        training loss) has not improved by at least ``tol`` nats per row for
        ``n_iter_no_change`` epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified by label, the
        unlabelled rows forming their own stratum) and stop when the validation
        loss has not improved for ``n_iter_no_change`` epochs; the best weights are kept.
    validation_fraction : float, default=0.1
        Share of rows held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Patience, in epochs, of early stopping and of ``tol``.
    device : str, default='auto'
        ``'auto'`` (a GPU when there is one), ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    precision : {'32', 'bf16-mixed'}, default='32'
        ``'bf16-mixed'`` runs the forward pass under bfloat16 autocast (the loss and
        the weights stay float32). Meant for GPUs with bfloat16 support (Ampere or
        newer), where it can shorten epochs; on CPU it runs but is usually slower.
        float16 with loss scaling is not offered.
    data_placement : {'auto', 'device', 'host'}, default='auto'
        Where the training data live during fit. ``'device'``: moved to the GPU once
        (fastest); ``'host'``: kept in pinned host memory, each batch copied with a
        non-blocking copy (for data larger than GPU memory); ``'auto'``: ``'host'``
        only when X would take more than half of the GPU's free memory. The same on
        CPU.
    n_importance_samples : int, default=10
        Importance samples per row in ``score_samples``, which estimates ``log p(x)``
        as in Burda et al. (2016): 1 gives a one-sample ELBO; more give a tighter
        lower bound (it rises towards ``log p(x)``) at proportional cost. Read when
        ``score_samples`` runs (it changes nothing fitted), so it can be set after fit.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks. They are copied at fit, never changed in place.
    verbose : int, default=0
        0 is silent; 1 shows skorch's progress bar and per-epoch table.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the reparameterisation noise.
        torch's global random state is left as it was.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (the unlabelled marker -1 excluded).
    representation_ : {'input', 'code'}
        What M2 reads in the fitted model (``representation`` with ``'auto'`` resolved).
    labelled_batch_size_ : int
        Labelled rows added to each training batch (``labelled_batch_size`` with
        ``'auto'`` resolved; 0 for none).
    transduction_ : ndarray of shape (n_samples,)
        A label for every row of the last ``fit`` (or ``partial_fit``) call: the given
        label for labelled rows, the predicted one for unlabelled rows (as
        :class:`~sklearn.semi_supervised.LabelSpreading` gives).
    net_ : skvae._net.VAENet
        The fitted skorch net; ``net_.module_`` is the :class:`skvae.nn.M2` module.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when X had string column names.
    n_components_ : int
        Size of the fitted latent code (``n_components`` at fit time; a later
        ``set_params`` changes nothing until the next ``fit``).
    image_shape_ : tuple of int or None
        ``(channels, height, width)`` the fitted model reads each row as: ``image_shape``
        checked against the features, or the square one-channel image a conv network
        takes when it is None; None for a model that does not read rows as images.
    n_iter_ : int
        Number of epochs run.
    loss_curve_ : list of float
        Training loss at each epoch.
    best_loss_ : float or None
        Lowest training loss of the fit (None with ``early_stopping``, as in
        ``MLPClassifier``).
    validation_scores_ : list of float or None
        Per-epoch validation score (the negative validation loss, higher is better)
        with ``early_stopping``, else None.
    best_validation_score_ : float or None
        Highest of ``validation_scores_`` (None without ``early_stopping``).
    history_ : skorch.History
        Per-epoch record: ``train_loss``, ``train_reconstruction``, ``train_kl``,
        ``train_classification``, ``dur``, and ``valid_*`` with early stopping.

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

    Per row the model minimises (see :class:`skvae.nn.M2`): for labelled rows
    ``-log p(x | z, y) + beta * (KL(q(z|x,y) || N(0, I)) + log K)
    + alpha * CE(q(y|x), y)``; for unlabelled rows the expectation over ``q(y | x)``
    of the first two terms plus ``beta * KL(q(y|x) || uniform)``, evaluated exactly by
    decoding the row under each of the ``K`` classes. The encoder's hidden layers run
    once per row and only its output layer and the decoder once per class, so an
    unlabelled row costs less than ``K`` labelled ones, but several.

    Choices, measured on digits with 10 % of the labels (see ``docs/classifier.md``):
    the cross-entropy is averaged over the labelled rows of each batch, so few labels
    are not drowned by many unlabelled rows; ``alpha=10`` beat 100 and 1000 there
    (a large ``alpha`` lets the classifier fit the few labels before the generative
    model shapes it); a small ``n_components`` keeps the class in ``y`` rather than
    in ``z``; and M2 needs many epochs, its gain over a labelled-only fit appearing
    only with longer training.

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
        "alpha": [Interval(Real, 0, None, closed="left")],
        "classifier_architecture": [StrOptions(set(ARCHITECTURES)), None],
        "labelled_batch_size": [Interval(Integral, 1, None, closed="left"),
                                StrOptions({"auto"}), None],
        "representation": [StrOptions({"auto", "input", "code"})],
        "learning_rate": [StrOptions({"auto", *LEARNING_RATES})],
    }

    _stratify = True

    def __init__(
        self,
        n_components=8,
        *,
        hidden_layer_sizes=(256, 128),
        architecture="mlp",
        classifier_architecture=None,
        image_shape=None,
        encoder=None,
        decoder=None,
        likelihood="bernoulli",
        beta=1.0,
        beta_warmup=0,
        alpha=10.0,
        max_iter="auto",
        batch_size="auto",
        labelled_batch_size="auto",
        representation="auto",
        learning_rate="auto",
        learning_rate_init=1e-3,
        weight_decay=0.0,
        tol=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        device="auto",
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
        self.representation = representation
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
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
        return y

    def _encode_targets(self, y, reset, classes=None):
        unlabelled = _unlabelled_mask(y)
        labels = y[~unlabelled]
        if classes is not None:
            classes = column_or_1d(classes)
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
        return codes

    def _after_fit(self, X32, targets):
        codes = targets.copy()
        unlabelled = codes == UNLABELLED
        if unlabelled.any():
            logits = self.net_.run_batched(self.net_.module_.classify, X32[unlabelled])
            codes[unlabelled] = logits.argmax(dim=1).numpy()
        self.transduction_ = self.classes_[codes]

    # -- model -------------------------------------------------------------------
    def _architectures(self):
        archs = [self._architecture()]
        if self.classifier_architecture is not None:
            archs.append(self._architecture(self.classifier_architecture))
        return archs

    def _build_module(self, n_features):
        k = len(self.classes_)
        archs = self._architectures()
        arch, clf_arch = archs[0], archs[-1]
        return M2(
            clf_arch.classifier(n_features, k),
            arch.encoder(n_features, self.n_components, n_condition=k),
            arch.decoder(self.n_components + k, n_features),
            self._make_likelihood(n_features),
            k,
        )

    def _loss_weights(self):
        return {"kl": self.beta, "classification": self.alpha}

    # -- M1 + M2 ---------------------------------------------------------------------
    def _resolve_training(self, n_rows, targets):
        """Settle representation, batch size, epochs and labelled top-up from the data."""
        unlabelled = np.any(targets == UNLABELLED)
        if self.representation == "auto":
            self.representation_ = "code" if unlabelled else "input"
        else:
            self.representation_ = self.representation
        self._train_batch_size = resolve_batch_size(self.batch_size, n_rows)
        if self.max_iter != "auto":
            self._train_max_iter = self.max_iter
        elif self.representation_ == "input":
            self._train_max_iter = _INPUT_EPOCHS
        else:
            steps = _CODE_STEPS["images" if self._images() else "other"]
            self._train_max_iter = epochs_for_steps(steps, n_rows, self._train_batch_size)
        if self.learning_rate != "auto":
            self._train_schedule = self.learning_rate
        else:  # measured: docs/classifier.md, "Fully labelled data"
            image_classifier = self._architectures()[-1].needs_image
            self._train_schedule = ("cosine" if not unlabelled and image_classifier
                                    and self.representation_ == "input" else "constant")
        n_labelled = int(np.sum(targets != UNLABELLED))
        if self.labelled_batch_size != "auto":
            self.labelled_batch_size_ = self.labelled_batch_size or 0
        else:  # labels in every batch when some rows are unlabelled
            self.labelled_batch_size_ = (min(n_labelled, self._train_batch_size)
                                         if unlabelled else 0)

    def _net_params(self):
        k = self.__dict__.get("labelled_batch_size_", 0)
        if not k:
            return {}
        return {"iterator_train": LabelledTopUpIterator,
                "iterator_train__labelled_batch_size": k}

    def _images(self):
        """Whether the architecture takes the rows as images (a conv net, for one)."""
        return self._architecture().needs_image

    def _code_model(self, n_features, seed):
        """The unsupervised M1 (a VAETransformer): the same batches and length as M2."""
        from ._transformer import VAETransformer

        images = self._images()
        return VAETransformer(
            n_components=max(2, min(_M1_CODE_SIZE, n_features // 2)),
            hidden_layer_sizes=_M1_IMAGE_HIDDEN if images else self.hidden_layer_sizes,
            architecture=self.architecture, image_shape=self.image_shape,
            encoder=self.encoder, decoder=self.decoder, likelihood=self.likelihood,
            beta=_M1_BETA, max_iter=self._train_max_iter, batch_size=self._train_batch_size,
            learning_rate=self._train_schedule, learning_rate_init=self.learning_rate_init,
            device=self.device, precision=self.precision, data_placement=self.data_placement,
            verbose=self.verbose, random_state=seed,
        )

    def _new_net(self, X32, targets, device, early_stopping):
        if self.representation_ == "input":
            return super()._new_net(X32, targets, device, early_stopping)
        # M1: a VAE on every row, no labels. Its seed comes from this fit's seed.
        seed = int(torch.randint(2**31 - 1, ()))
        m1 = self._code_model(X32.shape[1], seed)
        m1._progress_stage = ("M1", "stage 1 of 2: a VAE on every row, without labels")
        m1.fit(X32)
        features = m1.transform(X32)
        # M2 models the row and its code side by side for narrow rows that are not
        # images (measured best on the 8x8 digits, docs/classifier.md), else the code.
        rows_in_m2 = not self._images() and X32.shape[1] <= _ROWS_IN_M2
        if rows_in_m2:
            features = np.concatenate([X32, features], axis=1)
        loc = features.mean(axis=0)
        scale = features.std(axis=0)
        scale[scale < 1e-6] = 1.0  # a constant feature stays as it is
        features = np.ascontiguousarray((features - loc) / scale, dtype=np.float32)
        n_m2, k, n_rows = features.shape[1], len(self.classes_), X32.shape[1]
        arch = make_architecture("mlp", self._hidden_sizes())
        # q(y | .) reads [row, code] (M2's own input, or the raw row beside the code): the
        # row through the classifier architecture's own row layers (a conv net's
        # convolutions, freshly initialised; none for 'mlp'), the code joined after them,
        # then the fully connected layers (docs/classifier.md).
        n_code = n_m2 - n_rows if rows_in_m2 else n_m2
        body = JoinedBody(self._architectures()[-1].row_body(n_rows), n_rows, n_code,
                          self._hidden_sizes())
        classifier = Classifier(body, body.n_hidden, k)
        m2 = M2(classifier, arch.encoder(n_m2, self.n_components, k),
                arch.decoder(self.n_components + k, n_m2),
                make_likelihood("gaussian", n_m2), k)
        module = StackedM2(m1.net_.module_, m2, torch.as_tensor(loc), torch.as_tensor(scale),
                           model_input="rows_and_code" if rows_in_m2 else "code",
                           classifier_input="model_input" if rows_in_m2 else "with_rows")
        net = self._make_net(module, device, early_stopping,
                             stage=("M2", "stage 2 of 2: the classes, on M1's code"))
        net.initialize()
        # M1 is frozen: M2's input is computed once here, not at every step.
        return net, {"x": X32, "m2_input": features}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the model on X and y; rows labelled -1 are unlabelled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; in [0, 1] for ``likelihood='bernoulli'``.
        y : array-like of shape (n_samples,)
            Class labels (ints, strings, ...); the integer -1 marks an unlabelled row.

        Returns
        -------
        self : VAEClassifier
            The fitted estimator.
        """
        return self._fit(X, self._check_y(X, y))

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None):
        """Train for one more epoch on X and y (starting a model if there is none).

        As in scikit-learn's incremental classifiers, the first call must list every
        class in ``classes`` (a batch may not hold them all); later calls may omit it.
        Early stopping does not apply here. Rows labelled -1 are unlabelled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; in [0, 1] for ``likelihood='bernoulli'``.
        y : array-like of shape (n_samples,)
            Class labels; the integer -1 marks an unlabelled row.
        classes : array-like of shape (n_classes,), default=None
            Every class label. Required on the first call, ignored-but-checked later.

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
        return self._fit(X, y, partial=True, classes=classes)

    # -- prediction --------------------------------------------------------------
    def _logits(self, X):
        X, _ = self._check_fitted_X(X)
        return self.net_.run_batched(self.net_.module_.classify, X)

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
        """Generate inputs: decode codes drawn from N(0, I) together with classes.

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
            if _num_samples(y) != len(Z):
                raise ValueError(
                    f"y has {_num_samples(y)} labels but n_samples={len(Z)}; pass one "
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
        out = self.net_.run_batched(
            self.net_.module_.decode_mean, np.concatenate([Z, onehot], axis=1)
        )
        return self._answer_fit_dtype(out)

    def score_samples(self, X):
        """Per-sample log-likelihood ``log p(x)`` in nats, the class summed out.

        ``log sum_y p(y) p(x | y)`` over every class, each ``p(x | y)`` estimated
        with ``n_importance_samples`` draws from ``q(z | x, y)`` (Burda et al. 2016):
        a lower bound on ``log p(x)`` that tightens as the draws grow. The draws come
        from a fixed seed, so the same X always gets the same scores. Higher means X
        looks more like the training data.

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

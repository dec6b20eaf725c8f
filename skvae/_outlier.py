"""VAEOutlierDetector: novelty detection with a VAE, in scikit-learn's outlier API.

The module runs over 400 lines: the estimator's explicit signature and numpydoc
docstring (as long as ``VAETransformer``'s) and its five score methods belong together.
"""

import copy
import math
import zlib
from numbers import Real

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin, OutlierMixin, TransformerMixin

from ._base import BaseVAE, check_sample_weight
from ._compat import Interval, StrOptions, _fit_context
from ._docs import fill

__all__ = ["SCORE_METHODS", "VAEOutlierDetector"]

#: The values of ``score_method``, each with what it scores (higher = more normal).
SCORE_METHODS = {
    "reconstruction": "minus the squared error of the reconstruction from the posterior mean",
    "likelihood": "the importance-weighted bound on log p(x), in nats",
    "complexity": "log p(x) plus the row's compressed length in nats (Serra et al. 2020)",
    "latent": "log-density of the posterior mean under a Gaussian fitted to the training codes",
    "combined": "the sum of 'reconstruction' and 'latent', each standardised on the "
                "training rows",
}

_LOWEST = -np.finfo(np.float64).max


@fill
class VAEOutlierDetector(ClassNamePrefixFeaturesOutMixin, TransformerMixin, OutlierMixin,
                         BaseVAE):
    """Novelty detection with a variational autoencoder, in scikit-learn's outlier API.

    Fits a VAE (as :class:`VAETransformer` does) to data that are assumed normal, then
    scores rows by how normal they look to it. As with :class:`~sklearn.svm.OneClassSVM`
    or :class:`~sklearn.ensemble.IsolationForest`, ``score_samples`` is higher for more
    normal rows, ``decision_function`` is ``score_samples - offset_`` (negative for
    outliers) and ``predict`` gives +1 for inliers and -1 for outliers, with ``offset_``
    set so that a share ``contamination`` of the training rows is flagged.

    The default score combines the reconstruction error with the density of the row's
    code among the training rows' codes; it is not the likelihood: on images a VAE's
    ``log p(x)`` favours simple images (few or uniform pixels) whatever they show
    (Nalisnick et al. 2019), so a model fitted on T-shirts rates trousers as more likely
    than T-shirts. ``score_method`` picks another score; the user guide's page
    on novelty detection compares them.

    Parameters
    ----------
    n_components : int, default=16
        Size of the latent code (the output features of ``transform``).
    hidden_layer_sizes : int or sequence of int, default=(256,)
        Widths of the encoder's fully connected hidden layers; the decoder mirrors them.
    {{architecture}}
    image_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of one image for ``architecture='conv'``; rows of X
        are images flattened channels first.
    {{encoder}}
    {{decoder}}
    likelihood : {'bernoulli', 'gaussian'}, default='bernoulli'
        Observation model ``p(x | z)``. ``'bernoulli'`` is for data in [0, 1] such as
        pixel intensities (X outside [0, 1] is an error in ``fit`` and ``score_samples``);
        ``'gaussian'`` is for any real-valued data.
    model : {'auto', 'vae', 'vampprior'}, str or model object, default='auto'
        The generative model: an unsupervised key of :data:`skvae.models.MODELS`, or
        a model object (a :class:`skvae.models.Recipe`, tuned as ``model__<setting>``).
    beta : float, default=1.0
        Weight of the KL term (1: the plain VAE).
    score_method : {'reconstruction', 'likelihood', 'complexity', 'latent', \
'combined'}, default='combined'
        What ``score_samples`` returns (higher = more normal):

        - ``'reconstruction'``: minus the squared error between the row and its
          reconstruction from the posterior mean.
        - ``'likelihood'``: the importance-weighted lower bound on ``log p(x)`` in nats
          (Burda et al. 2016) from ``n_importance_samples`` draws, as
          ``VAETransformer.score_samples``. Biased towards simple images.
        - ``'complexity'``: ``log p(x)`` plus the length of the row compressed by zlib
          (8-bit values), in nats: the input-complexity correction of Serra et al.
          (2020), for images against images. Noise does not compress, so the
          correction can rate it as normal.
        - ``'latent'``: log-density of the posterior mean under a Gaussian fitted to
          the training rows' posterior means.
        - ``'combined'``: ``'reconstruction'`` plus ``'latent'``, each standardised by
          the mean and standard deviation of its training scores. The default: it
          measured best on validation splits of the digits and of Fashion-MNIST's
          training set (the user guide's page on novelty detection).

        Every method is deterministic: the same row always gets the same score.

        Read at fit (``offset_`` is computed with it).
    contamination : float, default=0.1
        Share of the training rows that ``predict`` flags as outliers, in (0, 0.5]:
        ``offset_`` is that percentile of the training scores.
    {{beta_warmup}}
    max_iter : int or 'auto', default='auto'
        Number of training epochs. ``'auto'``: as many epochs as give about 2,400
        gradient steps, at most 500 (100 epochs for 6,000 rows at 256 rows per step;
        500 epochs, one step each, for 128 rows or fewer).
    {{batch_size}}
    learning_rate : {'constant', 'cosine'}, default='constant'
        Step-size schedule: ``learning_rate_init`` throughout, or a half cosine to 0.
    {{learning_rate_init weight_decay tol}}
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when the validation loss
        has not improved for ``n_iter_no_change`` epochs.
    {{validation_fraction n_iter_no_change device n_threads precision data_placement}}
    n_importance_samples : int, default=10
        Importance samples per row for ``score_method='likelihood'`` and
        ``'complexity'`` (1: the ELBO). Read at fit, as the offset depends on it.
    {{callbacks}}
    {{verbose random_state}}

    Attributes
    ----------
    offset_ : float
        ``decision_function`` is ``score_samples - offset_``: the ``100 *
        contamination`` percentile of the training rows' scores.
    score_method_ : str
        The ``score_method`` the detector was fitted with.
    {{model_ plan_}}
    net_ : skvae._net.VAENet
        The fitted skorch net; ``net_.module_`` is the :class:`skvae.nn.VAE`.
    {{n_features_in_ feature_names_in_ n_components_ image_shape_ n_iter_}}
    loss_curve_ : list of float
        Training loss (negative ELBO per sample, in nats, beta-weighted) at each epoch.
    {{best_loss_ validation_scores_ best_validation_score_}}
    history_ : skorch.History
        Per-epoch record of the training.

    See Also
    --------
    VAETransformer : The VAE as a transformer; its ``score_samples`` is ``log p(x)``.
    sklearn.svm.OneClassSVM : Kernel novelty detection.
    sklearn.ensemble.IsolationForest : Tree-based outlier detection.

    References
    ----------
    E. Nalisnick et al., "Do Deep Generative Models Know What They Don't Know?", ICLR
    2019. J. Serra et al., "Input Complexity and Out-of-distribution Detection with
    Likelihood-based Generative Models", ICLR 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAEOutlierDetector
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> detector = VAEOutlierDetector(max_iter=100, random_state=0)
    >>> detector = detector.fit(X[y == 0])  # the zeros are normal
    >>> round(float(np.mean(detector.predict(X[y == 0]) == -1)), 2)  # contamination=0.1
    0.1
    >>> bool(np.mean(detector.predict(X[y == 1]) == -1) > 0.9)  # most ones are outliers
    True
    >>> bool(detector.decision_function(X[y == 0]).mean() > 0)
    True
    """

    #: max_iter='auto' aims at this many gradient steps, in at most this many epochs
    #: (VAETransformer: 5,000 in at most 100). 2,400 steps are the 100 epochs of one
    #: Fashion-MNIST class (6,000 rows, 24 steps each) that the validation split measured;
    #: up to 500 epochs give a class of 100 digits 500 steps instead of 100, which
    #: raised its validation AUROC (docs/outliers.md).
    _auto_training = {"auto_steps": 2400, "auto_max_epochs": 500}

    _parameter_constraints: dict = {
        **BaseVAE._parameter_constraints,
        "score_method": [StrOptions(set(SCORE_METHODS))],
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(
        self,
        n_components=16,
        *,
        hidden_layer_sizes=(256,),
        architecture="auto",
        image_shape=None,
        encoder=None,
        decoder=None,
        likelihood="bernoulli",
        model="auto",
        beta=1.0,
        score_method="combined",
        contamination=0.1,
        beta_warmup=0,
        max_iter="auto",
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
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
        self.image_shape = image_shape
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihood
        self.model = model
        self.beta = beta
        self.score_method = score_method
        self.contamination = contamination
        self.beta_warmup = beta_warmup
        self.max_iter = max_iter
        self.batch_size = batch_size
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

    # -- fitting -----------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the VAE on rows assumed normal, then set ``offset_`` from their scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (normal rows, with at most a share ``contamination`` of
            outliers); in [0, 1] for ``likelihood='bernoulli'``.
        y : None
            Ignored (labels are not used, as in scikit-learn's detectors).
        {{sample_weight}}
            ``offset_`` is computed from the unweighted scores of the rows of positive
            weight.

        Returns
        -------
        self : VAEOutlierDetector
            The fitted detector.
        """
        state = dict(self.__dict__)
        try:
            self._fit(X, sample_weight=sample_weight)
            self.score_method_ = self.score_method
            self._n_draws_ = int(self.n_importance_samples)
            X_valid, _ = self._check_fitted_X(X, strict=True)
            self._set_score_statistics(X_valid)
            scores = self._scores(X_valid)
            weights = check_sample_weight(sample_weight, len(scores))
            if weights is not None:
                scores = scores[weights > 0]
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(state)
            raise
        return self

    def _set_score_statistics(self, X):
        """What the scores need from the training rows: code Gaussian, standardisers."""
        self._latent_mean_ = self._latent_cov_chol_ = None
        self._standardise_ = self._value_range_ = None
        if self.score_method_ == "complexity":  # the 8-bit range of a row's values
            lows, highs = zip(*((float(np.min(X[i:i + 4096])), float(np.max(X[i:i + 4096])))
                                for i in range(0, len(X), 4096)), strict=True)
            self._value_range_ = (min(lows), max(highs))
        if self.score_method_ in ("latent", "combined"):
            codes = self._codes64(X)
            mean = codes.mean(axis=0)
            centred = codes - mean
            cov = centred.T @ centred / max(1, len(codes) - 1)
            # A small ridge keeps the Gaussian proper when few rows or unused dimensions
            # make the covariance singular.
            ridge = 1e-6 * max(float(np.trace(cov)) / len(cov), 1e-12)
            cov = cov + ridge * np.eye(len(cov))
            self._latent_mean_ = mean
            self._latent_cov_chol_ = np.linalg.cholesky(cov)
        if self.score_method_ == "combined":
            parts = [self._reconstruction_scores(X), self._latent_scores(X)]
            self._standardise_ = [(float(p.mean()), float(p.std()) or 1.0) for p in parts]

    # -- scores --------------------------------------------------------------------------
    def _module64(self):
        return copy.deepcopy(self.net_.module_).double()

    def _codes64(self, X):
        module = self._module64()
        return self.net_.run_batched(lambda xb: module.encode(xb)[0], X, dtype=np.float64,
                                     pad=False).numpy()

    def _reconstruction_scores(self, X):
        module = self._module64()

        def minus_error(xb):
            recon = module.decode_mean(module.encode(xb)[0])
            return -((xb.reshape(len(xb), -1) - recon) ** 2).sum(dim=1)

        return self.net_.run_batched(minus_error, X, dtype=np.float64, pad=False).numpy()

    def _latent_scores(self, X):
        codes = self._codes64(X) - self._latent_mean_
        k = codes.shape[1]
        chol = self._latent_cov_chol_
        solved = np.linalg.solve(chol, codes.T).T
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        return -0.5 * ((solved**2).sum(axis=1) + log_det + k * math.log(2 * math.pi))

    def _likelihood_scores(self, X):
        saved = self.n_importance_samples
        try:  # the draws fixed at fit, whatever n_importance_samples is now
            self.n_importance_samples = self._n_draws_
            return self._score_samples(X)
        finally:
            self.n_importance_samples = saved

    def _complexity_nats(self, X):
        """zlib's length of each row in nats, its values quantised to 8 bits."""
        support = type(self.net_.module_.likelihood).support
        low, high = support if support is not None else self._value_range_
        span = (high - low) or 1.0
        lengths = []
        for start in range(0, len(X), 4096):  # X on disk: a chunk at a time
            chunk = np.asarray(X[start:start + 4096], dtype=np.float64)
            q = np.clip(np.rint((chunk - low) / span * 255.0), 0, 255).astype(np.uint8)
            lengths += [len(zlib.compress(row.tobytes(), 9)) for row in q]
        return 8 * math.log(2) * np.array(lengths, dtype=np.float64)

    def score_samples(self, X):
        """How normal each row looks to the model: higher is more normal.

        What the score is depends on ``score_method`` (see its description); the
        default adds the standardised reconstruction score and code density. Not a
        probability and not comparable between score methods; ``decision_function``
        puts the threshold at 0. The same X always gets the same scores, each row's
        independent of the others.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            In the likelihood's range (within [0, 1] for ``'bernoulli'``).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Finite float64 scores.
        """
        X, _ = self._check_fitted_X(X, strict=True)
        return self._scores(X)

    def _scores(self, X):
        """:meth:`score_samples` of validated X."""
        method = self.score_method_
        if method == "reconstruction":
            scores = self._reconstruction_scores(X)
        elif method == "latent":
            scores = self._latent_scores(X)
        elif method == "likelihood":
            scores = self._likelihood_scores(X)
        elif method == "complexity":
            scores = self._likelihood_scores(X) + self._complexity_nats(X)
        else:  # combined
            parts = [self._reconstruction_scores(X), self._latent_scores(X)]
            scores = sum((p - m) / s for p, (m, s) in zip(parts, self._standardise_, strict=True))
        # Finite input can take float64 to its limits (a huge row's error overflows):
        # such a row is as far from normal as a score can say.
        return np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=_LOWEST,
                             posinf=_LOWEST, neginf=_LOWEST)

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers and -1 for outliers (``decision_function`` below 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            +1 or -1.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    # -- the VAE's own methods ------------------------------------------------------------
    def transform(self, X):
        """Encode X as the posterior mean of its latent code (deterministic).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
        """
        return self._transform(X)

    def inverse_transform(self, X):
        """Decode latent codes into the mean of ``p(x | z)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, as returned by :meth:`transform`.

        Returns
        -------
        X_decoded : ndarray of shape (n_samples, n_features_in_)
        """
        Z, dtype = self._check_latent(X)
        return self._answer(self._run("decode", Z), dtype)

    def sample(self, n_samples=1, random_state=None):
        """Generate new inputs: decode codes drawn from the N(0, I) prior.

        Parameters
        ----------
        n_samples : int, default=1
            Number of inputs to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of the codes.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_)
        """
        Z = self._sample_latent(n_samples, random_state)
        return self._answer_fit_dtype(self._run("decode", Z))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


"""VAETransformer: an unsupervised variational autoencoder as a scikit-learn transformer."""

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin

from ._base import BaseVAE
from ._compat import _fit_context
from ._docs import fill

__all__ = ["VAETransformer"]


@fill
class VAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseVAE):
    """Variational autoencoder (Kingma & Welling, 2013) as a scikit-learn transformer.

    Learns, without labels, an encoder ``q(z | x)`` and a decoder ``p(x | z)`` by
    maximising the evidence lower bound (ELBO). ``transform`` gives the posterior
    mean of the latent code, ready for an SVM or a logistic regression in a
    :class:`~sklearn.pipeline.Pipeline`; ``inverse_transform`` decodes codes back to
    inputs; ``sample`` generates new inputs; ``score_samples`` is the per-sample ELBO.
    Training runs through a skorch net (``net_``) on CPU or GPU.

    The loss minimised is the batch mean of the per-sample reconstruction negative
    log-likelihood plus ``beta`` times the analytic KL divergence to the N(0, I) prior
    (``beta=1`` is the plain VAE, other values a beta-VAE). The defaults make features
    for a classifier downstream (``beta=0.1``, 50 dimensions): for generating with
    ``sample`` or scoring with ``score_samples``, ``beta=1`` is the plain VAE.

    Parameters
    ----------
    n_components : int, default=50
        Size of the latent code (the number of output features of ``transform``).
        With ``beta`` below 1 a code uses many of its dimensions; dimensions the data
        do not need stay near 0 for every row (see the user guide on choosing it).
    hidden_layer_sizes : int or sequence of int, default=(256,)
        Widths of the encoder's fully connected hidden layers; the decoder mirrors them.
        With ``architecture='conv'`` these come after the convolutions. One layer
        measured better than ``(256, 128)`` for codes fed to an SVC (Fashion-MNIST).
    {{architecture}}
    image_shape : tuple of int or None, default=None
        ``(channels, height, width)`` of one image, e.g. ``(1, 28, 28)``; rows of X are
        images flattened channels first (``images.reshape(n, -1)``). Its product must
        equal the number of features. None with ``architecture='conv'`` takes a square
        one-channel image (needs a perfect-square number of features, else fit raises
        ValueError). Given, it makes ``architecture='auto'`` convolutional; ignored by
        ``architecture='mlp'`` apart from that check.
    {{encoder}}
    {{decoder}}
    likelihood : {'bernoulli', 'gaussian'}, default='bernoulli'
        Observation model ``p(x | z)``. ``'bernoulli'`` is for data in [0, 1] such as
        pixel intensities (X outside [0, 1] is an error); ``'gaussian'`` is for any
        real-valued data and learns one noise scale per feature.
    model : {'auto', 'vae', 'vampprior'}, str or model object, default='auto'
        The generative model: an unsupervised key of :data:`skvae.models.MODELS` (a
        model you register there works too), or a model object with its own settings
        (a :class:`skvae.models.Recipe`, e.g.
        ``skvae.models.vampprior.VampPriorVAE(n_pseudo_inputs=100)``, tuned by
        ``GridSearchCV`` as ``model__n_pseudo_inputs``; it is copied at each fit,
        never changed). ``'auto'`` and ``'vae'``: the VAE with the N(0, I) prior;
        ``'vampprior'``: the VAE with a learnt mixture prior (Tomczak & Welling 2018).
    beta : float, default=0.1
        Weight of the KL term (beta-VAE). Larger values give smoother, less detailed codes.
        Smaller ones keep more of the code in use, at the cost of worse samples from
        the prior. The default 0.1 is for features in front of a classifier: with it
        and 50 dimensions, a conv code on Fashion-MNIST feeds an SVC as well as the
        pixels do and better than ``PCA(50)``, and on the 8 x 8 digits an MLP code
        scores 0.980 with an SVC against 0.941 with ``beta=1`` and 16 dimensions (see
        the user guide's page on choosing ``beta``). ``beta=1`` is the plain VAE, the
        one to use for ``sample`` and for a tight ``score_samples``.
    {{beta_warmup}}
    max_iter : int or 'auto', default='auto'
        Number of training epochs (fewer if early stopping triggers). ``'auto'``: as
        many epochs as give about 5,000 gradient steps, at most 100 (100 epochs up to
        12,800 rows at 256 rows per step; 22 epochs for 60,000 rows).
    {{batch_size}}
    learning_rate : {'constant', 'cosine'}, default='constant'
        Step-size schedule (scikit-learn's ``MLPClassifier`` name). ``'constant'``:
        ``learning_rate_init`` throughout. ``'cosine'``: decayed along a half cosine
        from ``learning_rate_init`` towards 0 over the ``max_iter`` epochs of a fit
        (Loshchilov & Hutter 2017), stepped after each epoch; the step size of each
        epoch is in ``history_`` as ``lr``. ``partial_fit`` trains at
        ``learning_rate_init`` (it runs one epoch per call).
    {{learning_rate_init weight_decay tol}}
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows and stop when the validation loss
        has not improved (by a relative 1e-4) for ``n_iter_no_change`` epochs; the best
        weights are kept. ``tol`` plays no part in it.
    {{validation_fraction n_iter_no_change device n_threads precision}}
    {{data_placement n_importance_samples}}
    {{callbacks}}
    {{verbose random_state}}

    Attributes
    ----------
    {{model_ plan_}}
    net_ : skvae._net.VAENet
        The fitted skorch net; ``net_.module_`` is the :class:`skvae.nn.VAE`.
    {{n_features_in_ feature_names_in_ n_components_ image_shape_ n_iter_}}
    loss_curve_ : list of float
        Training loss (negative ELBO per sample, in nats, beta-weighted) at each epoch.
    {{best_loss_ validation_scores_ best_validation_score_}}
    history_ : skorch.History
        Per-epoch record: ``train_loss``, ``train_reconstruction``, ``train_kl``,
        each term's weighted share of the loss (``train_loss_reconstruction``,
        ``train_loss_kl``: they sum to ``train_loss``; drawn by
        :func:`skvae.plotting.plot_history`), ``dur``, and the ``valid_*`` counterparts
        with early stopping.

    See Also
    --------
    VAEClassifier : A VAE and a classifier trained together, also semi-supervised.
    VAEOutlierDetector : Novelty detection with a VAE (scikit-learn's outlier API).
    sklearn.decomposition.PCA : The linear counterpart.
    sklearn.neural_network.BernoulliRBM : Another generative feature learner.

    References
    ----------
    D. P. Kingma and M. Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    I. Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained
    Variational Framework", ICLR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> X = X / 16.0
    >>> vae = VAETransformer(n_components=4, max_iter=5, random_state=0).fit(X)
    >>> vae.transform(X[:3]).shape
    (3, 4)
    >>> vae.inverse_transform(vae.transform(X[:3])).shape
    (3, 64)
    >>> vae.sample(2, random_state=0).shape
    (2, 64)

    The same digits as 8 x 8 one-channel images, through a convolutional VAE:

    >>> conv = VAETransformer(n_components=4, architecture="conv", image_shape=(1, 8, 8),
    ...                       max_iter=2, random_state=0).fit(X)
    >>> conv.transform(X[:3]).shape
    (3, 4)
    """

    def __init__(
        self,
        n_components=50,
        *,
        hidden_layer_sizes=(256,),
        architecture="auto",
        image_shape=None,
        encoder=None,
        decoder=None,
        likelihood="bernoulli",
        model="auto",
        beta=0.1,
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Train the VAE on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; in [0, 1] for ``likelihood='bernoulli'``.
        y : None
            Ignored; present for API consistency.
        {{sample_weight}}

        Returns
        -------
        self : VAETransformer
            The fitted estimator.
        """
        return self._fit(X, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one more epoch on X (starting a model if there is none).

        Early stopping does not apply here. Later calls must pass the same features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.
        {{sample_weight}}

        Returns
        -------
        self : VAETransformer
        """
        return self._fit(X, partial=True, sample_weight=sample_weight)

    def transform(self, X):
        """Encode X as the posterior mean of its latent code (deterministic).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            In X's floating dtype (float32 or float64).
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
            Probabilities in [0, 1] for ``'bernoulli'``, means for ``'gaussian'``.
        """
        Z, dtype = self._check_latent(X)
        return self._answer(self._run("decode", Z), dtype)

    def sample(self, n_samples=1, random_state=None):
        """Generate new inputs: decode codes drawn from the model's prior.

        N(0, I) for the VAE; a mixture of the posteriors at the pseudo-inputs for the
        VampPrior (a model object brings its own: ``Recipe.sample_latent``).

        Samples look like the data only when the model's codes match the prior: fit
        with ``beta=1`` (the plain VAE) for generation. The default ``beta=0.1`` makes
        features for a classifier and leaves parts of the prior unused, so its samples
        come out blurry or mixed; a conv ``architecture`` sharpens images further.

        Parameters
        ----------
        n_samples : int, default=1
            Number of inputs to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of the codes.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_in_)
            The decoded means (pixel probabilities in [0, 1] for ``'bernoulli'``), the
            usual way VAE samples are shown.
        """
        Z = self._sample_latent(n_samples, random_state)
        return self._answer_fit_dtype(self._run("decode", Z))

    def score_samples(self, X):
        """Per-sample log-likelihood ``log p(x)`` in nats, importance-weighted.

        The estimate of Burda et al. (2016) with ``n_importance_samples`` draws from
        ``q(z | x)``: a lower bound on ``log p(x)`` that tightens as the draws grow
        (one draw: the ELBO). The draws come from a fixed seed, so the same X always
        gets the same scores. X must lie in the likelihood's range.

        It is a density, not a novelty score: on images a likelihood favours simple
        inputs (flat backgrounds, few strokes) over typical training images (Nalisnick
        et al. 2019), so an image unlike any training image can score higher than the
        training images themselves. To find outliers use :class:`VAEOutlierDetector`,
        whose default score does not have this bias.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self._score_samples(X)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over X, in nats (higher is better).

        Lets ``GridSearchCV`` tune an unsupervised ``VAETransformer`` on its own.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(self.score_samples(X).mean())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

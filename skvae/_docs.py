"""Docstring text shared by the estimators, written once.

An estimator's docstring names a shared entry on a line of its own, ``{{name}}`` (or
``{{name other}}`` for several), in its Parameters or Attributes section; :func:`fill`
puts the text there, indented to the section. Entries that differ between the
estimators stay in each docstring.
"""

import re

__all__ = ["DOCS", "fill"]

DOCS = {
    "architecture": """\
architecture : {'auto', 'mlp', 'conv'}, default='auto'
    ``'mlp'``: fully connected layers only. ``'conv'``: for images, two stride-2
    3 x 3 convolutions (32 and 64 channels) before the fully connected layers, and
    transposed convolutions mirroring them in the decoder. X stays 2-D (one
    flattened image per row); the model reshapes it with ``image_shape``.
    ``'auto'``: ``'conv'`` when ``image_shape`` is given, ``'mlp'`` otherwise (the
    choice is in ``plan_``).""",
    "encoder": """\
encoder : torch.nn.Module, callable or None, default=None
    Your own encoder network, replacing the architecture's: a module mapping a
    batch of rows ``(n, n_features)`` to features of any shape ``(n, ...)``; skvae
    adds the linear Gaussian head of ``q(z | x)`` after it. A module is
    deep-copied at each fit (the one passed is never trained) and starts from
    the weights it has (``random_state`` does not reseed it: seed torch before
    building it, or pass a factory); a callable is a factory called as
    ``encoder(n_features)`` under the fit's seed, which returns a new module. Works
    with ``clone`` and ``GridSearchCV``; pickling the estimator needs a
    picklable factory (a class or module-level function, not a lambda).""",
    "decoder": """\
decoder : torch.nn.Module, callable or None, default=None
    Your own decoder, replacing the architecture's: maps codes ``(n, n_inputs)``
    to the likelihood's parameters ``(n, n_features)`` (logits for
    ``'bernoulli'``, means for ``'gaussian'``). A module is deep-copied at each
    fit; a callable is called as ``decoder(n_inputs, n_features)``. Its output width
    is checked when the model is built.""",
    "beta_warmup": """\
beta_warmup : int, default=0
    KL warm-up: the KL weight rises linearly from 0 in the first epoch to ``beta``
    at epoch ``beta_warmup + 1`` (Bowman et al. 2016, Sonderby et al. 2016), a
    cure for inactive latent dimensions. 0: ``beta`` from the start. The weight
    used at each epoch is in ``history_`` as ``kl_weight``.""",
    "batch_size": """\
batch_size : int or 'auto', default='auto'
    Rows per gradient step. ``'auto'``: 256 from 2,000 training rows on, else 128.""",
    "learning_rate_init": """\
learning_rate_init : float, default=1e-3
    Initial step size of the AdamW optimiser (``MLPClassifier``'s name).""",
    "weight_decay": """\
weight_decay : float, default=0.0
    AdamW's decoupled weight decay (an L2-like penalty on the weights; called
    ``alpha`` in ``MLPClassifier``, a name skvae keeps for the classification
    weight of Kingma et al.).""",
    "tol": """\
tol : float or None, default=0.02
    Tolerance of the convergence check, relative to the loss; it stops nothing
    (``early_stopping`` does). After a ``fit`` that ran all ``max_iter`` epochs, a
    ``ConvergenceWarning`` says the model has not converged when the best training
    loss (the epoch means of ``loss_curve_``) of the last ``n_iter_no_change`` epochs
    is below the best of the epochs before them by more than ``tol`` times that
    earlier best's size (at least 1 nat). Relative, because the loss, in nats per row,
    is below 1 for some data and hundreds for images. A run of fewer than
    ``2 * n_iter_no_change`` epochs compares its last half with the rest; KL warm-up
    epochs (``beta_warmup``) are left out; one epoch is not checked. The default, 2 %
    over 10 epochs, leaves the default fits quiet (their last 10 epochs: 0.2 % to
    0.9 % on the 8 x 8 digits; ``VAETransformer``'s 1.6 % on Fashion-MNIST) and flags
    20 epochs on the digits (8 %). Not checked: ``partial_fit``, a fit ended by early stopping or
    Ctrl-C, ``tol=None``, and ``learning_rate='cosine'``, whose step size falls to
    (near) 0 at ``max_iter``: such a run ends where its schedule is designed to end,
    and its loss falls in the last epochs because the steps shrink (the minibatch
    noise averages out), not because it was cut short.""",
    "validation_fraction": """\
validation_fraction : float, default=0.1
    Share of rows held out when ``early_stopping=True``.""",
    "n_iter_no_change": """\
n_iter_no_change : int, default=10
    Epochs of patience of early stopping (with ``early_stopping=True``, training stops
    once the validation loss has not improved for this many epochs), and the window
    of the convergence check of ``tol`` (the best training loss of the last
    ``n_iter_no_change`` epochs against the best before them).""",
    "device": """\
device : str, default='auto'
    ``'auto'`` (a GPU when there is one), ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.""",
    "precision": """\
precision : {'32', 'bf16-mixed'}, default='32'
    ``'bf16-mixed'`` runs the forward pass under bfloat16 autocast (the loss and
    the weights stay float32). Meant for GPUs with bfloat16 support (Ampere or
    newer), where it can shorten epochs; on CPU it runs but is usually slower.
    float16 with loss scaling is not offered.""",
    "n_threads": """\
n_threads : int, 'auto' or None, default='auto'
    torch's intra-op threads during ``fit`` (and ``predict``, ``transform``, ...), set
    for the call only: the process's own setting comes back when the last running
    fit ends. ``'auto'``: one thread for a step of little work (the small networks
    of the defaults on tabular data or 8 x 8 digits), else one per core that no other
    process keeps busy when the fit starts, never more than the process's own
    setting (``OMP_NUM_THREADS``, ``torch.set_num_threads``, a joblib or Dask
    worker's limit; a ``partial_fit`` that continues a model keeps the count its first
    call chose); on a GPU, ``'auto'`` leaves the setting alone. Beside other work,
    extra threads wait for each other: with torch's default a small fit on a busy
    2-core machine ran 7 to 80 times slower than with one thread. An int: that many
    threads; None: the process's setting, untouched. The count chosen is in
    ``plan_.n_threads``; it did not change the fitted model in our tests (1 against 2
    threads, fully connected and conv).""",
    "data_placement": """\
data_placement : {'auto', 'device', 'host'}, default='auto'
    Where the training data live during fit. ``'device'``: moved to the GPU once
    (fastest); ``'host'``: kept in pinned host memory, each batch copied with a
    non-blocking copy (for data larger than GPU memory); ``'auto'``: ``'host'``
    only when X would take more than half of the GPU's free memory. The same on
    CPU.""",
    "n_importance_samples": """\
n_importance_samples : int, default=10
    Importance samples per row in ``score_samples``, which estimates ``log p(x)``
    as in Burda et al. (2016): 1 gives a one-sample ELBO; more give a tighter
    lower bound (it rises towards ``log p(x)``) at proportional cost. Read when
    ``score_samples`` runs (it changes nothing fitted), so it can be set after fit.""",
    "verbose": """\
verbose : int, default=0
    0 prints nothing; 1 prints one line for the fit (model, stages, epochs, batch
    size, device, threads: what ``'auto'`` chose) and reports each training stage by
    name (a progress bar on a terminal, plain lines in files, CI and notebooks without
    ipywidgets); 2 prints every setting of the plan (``print(plan_)``) and a line every
    epoch. The same lines go to the
    ``skvae`` logger as INFO records, whatever ``verbose`` is.""",
    "random_state": """\
random_state : int, RandomState instance or None, default=None
    Seeds weight initialisation, shuffling and the reparameterisation noise.
    torch's global random state is left as it was.""",
    "n_features_in_": """\
n_features_in_ : int
    Number of features seen during fit.""",
    "feature_names_in_": """\
feature_names_in_ : ndarray of shape (n_features_in_,)
    Names of the features seen during fit, when X had string column names.""",
    "n_components_": """\
n_components_ : int
    Size of the fitted latent code (``n_components`` at fit time; a later
    ``set_params`` changes nothing until the next ``fit``).""",
    "image_shape_": """\
image_shape_ : tuple of int or None
    ``(channels, height, width)`` the fitted model reads each row as: ``image_shape``
    checked against the features, or the square one-channel image a conv network
    takes when it is None; None for a model that does not read rows as images.""",
    "n_iter_": """\
n_iter_ : int
    Number of epochs run.""",
    "best_loss_": """\
best_loss_ : float or None
    Lowest training loss of the fit (None with ``early_stopping``, as in
    ``MLPClassifier``).""",
    "validation_scores_": """\
validation_scores_ : list of float or None
    Per-epoch validation score (the negative validation loss, higher is better)
    with ``early_stopping``, else None.""",
    "best_validation_score_": """\
best_validation_score_ : float or None
    Highest of ``validation_scores_`` (None without ``early_stopping``).""",    "callbacks": """\
callbacks : list of skorch callbacks or (name, callback) tuples, default=None
    Extra skorch callbacks, e.g. ``skorch.callbacks.Checkpoint``, run in the training
    of the model's last stage (M2 of ``'m1+m2'``). They are copied at each fit (and
    each ``partial_fit`` call, which runs the current ones), never changed in place.""",
    "sample_weight": """\
sample_weight : array-like of shape (n_samples,), default=None
    Weight of each row's loss terms (None: 1 for every row); 0 drops a row.""",
    "plan_": """\
plan_ : skvae.models.FitPlan
    What the last ``fit`` (or ``partial_fit`` call) did: the model, every ``'auto'``
    resolved (batch size, epochs, step-size schedule, labelled rows per batch, ...)
    and one entry per network trained, the device and the threads (``n_threads``).
    ``print(plan_)`` shows one setting per line; ``plan_.summary()`` is the one line
    ``verbose=1`` prints.""",
    "model_": """\
model_ : str
    The name of the model fitted (``model`` with ``'auto'`` resolved): a key of
    :data:`skvae.models.MODELS`, or a model object's ``name``. The fitted model
    object, with its settings, is ``plan_.recipe``.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent> *)\{\{(?P<names>[\w ]+)\}\}$", re.MULTILINE)


def fill(obj):
    """Replace the ``{{name}}`` lines of ``obj.__doc__`` by :data:`DOCS` entries.

    For a class, also those of its methods' docstrings (e.g. ``fit``'s
    ``{{sample_weight}}``).

    Examples
    --------
    >>> class Demo:
    ...     '''Parameters
    ...     ----------
    ...     {{verbose}}
    ...     '''
    >>> print(fill(Demo).__doc__.splitlines()[2].strip())
    verbose : int, default=0
    """

    def expand(match):
        indent = match.group("indent")
        blocks = [DOCS[name] for name in match.group("names").split()]
        return "\n".join(indent + line if line else line
                         for block in blocks for line in block.splitlines())

    obj.__doc__ = _PLACEHOLDER.sub(expand, obj.__doc__)
    if isinstance(obj, type):
        for method in vars(obj).values():
            if callable(method) and method.__doc__ and "{{" in method.__doc__:
                method.__doc__ = _PLACEHOLDER.sub(expand, method.__doc__)
    return obj

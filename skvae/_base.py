"""The shared estimator base: hyperparameters, validation, seeding, the skorch net.

``VAETransformer`` and ``VAEClassifier`` subclass :class:`BaseVAE`; each supplies
the torch module (``_build_module``) and, for the classifier, the targets.

Fitting is all or nothing: ``fit`` and ``partial_fit`` build and train a new net
(or a copy of the fitted one) and only then set the fitted attributes; a fit that
raises, or that is interrupted before its first epoch ends, leaves the estimator
as it was. Once fitted, behaviour is read from fitted attributes and the module,
never from live hyperparameters.
"""

import contextlib
import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch.callbacks import Callback, EarlyStopping, LRScheduler

from ._net import DATA_PLACEMENTS, PRECISIONS, RandomSplit, VAENet, WeightWarmup
from ._progress import Progress
from .nn import ARCHITECTURES, LIKELIHOODS, check_image_shape, make_architecture, make_likelihood

__all__ = ["BaseVAE", "resolve_device"]


def resolve_device(device):
    """Turn a ``device`` hyperparameter into a torch device string, or raise ValueError.

    Parameters
    ----------
    device : str
        ``'auto'`` (CUDA when available, else CPU), ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.

    Returns
    -------
    str

    Examples
    --------
    >>> resolve_device("cpu")
    'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device={device!r} is not a device skvae can use; pass 'auto', 'cpu', "
            "'cuda' or 'cuda:N' (N the GPU index)."
        )
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available here "
                "(torch.cuda.is_available() is False). Use device='cpu', or device='auto' "
                "to take a GPU only when there is one."
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"device={device!r} names GPU {parsed.index} but this machine has {count} "
                f"(indices 0 to {count - 1})."
            )
    return str(parsed)


def _fused_adam_ok(device):
    """Whether ``torch.optim.AdamW(fused=True)`` runs on ``device`` in this torch."""
    try:
        torch.optim.AdamW([torch.zeros(1, device=device, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return None  # torch's default choice (foreach where it can)
    return True


@contextlib.contextmanager
def _seeded(seed, device):
    """Seed torch for a block without touching the caller's global RNG state."""
    devices = []
    device = str(device)  # skorch may hold a torch.device (e.g. after unpickling)
    if device.startswith("cuda"):
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


# batch_size='auto': 256 rows per step from this many rows on, else 128.
_LARGE_ROWS = 2000
# max_iter='auto' (VAETransformer): as many epochs as give this many gradient steps, at
# most _AUTO_MAX_EPOCHS. 5,000 steps are the 20 epochs of 60,000 rows at 256 rows per
# step whose conv code fed an SVC as well as the pixels (docs/choosing.md).
_AUTO_STEPS = 5000
_AUTO_MAX_EPOCHS = 100


def resolve_batch_size(batch_size, n_rows):
    """``batch_size`` as rows per step: ``'auto'`` is 256 from 2,000 rows on, else 128."""
    if batch_size != "auto":
        return batch_size
    return 256 if n_rows >= _LARGE_ROWS else 128


def epochs_for_steps(steps, n_rows, batch_size):
    """The number of epochs (at least 1) that gives about ``steps`` gradient steps."""
    return max(1, math.ceil(steps / math.ceil(n_rows / batch_size)))


#: Step-size schedules of ``learning_rate``: ``learning_rate_init`` throughout, or
#: decayed along a half cosine to 0 over ``max_iter`` epochs (Loshchilov & Hutter 2017).
LEARNING_RATES = ("constant", "cosine")
#: Name of the schedule's callback in the net, and of its column in ``history_``.
_SCHEDULE = "lr_schedule"


#: Hyperparameters that shape the network: changing one needs a new ``fit``.
_STRUCTURAL = ("n_components", "hidden_layer_sizes", "architecture",
               "classifier_architecture", "image_shape", "encoder", "decoder", "likelihood",
               "representation")


def _same(a, b):
    """Whether two hyperparameter values are the same (arrays compared by value)."""
    if a is b:
        return True
    if isinstance(a, list | tuple | np.ndarray) or isinstance(b, list | tuple | np.ndarray):
        try:
            return np.array_equal(np.asarray(a, dtype=object), np.asarray(b, dtype=object))
        except (TypeError, ValueError):
            return False
    try:
        return bool(a == b)
    except (TypeError, ValueError, RuntimeError):
        return False


def _module_spec(value):
    return value is None or isinstance(value, torch.nn.Module) or callable(value)


class BaseVAE(BaseEstimator):
    """Shared machinery of the skvae estimators (not public).

    Subclasses define ``__init__`` with the public hyperparameters, ``_build_module``
    (the torch module for ``n_features``) and may override ``_encode_targets``,
    ``_loss_weights`` and ``_net_params``.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "image_shape": ["array-like", None],
        "encoder": [torch.nn.Module, callable, None],
        "decoder": [torch.nn.Module, callable, None],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "beta": [Interval(Real, 0, None, closed="left")],
        "beta_warmup": [Interval(Integral, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "data_placement": [StrOptions(set(DATA_PLACEMENTS))],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [StrOptions(set(LEARNING_RATES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "callbacks": [list, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # -- validation ------------------------------------------------------------
    def _validate_params(self):
        rate = getattr(self, "learning_rate", None)
        if isinstance(rate, Real) and not isinstance(rate, bool):
            raise InvalidParameterError(
                f"learning_rate={rate!r}: learning_rate names the step-size schedule "
                "('constant', 'cosine'; 'auto' in VAEClassifier), as in MLPClassifier. "
                f"Pass the step size as learning_rate_init={rate!r}."
            )
        super()._validate_params()

    def _hidden_sizes(self):
        sizes = np.asarray(self.hidden_layer_sizes).ravel()
        if sizes.size == 0 and np.asarray(self.hidden_layer_sizes).ndim == 1:
            return ()
        if not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1):
            raise ValueError(
                "hidden_layer_sizes must be a sequence of positive integers, e.g. (256, 128); "
                f"got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _check_callbacks(self):
        for i, item in enumerate(self.callbacks or []):
            cb = item[1] if isinstance(item, tuple) and len(item) == 2 else item
            named_ok = not isinstance(item, tuple) or isinstance(item[0], str)
            if not named_ok or not (isinstance(cb, Callback)
                                    or (isinstance(cb, type) and issubclass(cb, Callback))):
                raise ValueError(
                    f"callbacks[{i}] is {item!r}: each callback must be a skorch callback "
                    "(an instance of skorch.callbacks.Callback) or a (name, callback) tuple."
                )

    def _validate_X(self, X, reset, strict=True):
        """Validate X and return it as float32 or float64, plus the dtype to answer in.

        float32 C-contiguous input is neither copied nor written. ``strict`` (fit,
        score_samples) refuses X outside the likelihood's support; otherwise
        (transform, predict) values outside it are clipped to it.
        """
        try:
            X = validate_data(
                self, X, reset=reset, dtype=[np.float64, np.float32], ensure_min_samples=1
            )
        except ValueError as exc:
            if "string" not in str(exc):
                raise
            raise ValueError(
                f"{type(self).__name__} needs numeric X, but X holds text ({exc}). Encode "
                "text or categorical columns as numbers first (e.g. OneHotEncoder) or drop them."
            ) from exc
        if X.dtype == np.float64 and X.size:
            big = float(np.finfo(np.float32).max)
            if float(X.max()) > big or float(X.min()) < -big:
                raise ValueError(
                    f"X has values beyond float32's range (|x| > {big:.3g}), which the "
                    "network computes in: rescale X (e.g. StandardScaler) first."
                )
        likelihood = (LIKELIHOODS[self.likelihood] if reset
                      else type(self.net_.module_.likelihood))
        X = likelihood.check_input(X) if strict else likelihood.clip_input(X)
        return X, X.dtype

    def _encode_targets(self, y, reset, classes=None):
        """Targets for the net (None for unsupervised estimators)."""
        return None

    # -- building and fitting the net --------------------------------------------
    def _architecture(self, architecture=None):
        """The :class:`skvae.nn.Architecture` building this estimator's networks."""
        return make_architecture(
            architecture or self.architecture, self._hidden_sizes(), self.image_shape,
            self.encoder, self.decoder,
        )

    def _architectures(self):
        """Every architecture the model uses (a classifier may add its own)."""
        return [self._architecture()]

    def _make_likelihood(self, n_features):
        return make_likelihood(self.likelihood, n_features)

    def _build_module(self, n_features):
        raise NotImplementedError

    def _loss_weights(self):
        """Weights of the module's loss terms (1 for a term not named)."""
        return {"kl": self.beta}

    def _net_params(self):
        """Extra skorch parameters of the model (e.g. its ``iterator_train``)."""
        return {}

    def _make_net(self, module, device, early_stopping, stage=None):
        # Progress on the console (verbose) and the 'skvae' logger, in place of skorch's
        # ProgressBar and PrintLog table: stage = (name, description or None).
        name, description = stage or getattr(self, "_progress_stage", None) or (
            "M2" if is_classifier(self) else "VAE", None)
        progress = Progress(name, self._train_max_iter, verbose=self.verbose,
                            description=description)
        callbacks = [("kl_warmup", WeightWarmup("kl", self.beta, self.beta_warmup))]
        if self._train_schedule == "cosine":
            # Stepped after each epoch: epoch e (0-based) of max_iter runs at
            # learning_rate_init * (1 + cos(pi * e / max_iter)) / 2, recorded as 'lr'.
            callbacks.append((_SCHEDULE, LRScheduler(
                torch.optim.lr_scheduler.CosineAnnealingLR, T_max=self._train_max_iter,
                event_name="lr")))
        callbacks.append(("progress", progress))
        if early_stopping or self.tol is not None:
            callbacks.append((
                "early_stopping",
                EarlyStopping(
                    monitor="valid_loss" if early_stopping else "train_loss",
                    patience=self.n_iter_no_change, load_best=early_stopping,
                    **({} if self.tol is None
                       else {"threshold": self.tol, "threshold_mode": "abs"}),
                    sink=progress.say,
                ),
            ))
        # Deep copies: skorch initialises callbacks in place, and the user's objects
        # must stay as they were passed.
        callbacks += copy.deepcopy(list(self.callbacks or []))
        return VAENet(
            module,
            loss_weights=self._loss_weights(),
            optimizer=torch.optim.AdamW,
            # One fused kernel per step instead of one per parameter and moment:
            # ~0.8x the epoch time of the default Adam on CPU (benchmarks/bench_speed.py).
            optimizer__fused=_fused_adam_ok(device),
            optimizer__weight_decay=self.weight_decay,
            lr=self.learning_rate_init,
            precision=self.precision,
            data_placement=self.data_placement,
            max_epochs=self._train_max_iter,
            batch_size=self._train_batch_size,
            train_split=(
                RandomSplit(self.validation_fraction, stratify=self._stratify)
                if early_stopping else None
            ),
            callbacks=callbacks,
            device=device,
            verbose=int(self.verbose),
            callbacks__print_log=None,
            **self._net_params(),
        )

    _stratify = False

    def _structural_params(self):
        params = self.get_params(deep=False)
        return {name: params[name] for name in _STRUCTURAL if name in params}

    def _fit(self, X, y=None, partial=False, classes=None):
        """Fit (or, with ``partial``, train one more epoch): all or nothing."""
        state = dict(self.__dict__)
        try:
            return self._fit_unsafe(X, y, partial, classes)
        except BaseException:
            # Whatever happened (an error, a divergence, Ctrl-C before an epoch
            # finished), the estimator is left exactly as it was.
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _fit_unsafe(self, X, y, partial, classes):
        self._check_callbacks()
        first = not (partial and hasattr(self, "net_"))
        if not first:
            changed = [name for name, value in self._structural_params().items()
                       if not _same(value, self._fit_structure_.get(name))]
            if changed:
                raise ValueError(
                    f"{', '.join(changed)} changed since the model was fitted; partial_fit "
                    "continues training the fitted network and cannot change its shape. "
                    "Call fit to train a new model with the new settings."
                )
        X, _ = self._validate_X(X, reset=first, strict=True)
        targets = self._encode_targets(y, reset=first, classes=classes)
        # float32 input is used as it is (no copy); float64 is cast once for the net.
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        if first:
            n_features = X32.shape[1]
            image_shape = None
            for arch in self._architectures():
                if arch.needs_image or self.image_shape is not None:
                    # clear error first
                    image_shape = check_image_shape(self.image_shape, n_features)
            device = resolve_device(self.device)
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            self._resolve_training(len(X32), targets)
            if partial:  # one epoch per call: no run length for a schedule to span
                self._train_schedule = "constant"
            with _seeded(seed, device):
                net, inputs = self._new_net(X32, targets, device,
                                            early_stopping=self.early_stopping and not partial)
            start = 0
        else:
            seed = self._seed
            net = copy.deepcopy(self.net_)  # the fitted net stays intact until success
            if not isinstance(self.batch_size, str):
                self._train_batch_size = self.batch_size
            net.set_params(lr=self.learning_rate_init, batch_size=self._train_batch_size,
                           optimizer__weight_decay=self.weight_decay)
            net.loss_weights = self._loss_weights()
            warmup = dict(net.callbacks_).get("kl_warmup")
            if warmup is not None:
                warmup.target, warmup.epochs = self.beta, self.beta_warmup
            # Further epochs run at learning_rate_init: a schedule spans one fit only.
            net.callbacks_ = [(name, cb) for name, cb in net.callbacks_ if name != _SCHEDULE]
            start = len(net.history)
            inputs = X32
        epochs = 1 if partial else self._train_max_iter
        progress = dict(net.callbacks_).get("progress")
        if progress is not None:  # "epoch k of N" counts this call's epochs
            progress.n_epochs = epochs
        try:
            with _seeded(seed + start, net.device):
                net.partial_fit(inputs, targets, epochs=epochs)
        except KeyboardInterrupt:
            if not self._stopped_early(net):  # skorch's EarlyStopping stops this way too
                self._interrupted(net, start)
        if not all(torch.isfinite(p).all() for p in net.module_.parameters()):
            raise FloatingPointError(
                "Training produced non-finite weights: training diverged. Lower "
                "learning_rate_init (e.g. by a factor of 10) or check the input scaling."
            )
        run = len(net.history) - start
        if (self.tol is not None and not partial and run == epochs
                and not self._stopped_early(net)):
            warnings.warn(
                f"Stopped at max_iter={self._train_max_iter} epochs while the loss still improved "
                f"by more than tol={self.tol} per epoch: the model has not converged. "
                "Raise max_iter (or tol).", ConvergenceWarning, stacklevel=3,
            )
        # Success: set every fitted attribute at once.
        self._seed = seed
        self.net_ = net
        self._dtype_ = X.dtype if first else self._dtype_
        self.n_components_ = int(self.n_components) if first else self.n_components_
        self.image_shape_ = image_shape if first else self.image_shape_
        self._fit_structure_ = (self._structural_params() if first
                                else self._fit_structure_)
        self.history_ = net.history
        self.n_iter_ = len(self.history_)
        self.loss_curve_ = list(self.history_[:, "train_loss"])
        validated = "valid_loss" in self.history_[-1]
        self.best_loss_ = None if validated else float(np.min(self.loss_curve_))
        self.validation_scores_ = (
            [-float(v) for v in self.history_[:, "valid_loss"]] if validated else None
        )
        self.best_validation_score_ = (
            max(self.validation_scores_) if validated else None
        )
        self._after_fit(X32, targets)
        return self

    def _resolve_training(self, n_rows, targets):
        """Settle the data-dependent settings of a new fit (batch size, epochs, ...)."""
        self._train_batch_size = resolve_batch_size(self.batch_size, n_rows)
        self._train_max_iter = (
            min(_AUTO_MAX_EPOCHS, epochs_for_steps(_AUTO_STEPS, n_rows, self._train_batch_size))
            if self.max_iter == "auto" else self.max_iter)
        self._train_schedule = self.learning_rate

    def _new_net(self, X32, targets, device, early_stopping):
        """A new, initialised net for X32, and the inputs to train it on.

        Runs seeded. Subclasses may fit other stages first and train the net on more
        than X32 (a dict ``{'x': X32, name: extra}``: the extras reach the module's
        ``forward`` by name), as long as the module also works from X's rows alone.
        """
        net = self._make_net(self._build_module(X32.shape[1]), device, early_stopping)
        net.initialize()
        return net, X32

    def _after_fit(self, X32, targets):
        """Hook for fitted attributes that need the trained net (e.g. ``transduction_``)."""

    @staticmethod
    def _interrupted(net, start):
        """After Ctrl-C: raise again if no epoch of this call completed, else warn."""
        done = [row for row in net.history[start:] if "train_loss" in row]
        if not done:
            raise KeyboardInterrupt
        del net.history[start + len(done):]
        warnings.warn(
            f"Training interrupted by user after {len(done)} epoch(s); the model keeps "
            "the weights reached so far.", UserWarning, stacklevel=4,
        )

    @staticmethod
    def _stopped_early(net):
        stopper = dict(net.callbacks_).get("early_stopping")
        return stopper is not None and stopper.misses_ >= stopper.patience

    # -- inference ---------------------------------------------------------------
    def _check_fitted_X(self, X, strict=False):
        check_is_fitted(self)
        return self._validate_X(X, reset=False, strict=strict)

    def _answer(self, tensor, dtype):
        return tensor.numpy().astype(dtype, copy=False)

    def _transform(self, X):
        X, dtype = self._check_fitted_X(X)
        mu = self.net_.run_batched(lambda xb: self.net_.module_.encode(xb)[0], X)
        return self._answer(mu, dtype)

    def _check_latent(self, Z):
        check_is_fitted(self)
        Z = check_array(Z, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"Z has {Z.shape[1]} columns but the fitted latent space has "
                f"n_components_={self.n_components_}; pass codes as returned by transform."
            )
        return Z, Z.dtype

    def _sample_latent(self, n_samples, random_state):
        """Codes drawn from the N(0, I) prior: a float32 array (the model must be fitted)."""
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(int(n_samples), self.n_components_, generator=gen).numpy()

    def _score_samples(self, X):
        X, _ = self._check_fitted_X(X, strict=True)
        # The same importance draws for every row (from a fixed seed), so the same X
        # always gets the same scores and a row's score does not depend on the others.
        gen = torch.Generator().manual_seed(0)
        n_latent = getattr(self.net_.module_, "n_code", self.n_components_)
        eps = torch.randn(self.n_importance_samples, n_latent, generator=gen,
                          dtype=torch.float64).to(self.net_.device)
        # A float64 copy of the module: a sum of many float32 terms would round
        # differently with the batch's other rows (a few 1e-6 nats), float64 does not.
        module = copy.deepcopy(self.net_.module_).double()
        log_px = self.net_.run_batched(
            lambda xb: module.log_marginal(xb, eps), X, dtype=np.float64,
            batch_size=max(1, 2**15 // self.n_importance_samples), pad=False,
        )
        return log_px.numpy()

    def _answer_fit_dtype(self, tensor):
        """A generated array in the dtype of the data the model was fitted on."""
        return tensor.numpy().astype(self._dtype_, copy=False)

    @property
    def _n_features_out(self):
        return getattr(self, "n_components_", self.n_components)

"""The shared estimator base: hyperparameters, validation, seeding, the skorch net.

``VAETransformer`` and ``VAEClassifier`` subclass :class:`BaseVAE`; each supplies
the torch module (``_build_module``) and, for the classifier, the targets.
"""

import contextlib
import copy
import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch.callbacks import EarlyStopping, ProgressBar

from ._net import PRECISIONS, RandomSplit, VAENet
from .nn import LIKELIHOODS, ConvDecoder, ConvEncoder, MLPDecoder, MLPEncoder

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
    """Whether ``torch.optim.Adam(fused=True)`` runs on ``device`` in this torch."""
    try:
        torch.optim.Adam([torch.zeros(1, device=device, requires_grad=True)], fused=True)
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


#: Channels of the stride-2 convolutions of ``architecture='conv'`` (encoder order).
_CONV_CHANNELS = (32, 64)


class BaseVAE(BaseEstimator):
    """Shared machinery of the skvae estimators (not public).

    Subclasses define ``__init__`` with the public hyperparameters, ``_build_module``
    (the torch module for ``n_features``) and may override ``_encode_targets``.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "architecture": [StrOptions({"mlp", "conv"})],
        "image_shape": ["array-like", None],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "beta": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
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

    def _image_shape(self, n_features):
        """``(channels, height, width)`` for ``n_features`` columns, or raise ValueError.

        ``image_shape=None`` with a conv architecture means a square single-channel
        image, which needs ``n_features`` to be a perfect square.
        """
        image_shape = self.image_shape
        if image_shape is None:
            side = math.isqrt(n_features)
            if side * side != n_features:
                raise ValueError(
                    f"A conv architecture needs image_shape=(channels, height, width) for "
                    f"X with {n_features} features: only a perfect square number of features "
                    "is taken as a square one-channel image. Pass e.g. image_shape=(3, 32, 32)."
                )
            return (1, side, side)
        shape = np.asarray(image_shape).ravel()
        if (shape.size != 3 or not np.issubdtype(shape.dtype, np.integer)
                or np.any(shape < 1)):
            raise ValueError(
                "image_shape must be three positive integers (channels, height, width), "
                f"e.g. (1, 28, 28); got {image_shape!r}."
            )
        shape = tuple(int(s) for s in shape)
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={shape} describes {math.prod(shape)} pixels per image but X has "
                f"{n_features} features. X must hold one flattened image per row "
                "(images.reshape(n_images, -1), channels first), and image_shape its "
                "(channels, height, width)."
            )
        return shape

    def _validate_X(self, X, reset):
        """Validate X; return a float32 copy for torch and the dtype to answer in."""
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
        if self.likelihood == "bernoulli":
            lo, hi = float(X.min()), float(X.max())
            if lo < 0.0 or hi > 1.0:
                raise ValueError(
                    f"likelihood='bernoulli' needs X in [0, 1], but X has values from {lo:g} "
                    f"to {hi:g}. Scale X first (divide pixel values by 255, or use "
                    "sklearn.preprocessing.MinMaxScaler), or use likelihood='gaussian' for "
                    "real-valued data."
                )
        return np.array(X, dtype=np.float32, copy=True), X.dtype

    def _encode_targets(self, y, reset):
        """Targets for the net (None for unsupervised estimators)."""
        return None

    # -- building and fitting the net --------------------------------------------
    def _conv_used(self):
        """Whether any network of the model is convolutional (so X must be images)."""
        return self.architecture == "conv"

    def _make_encoder(self, n_features, n_latent, n_condition=0, architecture=None):
        """Encoder ``(x, c=None) -> (mu, logvar)``; ``architecture`` defaults to the estimator's."""
        if (architecture or self.architecture) == "conv":
            return ConvEncoder(
                self._image_shape(n_features), n_latent, n_condition,
                channels=_CONV_CHANNELS, hidden_layer_sizes=self._hidden_sizes(),
            )
        return MLPEncoder(n_features, self._hidden_sizes(), n_latent, n_condition)

    def _make_decoder(self, n_inputs, n_features):
        """Decoder ``(n, n_inputs) -> (n, n_features)`` (logits or means), mirroring the encoder."""
        if self.architecture == "conv":
            return ConvDecoder(
                n_inputs, self._image_shape(n_features),
                channels=_CONV_CHANNELS[::-1], hidden_layer_sizes=self._hidden_sizes()[::-1],
            )
        return MLPDecoder(n_inputs, self._hidden_sizes()[::-1], n_features)

    def _build_module(self, n_features):
        raise NotImplementedError

    def _make_net(self, module, device, early_stopping):
        callbacks = []
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        if early_stopping:
            callbacks.append((
                "early_stopping",
                EarlyStopping(
                    monitor="valid_loss", patience=self.n_iter_no_change, load_best=True,
                    sink=print if self.verbose else (lambda *a, **k: None),
                ),
            ))
        # Deep copies: skorch initialises callbacks in place, and the user's objects
        # must stay as they were passed.
        callbacks += copy.deepcopy(list(self.callbacks or []))
        return VAENet(
            module,
            beta=self.beta,
            alpha=getattr(self, "alpha", 1.0),
            labelled_batch_size=getattr(self, "labelled_batch_size", None) or 0,
            optimizer=torch.optim.Adam,
            # One fused kernel per step instead of one per parameter and moment:
            # ~0.8x the epoch time of the default Adam on CPU (benchmarks/bench_speed.py).
            optimizer__fused=_fused_adam_ok(device),
            lr=self.learning_rate,
            precision=self.precision,
            max_epochs=self.max_iter,
            batch_size=self.batch_size,
            train_split=(
                RandomSplit(self.validation_fraction, stratify=self._stratify)
                if early_stopping else None
            ),
            callbacks=callbacks,
            device=device,
            verbose=int(self.verbose),
        )

    _stratify = False

    def _fit(self, X, y=None, partial=False):
        first = not (partial and hasattr(self, "net_"))
        X32, _ = self._validate_X(X, reset=first)
        targets = self._encode_targets(y, reset=first)
        if first:
            if self._conv_used() or self.image_shape is not None:
                self._image_shape(X32.shape[1])  # a clear error before building anything
            device = resolve_device(self.device)
            self._seed = int(check_random_state(self.random_state).randint(2**31 - 1))
            with _seeded(self._seed, device):
                self.net_ = self._make_net(
                    self._build_module(X32.shape[1]), device,
                    early_stopping=self.early_stopping and not partial,
                )
                self.net_.initialize()
        epochs = 1 if partial else self.max_iter
        with _seeded(self._seed + len(self.net_.history), self.net_.device):
            self.net_.partial_fit(X32, targets, epochs=epochs)
        self.history_ = self.net_.history
        self.n_iter_ = len(self.history_)
        self.loss_curve_ = list(self.history_[:, "train_loss"])
        return self

    # -- inference ---------------------------------------------------------------
    def _check_fitted_X(self, X):
        check_is_fitted(self)
        return self._validate_X(X, reset=False)

    def _answer(self, tensor, dtype):
        return tensor.numpy().astype(dtype, copy=False)

    def _transform(self, X):
        X32, dtype = self._check_fitted_X(X)
        mu = self.net_.run_batched(lambda xb: self.net_.module_.encode(xb)[0], X32)
        return self._answer(mu, dtype)

    def _check_latent(self, Z):
        check_is_fitted(self)
        Z = check_array(Z, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} columns but the latent space has n_components="
                f"{self.n_components}; pass codes as returned by transform."
            )
        return np.array(Z, dtype=np.float32, copy=True), Z.dtype

    def _sample_latent(self, n_samples, random_state):
        """Codes drawn from the N(0, I) prior: a float32 array (the model must be fitted)."""
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        seed = int(check_random_state(random_state).randint(2**31 - 1))
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(int(n_samples), self.n_components, generator=gen).numpy()

    #: Posterior draws per row in ``score_samples`` (fixed, shared by all rows).
    _n_score_draws = 4

    def _score_samples(self, X, **module_kwargs):
        X32, _ = self._check_fitted_X(X)
        gen = torch.Generator().manual_seed(0)
        eps = torch.randn(self._n_score_draws, self.n_components, generator=gen).to(
            self.net_.device
        )
        elbo = self.net_.run_batched(
            lambda xb: self.net_.module_.elbo(xb, eps, **module_kwargs), X32
        )
        return elbo.numpy().astype(np.float64)

    @property
    def _n_features_out(self):
        return self.n_components

"""The shared estimator base: hyperparameters, validation and the fit pipeline.

A fit reads top-down, as scikit-learn's ``MLPClassifier._fit`` does
(:meth:`BaseVAE._fit_unsafe`): validate -> plan (:mod:`skvae._plan`, every ``'auto'``
resolved by the model, :mod:`skvae.models`) -> build the module and its inputs (the
model) -> train (:mod:`skvae._train`) -> set the fitted attributes. The base names no
model and no prior: what differs between models is in the models.
Fitting is all or nothing: a fit that raises, or is interrupted before its first epoch
ends, leaves the estimator as it was. Once fitted, behaviour is read from fitted
attributes (``plan_``, ``net_``), never from live hyperparameters.
"""

import copy
import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch.callbacks import Callback

from ._batches import RandomSplit
from ._compat import Interval, InvalidParameterError, StrOptions, validate_parameter_constraints
from ._devices import resolve_device
from ._net import DATA_PLACEMENTS, PRECISIONS
from ._plan import check_same_structure, plan_fit
from ._progress import logger
from ._rows import Rows, as_rows
from ._threads import using_threads
from ._train import configure, new_net, seeded, train
from .models import Recipe
from .nn import ARCHITECTURES, LIKELIHOODS
from .nn.conv import check_not_images

__all__ = ["BaseVAE", "resolve_device"]

#: Step-size schedules of ``learning_rate``: ``learning_rate_init`` throughout, or
#: decayed along a half cosine to 0 over ``max_iter`` epochs (Loshchilov & Hutter 2017).
LEARNING_RATES = ("constant", "cosine")

#: Row-draws of ``score_samples`` computed at once: bounds its memory whatever
#: ``n_importance_samples`` is (draws beyond it are done in chunks).
_SCORE_BLOCK = 2**15


def check_sample_weight(sample_weight, n_rows):
    """``sample_weight`` as a float32 array of ``n_rows`` weights (None stays None).

    Examples
    --------
    >>> check_sample_weight(2, 3)
    array([2., 2., 2.], dtype=float32)
    """
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("sample_weight must hold numbers (one weight per row of X).") from None
    if w.ndim == 0:
        w = np.full(n_rows, float(w))
    if w.shape != (n_rows,):
        raise ValueError(
            f"sample_weight has shape {w.shape} but X has {n_rows} rows; pass one "
            "weight per row (a 1-D array) or a single number."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative (0 drops a row).")
    if not np.any(w > 0):
        raise ValueError("sample_weight is zero for every row: there is nothing to fit.")
    return w.astype(np.float32)


class BaseVAE(BaseEstimator):
    """Shared machinery of the skvae estimators (not public).

    Subclasses define ``__init__`` with the public hyperparameters and ``_task``
    (``'unsupervised'`` or ``'classification'``, which models they take); a classifier
    also validates its targets (``_validate_targets``).
    """

    _task = "unsupervised"

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "architecture": [StrOptions({"auto", *ARCHITECTURES})],
        "image_shape": ["array-like", None],
        "encoder": [torch.nn.Module, callable, None],
        "decoder": [torch.nn.Module, callable, None],
        "likelihood": [StrOptions(set(LIKELIHOODS))],
        "model": [str, Recipe],  # a name or a model object, checked when planning
        "beta": [Interval(Real, 0, None, closed="left")],
        "beta_warmup": [Interval(Integral, 0, None, closed="left")],
        "n_importance_samples": [Interval(Integral, 1, None, closed="left")],
        "data_placement": [StrOptions(set(DATA_PLACEMENTS))],
        "max_iter": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "learning_rate": [StrOptions(set(LEARNING_RATES))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "n_threads": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
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
        cls = getattr(self, "model", None)
        if isinstance(cls, type) and issubclass(cls, Recipe):
            raise InvalidParameterError(f"model={cls.__name__} is a class: pass {cls.__name__}().")
        super()._validate_params()

    def _check_call_param(self, name):
        """Validate a hyperparameter read at call time, with the message ``fit`` gives."""
        validate_parameter_constraints(
            {name: self._parameter_constraints[name]}, {name: getattr(self, name)},
            caller_name=type(self).__name__,
        )
        return getattr(self, name)

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
        (transform, predict) values outside it are clipped to it. X on disk (a
        :class:`~skvae.Rows`, ``np.memmap``, ``h5py`` or ``zarr`` array) is checked
        chunk by chunk and returned as a :class:`~skvae.Rows`, read batch by batch.
        """
        rows = as_rows(X)
        if rows is not None:  # on disk: Rows reads images flattened, whatever their shape
            return self._validate_rows(rows, reset, strict)
        check_not_images(X, getattr(self, "image_shape", None))
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

    def _validate_rows(self, rows, reset, strict):
        """:meth:`_validate_X` for X on disk: one pass over its chunks, nothing loaded.

        The answer dtype follows the stored one as for arrays in memory: float32 for
        float32, float64 for anything else.
        """
        if min(rows.shape) < 1:
            raise ValueError(
                f"X on disk has shape {rows.shape} (rows, features); at least one row and "
                "one feature are required."
            )
        # n_features_in_ (and the absence of feature names) without loading X.
        validate_data(self, rows, reset=reset, skip_check_array=True)
        likelihood = (LIKELIHOODS[self.likelihood] if reset
                      else type(self.net_.module_.likelihood))
        support = likelihood.support
        far = 0.0 if support is None else likelihood.far * (support[1] - support[0])
        stats = rows.scan(support, count_outside=not strict, far=far)
        dtype = np.dtype(np.float32 if rows.source_dtype == np.float32 else np.float64)
        if support is None or stats["size"] == 0:
            return rows, dtype
        low, high = support
        lo, hi = stats["min"], stats["max"]
        if strict:
            try:  # the likelihood's own check, on X's range
                likelihood.check_input(np.array([[lo, hi]]))
            except ValueError as exc:
                raise ValueError(
                    f"{exc} For X on disk, skvae.Rows(X, scale=1/255) scales uint8 "
                    "pixels as they are read."
                ) from None
        elif stats["n_far"] > likelihood.far_share * stats["size"]:
            likelihood.warn_outside(stats["n_outside"], stats["n_far"], stats["size"])
        if lo < low or hi > high:
            rows = rows.clipped(low, high)
        return rows, dtype

    def _validate_targets(self, y, reset, classes=None):
        """Encoded targets and the class labels (None, None without labels)."""
        return None, None

    # -- the fit pipeline --------------------------------------------------------
    def _fit(self, X, y=None, *, partial=False, classes=None, sample_weight=None):
        """Fit (or, with ``partial``, train one more epoch): all or nothing."""
        state = dict(self.__dict__)
        try:
            return self._fit_unsafe(X, y, partial, classes, sample_weight)
        except BaseException:
            # Whatever happened (an error, a divergence, Ctrl-C before an epoch
            # finished), the estimator is left exactly as it was.
            self.__dict__.clear()
            self.__dict__.update(state)
            raise

    def _fit_unsafe(self, X, y, partial, classes, sample_weight):
        # 1. Validate the data and settings.
        self._check_callbacks()
        continuing = partial and hasattr(self, "net_")
        X, dtype = self._validate_X(X, reset=not continuing, strict=True)
        targets, classes = self._validate_targets(y, reset=not continuing, classes=classes)
        weights = check_sample_weight(sample_weight, len(X))
        if isinstance(X, Rows):  # on disk: read batch by batch (a float32 memmap: in place)
            X32 = X.array if X.is_plain else X
        else:  # float32 input is used as it is (no copy); float64 is cast once for the net.
            X32 = np.ascontiguousarray(X, dtype=np.float32)
        # 2. Plan: every 'auto' resolved, by the model's recipe.
        plan = plan_fit(self, X32, targets, task=self._task, classes=classes,
                        partial=partial,
                        seed=self.plan_.final.seed if continuing else None,
                        fitted=self.plan_ if continuing else None,
                        device=str(self.net_.device) if continuing else None)
        if continuing:  # a setting whose change needs a new network is an error
            check_same_structure(self.plan_, plan)
        if plan.final.early_stopping:  # before any stage trains, an earlier one included
            RandomSplit(plan.final.validation_fraction).check(len(X32))
        # What 'auto' chose, before training: one line at verbose=1, and every setting
        # at 2; the logger gets both whatever verbose is.
        for number, line in enumerate([plan.summary(), *str(plan).splitlines()]):
            logger.info(line)
            if plan.verbose >= 2 or (plan.verbose and number == 0):
                print(line)
        inputs = {"x": X32} if weights is None else {"x": X32, "sample_weight": weights}
        with using_threads(plan.n_threads):  # the process's setting comes back after
            net = self._build_and_train(plan, inputs, targets, continuing)
        # 5. Success: set every fitted attribute at once.
        self._dtype_ = dtype if not continuing else self._dtype_
        self._set_fitted(plan, net, X32, targets, first=not continuing)
        return self

    def _build_and_train(self, plan, inputs, targets, continuing):
        """Steps 3 and 4 of a fit: the net, built (or copied) and trained."""
        # 3. Build: a new model (earlier stages trained on the way), or the fitted one.
        if continuing:
            net = copy.deepcopy(self.net_)  # the fitted net stays intact until success
            configure(net, plan.final, plan)
            start = len(net.history)
        else:
            def fit_stage(stage, make_module, stage_inputs):
                with seeded(stage.seed, plan.device):
                    stage_net = new_net(make_module(), stage, plan)
                return train(stage_net, stage_inputs, None, stage, plan, final=False)

            with seeded(plan.final.seed, plan.device):
                net = new_net(plan.recipe.build(plan, inputs, fit_stage), plan.final, plan)
            start = 0
        # The model's own inputs (precomputed codes, pseudo-label columns), made the
        # same way for a new model and a continuing one.
        inputs = plan.recipe.inputs(plan, net, inputs)
        # 4. Train the last stage.
        return train(net, inputs, targets, plan.final, plan, start=start)

    def _set_fitted(self, plan, net, X32, targets, first):
        """Set every fitted attribute from the plan and the trained net."""
        self.plan_ = plan
        self.net_ = net
        self.model_ = plan.model
        if first:
            self.n_components_ = plan.final.n_components
            self.image_shape_ = plan.final.image_shape
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

    # -- inference ---------------------------------------------------------------
    def _check_fitted_X(self, X, strict=False):
        check_is_fitted(self)
        return self._validate_X(X, reset=False, strict=strict)

    def _run(self, method, *arrays, **kwargs):
        """The fitted recipe's ``method`` on ``arrays``, batch by batch (a CPU tensor)."""
        recipe, module = self.plan_.recipe, self.net_.module_
        fn = getattr(recipe, method)
        with using_threads(getattr(self.plan_, "n_threads", None)):
            return self.net_.run_batched(lambda *t: fn(module, *t), *arrays, **kwargs)

    def _answer(self, tensor, dtype):
        return tensor.numpy().astype(dtype, copy=False)

    def _transform(self, X):
        X, dtype = self._check_fitted_X(X)
        return self._answer(self._run("transform", X), dtype)

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
        """Codes from the fitted model's prior (its ``Recipe.sample_latent``), float32."""
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        seed = check_random_state(random_state).randint(2**31 - 1)
        gen = torch.Generator().manual_seed(int(seed))
        module = self.net_.module_.eval()  # inference leaves modules in eval mode
        with torch.no_grad(), using_threads(getattr(self.plan_, "n_threads", None)):
            Z = self.plan_.recipe.sample_latent(self.plan_, module, int(n_samples), gen)
        return Z.float().cpu().numpy()

    def _score_samples(self, X):
        """The fitted recipe's ``log_marginal`` per row, in float64 (see its ``score``)."""
        X, _ = self._check_fitted_X(X, strict=True)
        n_draws = self._check_call_param("n_importance_samples")
        # The same importance draws for every row (from a fixed seed), so the same X
        # always gets the same scores and a row's score does not depend on the others.
        # Draws come in blocks of at most _SCORE_BLOCK, and each batch of rows times
        # draws is at most _SCORE_BLOCK row-draws: memory is bounded whatever n_draws.
        gen = torch.Generator().manual_seed(0)
        n_latent = self.plan_.recipe.n_score_latent(self.plan_)
        block = min(n_draws, _SCORE_BLOCK)
        # A float64 copy of the module: a sum of many float32 terms would round
        # differently with the batch's other rows (a few 1e-6 nats), float64 does not.
        module = copy.deepcopy(self.net_.module_).double()
        recipe = self.plan_.recipe
        with using_threads(getattr(self.plan_, "n_threads", None)):
            parts = self._score_blocks(X, n_draws, block, n_latent, module, recipe, gen)
        if len(parts) == 1:
            return parts[0][1].numpy()
        # Each block's estimate is log(mean of its weights): combine the sums.
        sums = torch.stack([part + math.log(size) for size, part in parts])
        return (torch.logsumexp(sums, dim=0) - math.log(n_draws)).numpy()

    def _score_blocks(self, X, n_draws, block, n_latent, module, recipe, gen):
        """The log-marginal estimates of ``_score_samples``, one per block of draws."""
        parts = []
        for first in range(0, n_draws, block):
            size = min(block, n_draws - first)
            eps = torch.randn(size, n_latent, generator=gen,
                              dtype=torch.float64).to(self.net_.device)
            parts.append((size, self.net_.run_batched(
                lambda xb, e=eps: recipe.log_marginal(module, xb, e), X, dtype=np.float64,
                batch_size=max(1, _SCORE_BLOCK // size), pad=False,
            )))
        return parts

    def _answer_fit_dtype(self, tensor):
        """A generated array in the dtype of the data the model was fitted on."""
        return tensor.numpy().astype(self._dtype_, copy=False)

    @property
    def _n_features_out(self):
        return getattr(self, "n_components_", self.n_components)

"""Observation models ``p(x | z)``: one class each, one table of them.

A likelihood is a small :class:`torch.nn.Module` that knows

* its per-row negative log-likelihood of the data given the decoder output
  (:meth:`Likelihood.nll`, in nats),
* the mean ``E[x | z]`` for a decoder output (:meth:`Likelihood.mean`),
* which inputs it accepts (:meth:`Likelihood.check_input`, on NumPy arrays, and
  :meth:`Likelihood.clip_input` for the lenient check at prediction time),
* and its own learned parameters (the Gaussian's per-feature noise scale).

A new observation model is one subclass here plus one entry in :data:`LIKELIHOODS`;
nothing else in skvae tests likelihood names. Pure PyTorch and NumPy.
"""

import math
import sys
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Likelihood", "BernoulliLikelihood", "GaussianLikelihood", "LIKELIHOODS",
           "make_likelihood"]

_LOG_2PI = math.log(2.0 * math.pi)


def _n_outside(x, low, high):
    """How many values of the array ``x`` lie outside ``[low, high]``."""
    return int(np.count_nonzero(x < low)) + int(np.count_nonzero(x > high))


def _caller_level():
    """``stacklevel`` for a warning raised by this function's caller that points at the
    first frame outside skvae and scikit-learn (the user's call of ``transform``)."""
    try:
        level, frame = 2, sys._getframe(2)
    except ValueError:  # called from the top of the stack
        return 2
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in (
            "skvae", "sklearn"):
        level, frame = level + 1, frame.f_back
    return level


class Likelihood(nn.Module):
    """Base class of the observation models.

    Parameters
    ----------
    n_features : int
        Size ``d`` of a flattened input.

    Attributes
    ----------
    name : str
        The key of the class in :data:`LIKELIHOODS`.
    support : tuple of float or None
        ``(low, high)`` the data must lie in, or None for any real value.
    """

    name = None
    support = None

    def __init__(self, n_features):
        super().__init__()
        self.n_features = int(n_features)

    def nll(self, x, decoded):
        """``-log p(x | z)`` summed over the features, one value per row, in nats.

        Parameters
        ----------
        x : torch.Tensor of shape (n, ...)
            The data; flattened to ``(n, d)``.
        decoded : torch.Tensor of shape (n, ...)
            The decoder output (the likelihood's natural parameters).

        Returns
        -------
        torch.Tensor of shape (n,)
        """
        raise NotImplementedError

    def mean(self, decoded):
        """``E[x | z]`` for a decoder output, shape ``(n, d)``."""
        raise NotImplementedError

    #: Values this far outside :attr:`support` (relative to its width) are rounding
    #: errors (``MinMaxScaler`` can give 1.0000000000000002): clipped, not refused.
    rounding = 1e-6

    @classmethod
    def check_input(cls, X):
        """Return the NumPy array ``X``, or raise ValueError if it lies outside :attr:`support`.

        Used where the data must be right: ``fit`` and ``score_samples``. Values
        outside by no more than :attr:`rounding` are clipped (a copy is made only then).
        """
        if cls.support is None or X.size == 0:
            return X
        lo, hi = float(X.min()), float(X.max())
        low, high = cls.support
        slack = cls.rounding * (high - low)
        if lo < low - slack or hi > high + slack:
            raise ValueError(
                f"likelihood={cls.name!r} needs X in [{low:g}, {high:g}], but X has values "
                f"from {lo:g} to {hi:g}. Scale X first (divide pixel values by 255, or use "
                "sklearn.preprocessing.MinMaxScaler), or use likelihood='gaussian' for "
                "real-valued data."
            )
        return cls.clip_input(X)

    #: :meth:`clip_input` warns when more than this share of the values lie more than
    #: :attr:`far` outside :attr:`support`: X was scaled differently from the data the
    #: model was fitted on, not merely rounded by a scaler.
    far_share = 0.01
    #: How far outside :attr:`support` (relative to its width) a value is badly scaled.
    far = 0.05

    @classmethod
    def clip_input(cls, X):
        """``X`` clipped to :attr:`support` (a new array only when a value lies outside).

        Used where a value slightly outside the range is harmless: ``transform``,
        ``predict`` and friends (a test fold scaled with the training fold's
        ``MinMaxScaler`` may exceed [0, 1] a little). Values far outside are clipped
        too, with a UserWarning: when more than :attr:`far_share` of the values lie
        more than :attr:`far` outside, X is badly scaled and clipping changes it.

        Examples
        --------
        >>> import numpy as np
        >>> BernoulliLikelihood.clip_input(np.array([[1.01, 0.5]]))
        array([[1. , 0.5]])
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     clipped = BernoulliLikelihood.clip_input(np.array([[16.0, 8.0]]))
        >>> print(caught[0].message)  # doctest: +ELLIPSIS
        2 of 2 values of X lie outside [0, 1], 2 (100.0%) of them by more than 0.05: ...
        """
        if cls.support is None or X.size == 0:
            return X
        low, high = cls.support
        lo, hi = float(X.min()), float(X.max())
        if lo >= low and hi <= high:
            return X
        margin = cls.far * (high - low)
        if lo < low - margin or hi > high + margin:
            n_far = _n_outside(X, low - margin, high + margin)
            if n_far > cls.far_share * X.size:
                cls.warn_outside(_n_outside(X, low, high), n_far, X.size)
        return np.clip(X, low, high)

    @classmethod
    def warn_outside(cls, n_out, n_far, size):
        """The warning of :meth:`clip_input`: ``n_far`` of ``size`` values lie far outside.

        Apart so that data read in chunks (:class:`skvae.Rows`) get the same warning from
        their counts.
        """
        low, high = cls.support
        margin = cls.far * (high - low)
        warnings.warn(
            f"{n_out} of {size} values of X lie outside [{low:g}, {high:g}], "
            f"{n_far} ({n_far / size:.1%}) of them by more than {margin:g}: X "
            f"looks scaled unlike the data this likelihood={cls.name!r} model was "
            f"fitted on. They are clipped to [{low:g}, {high:g}], which changes them; "
            f"scale X to [{low:g}, {high:g}] as for fit (divide pixel values by "
            "their maximum, e.g. 255, or reuse the MinMaxScaler fitted on the "
            "training data).",
            UserWarning, stacklevel=_caller_level(),
        )


class BernoulliLikelihood(Likelihood):
    """Independent Bernoulli pixels: the decoder gives logits, data lie in [0, 1].

    Parameters
    ----------
    n_features : int
        Size ``d`` of a flattened input.

    Examples
    --------
    >>> import torch
    >>> lik = BernoulliLikelihood(2)
    >>> lik.nll(torch.tensor([[0.0, 1.0]]), torch.tensor([[-20.0, 20.0]])) < 1e-6
    tensor([True])
    """

    name = "bernoulli"
    support = (0.0, 1.0)

    def nll(self, x, decoded):
        x = x.reshape(x.shape[0], -1)
        decoded = decoded.reshape(decoded.shape[0], -1)
        return F.binary_cross_entropy_with_logits(decoded, x, reduction="none").sum(dim=1)

    def mean(self, decoded):
        return torch.sigmoid(decoded.reshape(decoded.shape[0], -1))


class GaussianLikelihood(Likelihood):
    """Independent Gaussians with one learned standard deviation per feature.

    The decoder gives the means; ``log_scale`` (shape ``(d,)``, starting at 0, unit
    variance) is learned with the rest of the model.

    Parameters
    ----------
    n_features : int
        Size ``d`` of a flattened input.

    Examples
    --------
    >>> import torch
    >>> lik = GaussianLikelihood(3)
    >>> lik.nll(torch.zeros(2, 3), torch.zeros(2, 3)).shape
    torch.Size([2])
    """

    name = "gaussian"

    def __init__(self, n_features):
        super().__init__(n_features)
        self.log_scale = nn.Parameter(torch.zeros(self.n_features))

    def nll(self, x, decoded):
        x = x.reshape(x.shape[0], -1)
        decoded = decoded.reshape(decoded.shape[0], -1)
        z = (x - decoded) * torch.exp(-self.log_scale)
        return (0.5 * z.pow(2) + self.log_scale + 0.5 * _LOG_2PI).sum(dim=1)

    def mean(self, decoded):
        return decoded.reshape(decoded.shape[0], -1)


#: The observation models by name: the values accepted by ``likelihood=``.
LIKELIHOODS = {cls.name: cls for cls in (BernoulliLikelihood, GaussianLikelihood)}


def make_likelihood(likelihood, n_features):
    """Build the :class:`Likelihood` named ``likelihood`` for ``n_features`` features.

    Parameters
    ----------
    likelihood : str or Likelihood
        A key of :data:`LIKELIHOODS`, or an instance (returned as it is).
    n_features : int

    Returns
    -------
    Likelihood

    Examples
    --------
    >>> make_likelihood("gaussian", 4).log_scale.shape
    torch.Size([4])
    """
    if isinstance(likelihood, Likelihood):
        return likelihood
    try:
        cls = LIKELIHOODS[likelihood]
    except (KeyError, TypeError):
        raise ValueError(
            f"likelihood must be one of {sorted(LIKELIHOODS)}, got {likelihood!r}."
        ) from None
    return cls(n_features)

"""Plots users would otherwise write by hand: latent maps, image grids, loss curves.

This module is over 400 lines because each of its plot helpers checks its input against
the fitted model and is documented with an example.

Needs matplotlib (``pip install matplotlib``; in a clone, ``pip install -e ".[plot]"``).
Every function draws on a given ``ax`` (or a new figure) and returns the matplotlib object
it drew on.

The helpers that take a fitted estimator read the images' shape from it (its
``image_shape_``, the ``(channels, height, width)`` it was fitted with) and its code size
from ``n_components_``, so they draw what the model models. One-channel images are drawn
in grey, three-channel ones in colour.
"""

import math

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .nn import check_image_shape

__all__ = [
    "plot_latent",
    "plot_latent_grid",
    "plot_images",
    "plot_reconstructions",
    "plot_history",
]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skvae.plotting needs matplotlib: pip install matplotlib (in a clone of skvae: "
            "pip install -e '.[plot]')."
        ) from exc
    return plt


def _image_shape(n_features, image_shape=None, estimator=None):
    """``(channels, height, width)`` of the images in rows of ``n_features`` values.

    From ``image_shape`` when given (``(h, w)`` means one channel), else from the fitted
    ``estimator.image_shape_``, else a square one-channel image when ``n_features`` is a
    perfect square. Only 1 (grey) and 3 (colour) channels can be drawn.
    """
    where = "image_shape"
    if image_shape is not None:
        shape = tuple(np.ravel(np.asarray(image_shape, dtype=object)))
        if len(shape) == 2:
            shape = (1, *shape)
    elif getattr(estimator, "image_shape_", None) is not None:
        shape, where = estimator.image_shape_, f"{type(estimator).__name__}.image_shape_"
    else:
        side = math.isqrt(n_features)
        if side * side != n_features:
            if estimator is not None:
                raise ValueError(
                    f"{type(estimator).__name__} was fitted without image_shape "
                    f"(image_shape_ is None): it does not read its {n_features} features "
                    "as images, and they are not a square number of pixels to guess a "
                    "shape from. Pass image_shape=(channels, height, width) to this "
                    "function, or fit the model with image_shape=(channels, height, width)."
                )
            raise ValueError(
                f"Cannot guess the shape of images of {n_features} pixels (not a square "
                "number): pass image_shape=(channels, height, width) or (height, width)."
            )
        shape = (1, side, side)
    channels, height, width = check_image_shape(shape, n_features)
    if channels not in (1, 3):
        raise ValueError(
            f"{where}={tuple(shape)} has {channels} channels; the plots draw one-channel "
            "(grey) or three-channel (colour, RGB) images."
        )
    return channels, height, width


def _check_decoder(estimator, func):
    """A fitted estimator that decodes codes to rows, or a clear error."""
    check_is_fitted(estimator)
    if not hasattr(estimator, "inverse_transform"):
        raise TypeError(
            f"{func} decodes latent codes with inverse_transform, which "
            f"{type(estimator).__name__} does not have. Draw its samples instead: "
            "plot_images(model.sample(n, y=...), image_shape=model.image_shape_)."
        )


def _as_images(X, shape):
    """Rows of X as images: ``(n, h, w)`` for one channel, ``(n, h, w, 3)`` for colour."""
    channels, height, width = shape
    images = np.asarray(X, dtype=float).reshape(len(X), channels, height, width)
    return images[:, 0] if channels == 1 else images.transpose(0, 2, 3, 1)


def _show(ax, grid, cmap, **kwargs):
    """Draw a mosaic: grey through ``cmap``; colour as RGBA, the gaps transparent.

    Colour values outside [0, 1] are rescaled to it by one min-max over the whole
    mosaic (as the colour map does for grey images), so images stay comparable.
    """
    if grid.ndim == 2:
        return ax.imshow(grid, cmap=cmap, interpolation="nearest", **kwargs)
    gap = np.isnan(grid).any(axis=-1)
    lo, hi = np.nanmin(grid), np.nanmax(grid)
    if lo < 0 or hi > 1:
        grid = (grid - lo) / (hi - lo) if hi > lo else np.zeros_like(grid)
    rgba = np.concatenate([np.nan_to_num(grid), (~gap)[..., None].astype(float)], axis=-1)
    return ax.imshow(rgba, interpolation="nearest", **kwargs)


def plot_latent(Z, y=None, *, ax=None, target_names=None, s=6, title=None):
    """Scatter the first two latent dimensions, coloured by class.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_components >= 2)
        Latent codes, e.g. ``VAETransformer.transform(X)``.
    y : array-like of shape (n_samples,), optional
        Classes to colour by.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    target_names : sequence of str, optional
        Legend labels, indexed by the sorted unique values of ``y``.
    s : float, default=6
        Marker size.
    title : str, optional

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_latent(np.random.rand(20, 2), np.arange(20) % 3)
    """
    plt = _pyplot()
    Z = np.asarray(Z)
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise ValueError(f"Z must have shape (n_samples, >= 2), got {Z.shape}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    if y is None:
        ax.scatter(Z[:, 0], Z[:, 1], s=s, alpha=0.7)
    else:
        y = np.asarray(y)
        classes = np.unique(y)
        cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
        for i, label in enumerate(classes):
            name = target_names[i] if target_names is not None else str(label)
            mask = y == label
            ax.scatter(Z[mask, 0], Z[mask, 1], s=s, alpha=0.7, color=cmap(i % cmap.N),
                       label=name)
        ax.legend(markerscale=3, fontsize="small", loc="best", framealpha=0.8)
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    if title:
        ax.set_title(title)
    return ax


def _mosaic(images, n_cols):
    """Tile images of shape (n, h, w) or (n, h, w, 3) row by row, one NaN (blank) pixel
    between them."""
    n, h, w = images.shape[:3]
    n_rows = int(np.ceil(n / n_cols))
    grid = np.full((n_rows * (h + 1) - 1, min(n, n_cols) * (w + 1) - 1, *images.shape[3:]),
                   np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = img
    return grid


def plot_images(X, *, image_shape=None, n_cols=10, ax=None, title=None, cmap="gray_r"):
    """Show flattened images as one grid.

    Parameters
    ----------
    X : array-like of shape (n_images, n_pixels)
        Flattened images, channels first (as the estimators read them); values in
        [0, 1] or any real range.
    image_shape : (channels, height, width) or (height, width), optional
        One channel is drawn in grey, three in colour (RGB). Guessed for square
        one-channel images when omitted; pass a fitted model's ``image_shape_`` to
        draw its samples.
    n_cols : int, default=10
        Images per row.
    ax : matplotlib Axes, optional
    title : str, optional
    cmap : str, default='gray_r'
        Colour map of one-channel images (colour images ignore it). Colour values
        outside [0, 1] are rescaled to it, by one min-max over the whole grid.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_images(np.random.rand(12, 64), n_cols=6)
    >>> ax = plot_images(np.random.rand(4, 3 * 5 * 6), image_shape=(3, 5, 6))  # colour
    >>> ax.images[0].get_array().shape  # 4 images of 5 x 6 pixels, RGBA
    (5, 27, 4)
    """
    X = np.asarray(X)
    return _draw(X, _image_shape(X.shape[1], image_shape), n_cols, ax, title, cmap)


def _draw(X, shape, n_cols, ax, title, cmap):
    plt = _pyplot()
    n = len(X)
    n_rows = int(np.ceil(n / n_cols))
    grid = _mosaic(_as_images(X, shape), n_cols)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(n, n_cols) * 0.8, n_rows * 0.8))
    _show(ax, grid, cmap)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_reconstructions(estimator, X, *, image_shape=None, n_images=10, ax=None, title=None,
                         cmap="gray_r"):
    """Originals (top row) above their reconstructions ``inverse_transform(transform(X))``.

    Parameters
    ----------
    estimator : fitted VAETransformer
        Or any fitted estimator with ``transform`` and ``inverse_transform``. Its
        ``image_shape_`` (the ``image_shape`` it was fitted with) gives the images'
        shape. (A ``VAEClassifier`` has no ``inverse_transform``: draw its samples,
        ``plot_images(clf.sample(n, y=...), image_shape=clf.image_shape_)``.)
    X : array-like of shape (n_samples, n_pixels)
    image_shape : (channels, height, width) or (height, width), optional
        Overrides the model's ``image_shape_``. Needed only for a model fitted without
        ``image_shape`` whose rows are not a square number of pixels (else a
        ValueError says so); such rows are otherwise drawn as square grey images.
    n_images : int, default=10
    ax : matplotlib Axes, optional
    title : str, optional
    cmap : str, default='gray_r'
        Colour map of one-channel images.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X = load_digits().data / 16
    >>> vae = VAETransformer(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> ax = plot_reconstructions(vae, X[:5], n_images=5)

    A model of 6 x 10 images reads its shape from the fit:

    >>> X60 = np.random.default_rng(0).random((50, 60))
    >>> vae = VAETransformer(image_shape=(1, 6, 10), max_iter=1, random_state=0).fit(X60)
    >>> plot_reconstructions(vae, X60, n_images=4).images[0].get_array().shape
    (13, 43)
    """
    _check_decoder(estimator, "plot_reconstructions")
    X = np.asarray(X)[:n_images]
    shape = _image_shape(X.shape[1], image_shape, estimator)
    recon = estimator.inverse_transform(estimator.transform(X))
    return _draw(np.vstack([X, recon]), shape, len(X), ax,
                 title or "originals (top) and reconstructions (bottom)", cmap)


def plot_latent_grid(estimator, *, n_per_side=15, extent=(-2.0, 2.0), dims=(0, 1),
                     image_shape=None, ax=None, title=None, cmap="gray_r"):
    """Decode a regular grid of points of the latent plane and show it as one mosaic.

    The two latent dimensions ``dims`` run over ``extent``; every other dimension is
    held at 0, the prior mean. Each grid point is decoded with
    ``estimator.inverse_transform`` and drawn where it lies, so the axes are in latent
    units (``z[dims[0]]`` to the right, ``z[dims[1]]`` upwards) and the mosaic can be
    read side by side with :func:`plot_latent`.

    Parameters
    ----------
    estimator : fitted VAETransformer
        Or any fitted estimator with ``n_components_`` and ``inverse_transform``; its
        ``image_shape_`` gives the images' shape.
    n_per_side : int, default=15
        Images along each axis (``n_per_side ** 2`` in all).
    extent : (float, float), default=(-2.0, 2.0)
        Lowest and highest latent value on both axes. The prior is N(0, I), so
        (-2, 2) covers about 95 % of its mass along each axis.
    dims : (int, int), default=(0, 1)
        The two latent dimensions to vary.
    image_shape : (channels, height, width) or (height, width), optional
        Overrides the model's ``image_shape_`` (see :func:`plot_reconstructions`).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    title : str, optional
    cmap : str, default='gray_r'
        Colour map of one-channel images.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    plot_latent : Scatter the codes of real data in the same plane.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X = load_digits().data / 16
    >>> vae = VAETransformer(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> ax = plot_latent_grid(vae, n_per_side=5)
    >>> ax.images[0].get_array().shape  # 5 x 5 images of 8 x 8 pixels, 1-pixel gaps
    (44, 44)
    """
    plt = _pyplot()
    _check_decoder(estimator, "plot_latent_grid")
    n_components = int(estimator.n_components_)  # the fitted code, not the hyperparameter
    dims = tuple(int(d) for d in dims)
    if len(dims) != 2 or dims[0] == dims[1] or not all(0 <= d < n_components for d in dims):
        raise ValueError(
            f"dims must be two different latent dimensions in [0, {n_components}), got {dims}."
        )
    if int(n_per_side) < 1:
        raise ValueError(f"n_per_side must be a positive integer, got {n_per_side!r}.")
    n = int(n_per_side)
    lo, hi = (float(v) for v in extent)
    if not lo < hi:
        raise ValueError(f"extent must be (low, high) with low < high, got {extent!r}.")
    values = np.linspace(lo, hi, n) if n > 1 else np.array([(lo + hi) / 2])
    # Top row first: the largest value of the vertical dimension at the top.
    Z = np.zeros((n * n, n_components))
    Z[:, dims[0]] = np.tile(values, n)
    Z[:, dims[1]] = np.repeat(values[::-1], n)
    decoded = np.asarray(estimator.inverse_transform(Z))
    shape = _image_shape(decoded.shape[1], image_shape, estimator)
    _, h, w = shape
    grid = _mosaic(_as_images(decoded, shape), n)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    # Place the mosaic so that the centre of each image lies on its latent point.
    step = (hi - lo) / (n - 1) if n > 1 else (hi - lo)
    half_w = step * w / (2 * (w + 1)) if n > 1 else step / 2
    half_h = step * h / (2 * (h + 1)) if n > 1 else step / 2
    mid = (lo + hi) / 2 if n == 1 else None
    x0, x1 = (lo - half_w, hi + half_w) if mid is None else (mid - half_w, mid + half_w)
    y0, y1 = (lo - half_h, hi + half_h) if mid is None else (mid - half_h, mid + half_h)
    _show(ax, grid, cmap, extent=(x0, x1, y0, y1))
    ax.set_xlabel(f"z[{dims[0]}]")
    ax.set_ylabel(f"z[{dims[1]}]")
    if title:
        ax.set_title(title)
    return ax


def _weighted_names(row):
    """The terms whose weighted epoch means a history row holds (``train_loss_<name>``)."""
    return [key[len("train_loss_"):] for key in row
            if key.startswith("train_loss_") and not key.endswith("_best")]


def _scale(ax, curves):
    """A symmetric log scale when the curves' sizes differ by more than 30 times."""
    sizes = [float(np.median(np.abs(c))) for c in curves if len(c)]
    sizes = [v for v in sizes if v > 0]
    if len(sizes) > 1 and max(sizes) / min(sizes) > 30:
        ax.set_yscale("symlog", linthresh=max(min(sizes), max(sizes) * 1e-4))


def _draw_curves(ax, history, epochs, keys, label=None, legend_below=False):
    colours = {}
    curves = []
    for key in keys:
        part = key.split("_", 1)[-1]
        term = part[len("loss_"):] if part.startswith("loss_") else part
        # One colour per term in both panels (black for the loss itself).
        colour = "k" if part == "loss" else colours.setdefault(term, f"C{len(colours)}")
        values = np.asarray(history[:, key], dtype=float)
        curves.append(values)
        ax.plot(epochs, values, label=label(key) if label else key, color=colour,
                linestyle="--" if key.startswith("valid") else "-",
                linewidth=2.2 if part == "loss" else 1.4)
    _scale(ax, curves)
    ax.set_xlabel("epoch")
    if legend_below:  # beside many curves spanning the panel, a legend inside hides some
        ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15),
                  ncol=2, frameon=False)
    else:
        ax.legend(fontsize="small")
    return ax


def plot_history(history, *, keys=None, ax=None, title=None):
    """Plot what training minimised, per epoch, from a fitted estimator's ``history_``.

    By default, the loss and each of its weighted terms (``train_loss_<name>``, every
    term of the model that counts in it: the weighted terms sum to the loss), and
    beside them, in a second panel, the terms before weighting (``train_<name>``; a
    weight-0 diagnostic that is 0 at every epoch is left out); validation curves
    dashed, legends under the panels (so that they hide no curve). A panel whose curves
    differ in size by more than 30 times gets a symmetric log scale, so a small term is
    not flattened by a large one (for the default ``VAEClassifier``, a reconstruction
    of about 20 nats weighted 1/64 sits beside a classification loss of 0.002).

    Parameters
    ----------
    history : skorch History (``estimator.history_``)
    keys : sequence of str, optional
        History keys to plot, on one panel; each part gets one colour, solid for
        ``train_*`` and dashed for ``valid_*``.
    ax : matplotlib Axes, optional
        Draw the loss and its weighted terms there (no second panel).
    title : str, optional

    Returns
    -------
    ax : matplotlib Axes
        The panel of the loss (the second panel is ``ax.figure.axes[1]``).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> vae = VAETransformer(max_iter=3, random_state=0).fit(load_digits().data / 16)
    >>> ax = plot_history(vae.history_)
    >>> [line.get_label() for line in ax.get_lines()]
    ['train_loss', '1 x reconstruction', '0.1 x kl']
    """
    plt = _pyplot()
    epochs = history[:, "epoch"]
    names = _weighted_names(history[-1])
    if keys is None and not names:  # a history from before the weighted terms
        parts = ("loss", "reconstruction", "kl", "classification")
        keys = [f"{p}_{q}" for q in parts for p in ("train", "valid") if f"{p}_{q}" in history[-1]]
    if keys is not None:
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        _draw_curves(ax, history, epochs, keys)
        ax.set_ylabel("nats per row")
        if title:
            ax.set_title(title)
        return ax
    own = ax is None
    if own:
        _, (ax, ax_terms) = plt.subplots(1, 2, figsize=(11, 5))
    row = history[-1]
    valid = "valid_loss" in row
    # A term of weight 0 throughout (a diagnostic such as shared-m2's mask_rate) adds
    # nothing to the loss: it is drawn beside, with the terms before weighting.
    names_in_loss = [n for n in names if np.any(np.asarray(history[:, f"train_loss_{n}"]))]
    weighted = ["train_loss"] + [f"train_loss_{n}" for n in names_in_loss]
    if valid:
        weighted += ["valid_loss"] + [f"valid_loss_{n}" for n in names_in_loss
                                      if f"valid_loss_{n}" in row]

    def label(key):
        """``'0.01562 x reconstruction'``: the term and its weight (at the last epoch)."""
        if key in ("train_loss", "valid_loss"):
            return key
        prefix, name = key.split("_loss_", 1)
        raw = row.get(f"{prefix}_{name}")
        weight = f"{row[key] / raw:.4g} x " if raw else ""
        return f"{weight}{name}" + (" (valid)" if prefix == "valid" else "")

    _draw_curves(ax, history, epochs, weighted, label, legend_below=own)
    ax.set_ylabel("share of the loss (nats per row)")
    ax.set_title(title or "the loss and its weighted terms")
    if own:
        # A diagnostic that is 0 at every epoch (mask_rate without a threshold) is left
        # out: a flat line at 0 among the nats says nothing.
        shown = [n for n in names if n in names_in_loss
                 or np.any(np.asarray(history[:, f"train_{n}"]))]
        terms = [f"train_{n}" for n in shown]
        terms += [f"valid_{n}" for n in shown if valid and f"valid_{n}" in row]
        _draw_curves(ax_terms, history, epochs, terms, legend_below=True)
        ax_terms.set_ylabel("term before weighting (nats per row)")
        ax_terms.set_title("the terms before weighting")
        ax.figure.tight_layout()
    return ax

"""Plots users would otherwise write by hand: latent maps, image grids, loss curves.

Needs matplotlib (``pip install "skvae[plot]"``). Every function draws on a given
``ax`` (or a new figure) and returns the matplotlib object it drew on.
"""

import numpy as np

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
            "skvae.plotting needs matplotlib: pip install 'skvae[plot]' (or matplotlib)."
        ) from exc
    return plt


def _image_shape(n_features, image_shape):
    """``(height, width)`` of one-channel images of ``n_features`` pixels.

    ``image_shape`` may be ``(height, width)`` or ``(1, height, width)``; None takes a
    square image. The check itself is skvae's one image-shape check.
    """
    if image_shape is not None and len(tuple(image_shape)) == 2:
        image_shape = (1, *tuple(image_shape))
    channels, height, width = check_image_shape(image_shape, n_features)
    if channels != 1:
        raise ValueError(
            f"image_shape={tuple(image_shape)} has {channels} channels; the plots draw "
            "one-channel (grey) images."
        )
    return height, width


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
    """Tile images of shape (n, h, w) row by row, with one NaN (blank) pixel between them."""
    n, h, w = images.shape
    n_rows = int(np.ceil(n / n_cols))
    grid = np.full((n_rows * (h + 1) - 1, min(n, n_cols) * (w + 1) - 1), np.nan)
    for i, img in enumerate(images):
        r, c = divmod(i, n_cols)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = img
    return grid


def plot_images(X, *, image_shape=None, n_cols=10, ax=None, title=None, cmap="gray_r"):
    """Show flattened images as one grid.

    Parameters
    ----------
    X : array-like of shape (n_images, n_pixels)
        Flattened images (one channel), values in [0, 1] or any real range.
    image_shape : (h, w) or (1, h, w), optional
        Guessed for square images when omitted.
    n_cols : int, default=10
        Images per row.
    ax : matplotlib Axes, optional
    title : str, optional
    cmap : str, default='gray_r'

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> ax = plot_images(np.random.rand(12, 64), n_cols=6)
    """
    plt = _pyplot()
    X = np.asarray(X)
    h, w = _image_shape(X.shape[1], image_shape)
    n = len(X)
    n_rows = int(np.ceil(n / n_cols))
    grid = _mosaic(X.reshape(n, h, w), n_cols)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(n, n_cols) * 0.8, n_rows * 0.8))
    ax.imshow(grid, cmap=cmap, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def plot_reconstructions(estimator, X, *, image_shape=None, n_images=10, ax=None, title=None):
    """Originals (top row) above their reconstructions ``inverse_transform(transform(X))``.

    Parameters
    ----------
    estimator : fitted VAETransformer or VAEClassifier
    X : array-like of shape (n_samples, n_pixels)
    image_shape : (h, w) or (1, h, w), optional
    n_images : int, default=10
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X = load_digits().data / 16
    >>> vae = VAETransformer(n_components=2, max_iter=2, random_state=0).fit(X)
    >>> ax = plot_reconstructions(vae, X[:5], n_images=5)
    """
    X = np.asarray(X)[:n_images]
    recon = estimator.inverse_transform(estimator.transform(X))
    return plot_images(np.vstack([X, recon]), image_shape=image_shape, n_cols=len(X), ax=ax,
                       title=title or "originals (top) and reconstructions (bottom)")


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
    estimator : fitted VAETransformer or VAEClassifier
        Any fitted estimator with ``n_components`` and ``inverse_transform``.
    n_per_side : int, default=15
        Images along each axis (``n_per_side ** 2`` in all).
    extent : (float, float), default=(-2.0, 2.0)
        Lowest and highest latent value on both axes. The prior is N(0, I), so
        (-2, 2) covers about 95 % of its mass along each axis.
    dims : (int, int), default=(0, 1)
        The two latent dimensions to vary.
    image_shape : (h, w) or (1, h, w), optional
        Guessed for square images when omitted.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when omitted.
    title : str, optional
    cmap : str, default='gray_r'

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
    n_components = int(estimator.n_components)
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
    h, w = _image_shape(decoded.shape[1], image_shape)
    grid = _mosaic(decoded.reshape(n * n, h, w), n)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    # Place the mosaic so that the centre of each image lies on its latent point.
    step = (hi - lo) / (n - 1) if n > 1 else (hi - lo)
    half_w = step * w / (2 * (w + 1)) if n > 1 else step / 2
    half_h = step * h / (2 * (h + 1)) if n > 1 else step / 2
    mid = (lo + hi) / 2 if n == 1 else None
    x0, x1 = (lo - half_w, hi + half_w) if mid is None else (mid - half_w, mid + half_w)
    y0, y1 = (lo - half_h, hi + half_h) if mid is None else (mid - half_h, mid + half_h)
    ax.imshow(grid, cmap=cmap, interpolation="nearest", extent=(x0, x1, y0, y1))
    ax.set_xlabel(f"z[{dims[0]}]")
    ax.set_ylabel(f"z[{dims[1]}]")
    if title:
        ax.set_title(title)
    return ax


def plot_history(history, *, keys=None, ax=None, title=None):
    """Plot per-epoch curves from a fitted estimator's ``history_``.

    Parameters
    ----------
    history : skorch History (``estimator.history_``)
    keys : sequence of str, optional
        History keys to plot; by default every ``train_*`` / ``valid_*`` loss part
        recorded (loss, reconstruction, kl, classification). Each part gets one colour,
        solid for ``train_*`` and dashed for ``valid_*``.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> vae = VAETransformer(max_iter=3, random_state=0).fit(load_digits().data / 16)
    >>> ax = plot_history(vae.history_)
    """
    plt = _pyplot()
    if keys is None:
        parts = ("loss", "reconstruction", "kl", "classification")
        keys = [f"{p}_{q}" for q in parts for p in ("train", "valid") if f"{p}_{q}" in history[-1]]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    epochs = history[:, "epoch"]
    # One colour per loss part, solid for training and dashed for validation.
    colours = {}
    for key in keys:
        part = key.split("_", 1)[-1]
        colour = colours.setdefault(part, f"C{len(colours)}")
        ax.plot(epochs, history[:, key], label=key, color=colour,
                linestyle="--" if key.startswith("valid") else "-")
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per sample")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax

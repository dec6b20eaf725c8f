"""Tests for skvae.plotting: what each helper draws (no image comparison)."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from skvae import VAEClassifier, VAETransformer  # noqa: E402
from skvae.plotting import (  # noqa: E402
    plot_history,
    plot_images,
    plot_latent,
    plot_latent_grid,
    plot_reconstructions,
)

FAST = dict(hidden_layer_sizes=(32,), max_iter=3, batch_size=64, device="cpu")
TINY = dict(hidden_layer_sizes=(16,), max_iter=1, batch_size=32, device="cpu", random_state=0)


def _rows(n_features, n=40):
    """``n`` rows of ``n_features`` values in [0, 1]."""
    return np.random.default_rng(0).random((n, n_features)).astype(np.float32)


def test_plot_latent_one_collection_per_class_with_legend():
    Z = np.random.default_rng(0).normal(size=(30, 2))
    y = np.arange(30) % 3
    ax = plot_latent(Z, y, target_names=["a", "b", "c"], title="map")
    assert len(ax.collections) == 3
    assert sum(len(c.get_offsets()) for c in ax.collections) == 30
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "c"]
    assert ax.get_title() == "map"


def test_plot_latent_without_labels_and_bad_shape():
    ax = plot_latent(np.zeros((5, 2)))
    assert len(ax.collections) == 1 and ax.get_legend() is None
    with pytest.raises(ValueError, match="n_samples, >= 2"):
        plot_latent(np.zeros((5, 1)))


def test_plot_images_tiles_with_gaps():
    X = np.random.default_rng(0).random((12, 64))
    ax = plot_images(X, n_cols=5)
    grid = ax.images[0].get_array()
    assert grid.shape == (3 * 9 - 1, 5 * 9 - 1)  # 3 rows, 5 columns of 8x8, 1-pixel gaps
    np.testing.assert_allclose(grid[:8, :8], X[0].reshape(8, 8))
    np.testing.assert_allclose(grid[9:17, 9:17], X[6].reshape(8, 8))


def test_plot_images_rejects_unknown_shape():
    with pytest.raises(ValueError, match="image_shape"):
        plot_images(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="pixels"):
        plot_images(np.zeros((2, 64)), image_shape=(7, 7))


def test_plot_reconstructions_two_rows(vae2, digits):
    X = digits[1][:6]
    ax = plot_reconstructions(vae2, X, n_images=6)
    grid = ax.images[0].get_array()
    assert grid.shape == (2 * 9 - 1, 6 * 9 - 1)
    np.testing.assert_allclose(grid[:8, :8], X[0].reshape(8, 8))
    recon = vae2.inverse_transform(vae2.transform(X[:1]))
    np.testing.assert_allclose(grid[9:, :8], recon.reshape(8, 8), rtol=1e-6)


def test_plot_latent_grid_decodes_the_plane(vae2):
    n = 4
    ax = plot_latent_grid(vae2, n_per_side=n, extent=(-1.5, 1.5), title="grid")
    grid = np.asarray(ax.images[0].get_array())
    assert grid.shape == (n * 9 - 1, n * 9 - 1)
    values = np.linspace(-1.5, 1.5, n)
    # Top-left image: z = (-1.5, +1.5); bottom-right: z = (+1.5, -1.5).
    top_left = vae2.inverse_transform([[values[0], values[-1]]]).reshape(8, 8)
    bottom_right = vae2.inverse_transform([[values[-1], values[0]]]).reshape(8, 8)
    np.testing.assert_allclose(grid[:8, :8], top_left, rtol=1e-6)
    np.testing.assert_allclose(grid[-8:, -8:], bottom_right, rtol=1e-6)
    # The image centres sit on the latent points: the extent is symmetric around them.
    x0, x1, y0, y1 = ax.images[0].get_extent()
    assert x0 < -1.5 < 1.5 < x1 and np.isclose(x0 + x1, 0) and np.isclose(y0 + y1, 0)
    assert ax.get_xlabel() == "z[0]" and ax.get_ylabel() == "z[1]" and ax.get_title() == "grid"


def test_plot_latent_grid_other_dims_held_at_zero(vae3):
    ax = plot_latent_grid(vae3, n_per_side=3, dims=(2, 0))
    grid = np.asarray(ax.images[0].get_array())
    expected = vae3.inverse_transform([[2.0, 0.0, -2.0]]).reshape(8, 8)  # top-left
    np.testing.assert_allclose(grid[:8, :8], expected, rtol=1e-6)
    assert ax.get_xlabel() == "z[2]" and ax.get_ylabel() == "z[0]"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(dims=(0, 0)), "dims"),
        (dict(dims=(0, 3)), "dims"),
        (dict(n_per_side=0), "n_per_side"),
        (dict(extent=(1.0, -1.0)), "extent"),
    ],
)
def test_plot_latent_grid_bad_arguments(vae3, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_latent_grid(vae3, **kwargs)


def test_plot_history_draws_every_recorded_part(vae2):
    ax = plot_history(vae2.history_)
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["train_loss", "1 x reconstruction", "0.1 x kl"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), vae2.loss_curve_)
    assert len(ax.get_lines()[0].get_xdata()) == vae2.n_iter_
    terms = ax.figure.axes[1]  # the terms before weighting, beside
    assert [line.get_label() for line in terms.get_lines()] == ["train_reconstruction",
                                                                "train_kl"]


def test_plot_history_weighted_terms_sum_to_the_loss(X300):
    """The default classifier: every term drawn, weighted, summing to the training loss;
    a log scale where a term is tiny beside another."""
    y = np.where(np.arange(len(X300)) < 60, np.arange(len(X300)) % 10, -1)
    clf = VAEClassifier(max_iter=4, tol=None, random_state=0, device="cpu").fit(X300, y)
    ax = plot_history(clf.history_)
    lines = ax.get_lines()
    assert lines[0].get_label() == "train_loss"
    names = [line.get_label().split(" x ")[-1] for line in lines[1:]]
    # Every term that counts in the loss (a weight-0 diagnostic such as mask_rate is
    # drawn with the terms before weighting only).
    assert {"classification", "consistency", "kl", "pseudo", "reconstruction"} <= set(names)
    assert "mask_rate" not in names
    # Beside, the terms before weighting; mask_rate, 0 at every epoch here (no
    # threshold), is not drawn at all.
    terms = [line.get_label() for line in ax.figure.axes[1].get_lines()]
    assert "train_reconstruction" in terms and "train_pseudo" in terms
    assert not np.any(clf.history_[:, "train_mask_rate"])
    assert "train_mask_rate" not in terms
    total = np.sum([line.get_ydata() for line in lines[1:]], axis=0)
    np.testing.assert_allclose(total, clf.loss_curve_, rtol=1e-4)
    np.testing.assert_allclose(lines[0].get_ydata(), clf.loss_curve_)
    assert ax.get_yscale() == "symlog"
    assert "0.01562 x reconstruction" in [line.get_label() for line in lines]
    # Drawn into a given axes: that panel alone.
    fig, one = plt.subplots()
    assert plot_history(clf.history_, ax=one) is one and len(fig.axes) == 1


def test_plot_history_with_validation(digits):
    vae = VAETransformer(n_components=2, early_stopping=True, random_state=0, **FAST)
    vae.fit(digits[0])
    ax = plot_history(vae.history_, keys=["train_kl", "valid_kl"])
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["train_kl", "valid_kl"]
    assert lines[0].get_linestyle() == "-" and lines[1].get_linestyle() == "--"
    assert lines[0].get_color() == lines[1].get_color()  # one colour per loss part


# -- the plots read the fitted model (image_shape_, n_components_) -------------------
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_plot_reconstructions_reads_the_fitted_image_shape(architecture):
    # 6 x 10 images: 60 features, not a square, so only the model knows the shape.
    X = _rows(60)
    vae = VAETransformer(n_components=2, image_shape=(1, 6, 10), architecture=architecture,
                         **TINY).fit(X)
    assert vae.image_shape_ == (1, 6, 10)
    ax = plot_reconstructions(vae, X, n_images=3)
    grid = np.asarray(ax.images[0].get_array())
    assert grid.shape == (2 * 7 - 1, 3 * 11 - 1)
    np.testing.assert_allclose(grid[:6, :10], X[0].reshape(6, 10), rtol=1e-6)
    recon = vae.inverse_transform(vae.transform(X[2:3])).reshape(6, 10)
    np.testing.assert_allclose(grid[7:, 22:], recon, rtol=1e-6)
    grid = np.asarray(plot_latent_grid(vae, n_per_side=2).images[0].get_array())
    assert grid.shape == (2 * 7 - 1, 2 * 11 - 1)


def test_three_channel_model_is_drawn_in_colour():
    X = _rows(3 * 4 * 5)
    vae = VAETransformer(n_components=2, image_shape=(3, 4, 5), **TINY).fit(X)
    ax = plot_reconstructions(vae, X, n_images=2)
    rgba = np.asarray(ax.images[0].get_array())
    assert rgba.shape == (2 * 5 - 1, 2 * 6 - 1, 4)
    # Channels first in a row, channels last in the picture.
    np.testing.assert_allclose(rgba[:4, :5, :3], X[0].reshape(3, 4, 5).transpose(1, 2, 0),
                               rtol=1e-6)
    assert np.all(rgba[:4, :5, 3] == 1) and np.all(rgba[:, 5, 3] == 0)  # gaps transparent
    grid = np.asarray(plot_latent_grid(vae, n_per_side=3).images[0].get_array())
    assert grid.shape == (3 * 5 - 1, 3 * 6 - 1, 4)
    # Samples drawn with the model's shape; values outside [0, 1] are rescaled into it.
    ax = plot_images(vae.sample(4, random_state=0) * 3 - 1, image_shape=vae.image_shape_,
                     n_cols=2)
    rgba = np.asarray(ax.images[0].get_array())
    assert rgba.shape == (9, 11, 4) and rgba[..., :3].min() >= 0 and rgba[..., :3].max() <= 1


def test_classifier_samples_drawn_with_its_image_shape():
    X = _rows(60)
    clf = VAEClassifier(n_components=2, image_shape=(1, 6, 10), **TINY).fit(X, np.arange(40) % 2)
    ax = plot_images(clf.sample(4, y=[0, 0, 1, 1], random_state=0),
                     image_shape=clf.image_shape_, n_cols=2)
    assert np.asarray(ax.images[0].get_array()).shape == (13, 21)
    # It has no inverse_transform: the decoding plots say what to draw instead.
    with pytest.raises(TypeError, match=r"plot_images\(model.sample"):
        plot_reconstructions(clf, X)


def test_plot_latent_grid_reads_the_fitted_n_components(digits):
    vae = VAETransformer(n_components=2, **TINY).fit(digits[0][:200])
    vae.set_params(n_components=5)  # changes nothing until the next fit
    ax = plot_latent_grid(vae, n_per_side=2, extent=(-1.0, 1.0))
    top_left = vae.inverse_transform([[-1.0, 1.0]]).reshape(8, 8)
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array())[:8, :8], top_left,
                               rtol=1e-6)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        plot_latent_grid(vae, dims=(0, 3))


def test_model_not_image_shaped_is_a_clear_error():
    X = _rows(60)
    vae = VAETransformer(n_components=2, **TINY).fit(X)  # no image_shape: 60 columns
    assert vae.image_shape_ is None
    with pytest.raises(ValueError, match="fitted without image_shape.*Pass image_shape"):
        plot_reconstructions(vae, X)
    with pytest.raises(ValueError, match="fitted without image_shape"):
        plot_latent_grid(vae)
    # Told the shape, it draws.
    grid = plot_reconstructions(vae, X, image_shape=(6, 10), n_images=2).images[0]
    assert np.asarray(grid.get_array()).shape == (13, 21)


def test_shapes_that_cannot_be_drawn():
    with pytest.raises(ValueError, match="2 channels.*grey.*colour"):
        plot_images(np.zeros((2, 50)), image_shape=(2, 5, 5))
    with pytest.raises(NotFittedError):
        plot_reconstructions(VAETransformer(), np.zeros((2, 64)))
    with pytest.raises(NotFittedError):
        plot_latent_grid(VAETransformer())

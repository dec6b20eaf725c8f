"""scikit-learn's estimator checks for every public estimator, with one table of the
checks expected to fail and why."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAEClassifier, VAEOutlierDetector, VAETransformer

# The checks feed real-valued data (negative values included), which the default
# likelihood='bernoulli' rightly refuses; the Gaussian likelihood accepts any real X.
ESTIMATORS = [
    VAETransformer(
        n_components=2, hidden_layer_sizes=(8,), likelihood="gaussian", max_iter=2,
        batch_size=32, device="cpu", random_state=0,
    ),
    VAEClassifier(
        n_components=2, hidden_layer_sizes=(16,), likelihood="gaussian", max_iter=10,
        batch_size=32, learning_rate_init=0.01, device="cpu", random_state=0,
    ),
    VAEOutlierDetector(
        n_components=2, hidden_layer_sizes=(8,), likelihood="gaussian", max_iter=2,
        batch_size=32, device="cpu", random_state=0,
    ),
]

#: Checks that cannot pass, by estimator class name, with the reason.
_WEIGHTS = (
    "minibatch training: a row of weight 0 has no influence on the weights learned, but "
    "it still takes a place in its shuffled batch, so the batches (and the result) differ "
    "from a fit without that row; tests/test_pipeline.py tests what is promised (weights "
    "of ones give the unweighted fit exactly; changing zero-weight rows changes nothing)"
)

EXPECTED_FAILED = {
    "VAETransformer": {"check_sample_weight_equivalence_on_dense_data": _WEIGHTS},
    "VAEOutlierDetector": {"check_sample_weight_equivalence_on_dense_data": _WEIGHTS},
    "VAEClassifier": {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS,
        "check_classifiers_classes": (
            "the check's binary labels are [-1, 1], but -1 marks unlabelled rows (the "
            "scikit-learn semi-supervised convention), which leaves a single class"
        ),
        "check_methods_sample_order_invariance": (
            "a row's float32 result can change in the last bit (~1e-7) when it moves to "
            "another position inside a batch (the matrix-product kernels tile rows); "
            "transform feeds the classifier's softmax into the encoder, and the check's "
            "tolerance is tighter than float32 precision. Subsets (other rows in the "
            "batch) give the same results: every inference batch is padded to one size. "
            "On some hardware the check passes (a non-strict expected failure)"
        ),
    },
}


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED[type(est).__name__]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_readme_agrees_with_the_expected_failures():
    """Issue 30.6: the README names the same expected failure, as one that may pass."""
    from pathlib import Path

    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    assert "check_methods_sample_order_invariance" in EXPECTED_FAILED["VAEClassifier"]
    assert ("`VAEClassifier` may fail `check_methods_sample_order_invariance` on some "
            "hardware") in readme
    assert "non-strict expected failure" in readme

"""scikit-learn's estimator checks for every public estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skvae import VAETransformer

# The checks feed real-valued data (negative values included), which the default
# likelihood='bernoulli' rightly refuses; the Gaussian likelihood accepts any real X.
ESTIMATORS = [
    VAETransformer(
        n_components=2, hidden_layer_sizes=(8,), likelihood="gaussian", max_iter=2,
        batch_size=32, device="cpu", random_state=0,
    ),
]

EXPECTED_FAILED = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_compatible(estimator, check):
    check(estimator)

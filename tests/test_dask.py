"""Grid search on a Dask cluster through joblib's "dask" backend (a LocalCluster here)."""

import numpy as np
import pytest
import torch
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from skvae import VAETransformer

distributed = pytest.importorskip("distributed")


def _one_torch_thread():

    torch.set_num_threads(1)
    return torch.get_num_threads()


def _search():
    pipe = Pipeline([
        ("vae", VAETransformer(hidden_layer_sizes=(32,), max_iter=15, batch_size=64,
                               device="cpu", random_state=0)),
        ("svc", SVC()),
    ])
    grid = {"vae__n_components": [2, 8], "svc__C": [0.1, 10]}
    return GridSearchCV(pipe, grid, cv=2)


def test_grid_search_on_local_dask_cluster_matches_local_run(digits, one_thread):
    X, y = digits[0][:400], digits[2][:400]
    local = _search().fit(X, y)

    # Workers are separate processes; each gets one torch thread so that two workers on
    # a 2-core machine do not oversubscribe it. OMP_NUM_THREADS covers the workers'
    # start-up; client.run sets torch's count in the running workers as well.
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        worker_dashboard_address=None, env=env, silence_logs=40,
    ) as cluster, distributed.Client(cluster) as client:
        threads = client.run(_one_torch_thread)
        assert sorted(threads.values()) == [1, 1]
        with distributed.get_task_stream(client) as stream, parallel_backend("dask"):
            remote = _search().fit(X, y)
    # The fits ran as tasks on the workers (2 folds x 4 grid points, plus the refit,
    # which GridSearchCV does in this process).
    workers = {task["worker"] for task in stream.data}
    assert len(stream.data) >= 8 and len(workers) >= 1

    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )

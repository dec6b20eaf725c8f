import subprocess
import sys

import pytest

from skvae import cli


def test_compare_on_digits_prints_table_and_saves_plot(tmp_path, capsys):
    plot = tmp_path / "compare.png"
    status = cli.main(["compare", "--n-train", "300", "--max-iter", "3", "--n-components", "4",
                       "--device", "cpu", "--plot", str(plot)])
    assert status == 0
    out = capsys.readouterr().out
    assert "| model | test accuracy | fit s | predict s |" in out
    for name in ("SVC(rbf, C=10) on pixels", "VAETransformer(4) -> SVC(C=10)",
                 "VAETransformer(4) -> LogisticRegression"):
        assert name in out
    assert plot.stat().st_size > 10_000


def test_run_comparison_rows_are_measured():
    X_train, X_test, y_train, y_test, shape, names = cli.load_dataset("digits", n_train=200)
    assert shape == (1, 8, 8) and len(names) == 10 and len(X_train) == 200
    rows = cli.run_comparison(X_train, y_train, X_test, y_test, n_components=4, max_iter=2,
                              device="cpu")
    assert len(rows) == 3
    for row in rows:
        assert 0.0 <= row["accuracy"] <= 1.0
        assert row["fit_s"] > 0 and row["predict_s"] > 0
    assert rows[0]["accuracy"] > 0.8  # an SVC on digits pixels
    assert rows[1]["estimator"].predict(X_test[:3]).shape == (3,)


def test_bad_arguments_exit_nonzero(capsys):
    assert cli.main(["compare", "--n-train", "5"]) == 2
    assert "--n-train" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["compare", "--dataset", "cifar"])
    assert cli.main(["compare", "--n-train", "100", "--device", "tpu"]) == 2
    assert "device" in capsys.readouterr().err


def test_missing_fashion_mnist_is_explained(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKVAE_DATA", str(tmp_path))
    assert cli.main(["compare", "--dataset", "fashion-mnist"]) == 1
    assert "dataset-fashion-mnist" in capsys.readouterr().err


def test_python_dash_m_help():
    out = subprocess.run([sys.executable, "-m", "skvae", "compare", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--plot" in out and "fashion-mnist" in out

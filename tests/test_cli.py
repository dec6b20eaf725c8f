import gzip
import os
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest

from skvae import cli


def test_compare_on_digits_prints_table_and_saves_plot(tmp_path, capsys):
    plot = tmp_path / "compare.png"
    status = cli.main(["compare", "--n-train", "300", "--max-iter", "3", "--n-components", "4",
                       "--device", "cpu", "--plot", str(plot)])
    assert status == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "| model | test accuracy | fit s | predict s |" in out
    for name in ("SVC(rbf, C=10) on pixels", "VAETransformer(n_components=4) -> SVC(C=10)",
                 "VAETransformer(n_components=4) -> LogisticRegression"):
        assert name in out
    assert "labels" not in out  # without --labels: the full-label table only
    assert plot.stat().st_size > 10_000
    assert f"figure saved to {plot}\n" in captured.err
    assert [p.name for p in tmp_path.iterdir()] == ["compare.png"]


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


@pytest.mark.parametrize("n_train", [1256, 1257, 20])
def test_load_dataset_any_n_train_up_to_all_rows(n_train):
    # 1256 of digits' 1257 training rows used to fail inside train_test_split
    X_train, _, y_train, _, _, _ = cli.load_dataset("digits", n_train=n_train)
    assert X_train.shape == (n_train, 64) and y_train.shape == (n_train,)
    assert len(np.unique(y_train)) == 10  # stratified: every class kept


def test_load_dataset_more_rows_than_available():
    with pytest.raises(ValueError, match="cannot keep 5000 training rows: digits has 1257"):
        cli.load_dataset("digits", n_train=5000)


# ----------------------------------------------------------------------------- errors


def assert_one_error_line(capsys, *words):
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    # at most the progress line that `compare` prints before its (slow) imports
    assert [line for line in lines[:-1] if not line.startswith("skvae compare: loading ")] \
        == [], captured.err
    lines = lines[-1:]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("skvae: error: ")
    assert "Traceback" not in captured.err
    for word in words:
        assert word in lines[0], lines[0]
    assert captured.out == ""
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["compare", "--dataset", "cifar"], ["--dataset", "cifar"]),
        (["compare", "--random-state", "-1"], ["--random-state", "-1"]),
        (["compare", "--random-state", str(2**32)], ["--random-state"]),
        (["compare", "--n-train", "5"], ["--n-train", "at least 20"]),
        (["compare", "--n-train", "1258"], ["1258", "1257"]),
        (["compare", "--n-components", "0"], ["--n-components"]),
        (["compare", "--max-iter", "0"], ["--max-iter"]),
        (["compare", "--beta", "nan"], ["--beta"]),
        (["compare", "--beta", "-1"], ["--beta"]),
        (["compare", "--device", "tpu"], ["device"]),
        (["compare", "--architecture", "rnn"], ["--architecture", "rnn", "conv"]),
        (["compare", "--labels"], ["--labels"]),
        (["compare", "--labels", "0"], ["--labels", "0"]),
        (["compare", "--labels", "-5"], ["--labels"]),
        (["compare", "--labels", "1.5"], ["--labels", "1.5"]),
        (["compare", "--labels", "many"], ["--labels", "many"]),
        (["compare", "--labels", "1"], ["--labels", "at least 2"]),
        (["compare", "--labels", "0.0001"], ["--labels", "at least 2"]),
        (["compare", "--labels", "50", "1258"], ["--labels", "1258", "1257"]),
        (["compare", "--n-train", "100", "--labels", "101"], ["--labels", "101", "100"]),
    ],
)
def test_bad_arguments_one_error_line(argv, words, capsys, no_training):
    assert cli.main(argv) == 2
    assert_one_error_line(capsys, *words)


def test_bare_skvae_prints_the_usage(capsys):
    """Issue 30.7: a bare `skvae` says how to call it."""
    assert cli.main([]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert lines[0].startswith("usage: skvae")
    assert lines[-1] == "skvae: error: name a command: skvae compare (skvae --help for more)"
    assert captured.out == "" and "Traceback" not in captured.err


def test_empty_plot_name_is_refused_before_training(capsys, no_training):
    """Issue 30, fault 10: --plot "" used to exit 0 with no figure and no message."""
    assert cli.main(["compare", "--plot", ""]) == 2
    assert_one_error_line(capsys, "--plot needs a file name")


def test_help_allows_an_overcomplete_code(capsys):
    """Issue 30.7: a latent code wider than the input is allowed (a VAE may be
    overcomplete); the help no longer says otherwise."""
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "at most the number of input features" not in out
    assert "may exceed the number of input features" in out
    assert "image_shape=fetch_fashion_mnist().image_shape" in out


@pytest.mark.parametrize(
    ("name", "extra", "words"),
    [
        (".", [], ["is a folder"]),
        ("missing/fig.png", [], ["missing", "does not exist"]),
        ("fig", [], ["no extension", "png"]),
        ("fig.xyz", [], ["'.xyz'", "png"]),
        ("fig.png", ["--labels", "50"], ["at least two"]),
    ],
    ids=["folder", "no-folder", "no-extension", "bad-extension", "one-count"],
)
def test_bad_plot_refused_before_training(tmp_path, name, extra, words, capsys, no_training):
    assert cli.main(["compare", "--plot", str(tmp_path / name), *extra]) == 2
    assert_one_error_line(capsys, "--plot", *words)
    assert list(tmp_path.iterdir()) == []


def test_plot_without_matplotlib(tmp_path, monkeypatch, capsys, no_training):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    assert cli.main(["compare", "--plot", str(tmp_path / "fig.png")]) == 2
    assert_one_error_line(capsys, "--plot needs matplotlib", "pip install")


def test_missing_fashion_mnist_is_explained(tmp_path, monkeypatch, capsys, no_training):
    monkeypatch.setenv("SKVAE_DATA", str(tmp_path))
    assert cli.main(["compare", "--dataset", "fashion-mnist"]) == 2
    assert_one_error_line(capsys, "dataset-fashion-mnist", str(tmp_path))


def test_corrupt_data_file_one_error_line(tmp_path, monkeypatch, capsys, no_training):
    def idx(array):
        header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
        return gzip.compress(header + array.astype(np.uint8).tobytes())

    for prefix in ("train", "t10k"):
        (tmp_path / f"{prefix}-images-idx3-ubyte.gz").write_bytes(idx(np.zeros((3, 28, 28))))
        (tmp_path / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(idx(np.zeros(3)))
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(idx(np.zeros((3, 28, 28)))[:-10])  # a truncated download
    monkeypatch.setenv("SKVAE_DATA", str(tmp_path))
    assert cli.main(["compare", "--dataset", "fashion-mnist", "--n-train", "20"]) == 2
    assert_one_error_line(capsys, str(bad), "gzip")


def test_fashion_mnist_folder_of_8x8_images_refused_before_training(tmp_path, monkeypatch,
                                                                     capsys, no_training):
    # used to train and report a "Fashion-MNIST" comparison made on 8x8 images
    def idx(array):
        header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes()
        return gzip.compress(header + array.astype(np.uint8).tobytes())

    for prefix in ("train", "t10k"):
        (tmp_path / f"{prefix}-images-idx3-ubyte.gz").write_bytes(idx(np.zeros((30, 8, 8))))
        (tmp_path / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(idx(np.arange(30) % 10))
    monkeypatch.setenv("SKVAE_DATA", str(tmp_path))
    assert cli.main(["compare", "--dataset", "fashion-mnist", "--n-train", "20"]) == 2
    assert_one_error_line(capsys, "holds 8x8 images, but Fashion-MNIST images are 28x28",
                          str(tmp_path / "train-images-idx3-ubyte.gz"))


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (ValueError("X has NaN.\nRemove the NaN rows."), 2),
        (FloatingPointError("the loss became NaN at epoch 3"), 2),
        (MemoryError(), 2),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), 2),
        (KeyboardInterrupt(), 130),
    ],
    ids=["ValueError", "NaN-loss", "MemoryError", "cuda-oom", "Ctrl-C"],
)
def test_estimator_errors_one_line(exc, status, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(cli, "run_comparison", fail)
    assert cli.main(["compare", "--n-train", "100", "--device", "cpu"]) == status
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == ("skvae: interrupted" if status == 130 else
                         f"skvae: error: {cli._one_line(exc)}")
    if isinstance(exc, ValueError):
        assert lines[-1] == "skvae: error: X has NaN.; Remove the NaN rows."


def test_a_bug_still_shows_its_traceback(monkeypatch):
    def bug(*args, **kwargs):
        raise RuntimeError("an internal bug")

    monkeypatch.setattr(cli, "run_comparison", bug)
    with pytest.raises(RuntimeError, match="internal bug"):
        cli.main(["compare", "--n-train", "100", "--device", "cpu"])


def test_help(capsys):
    assert cli.main(["compare", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--plot" in out and "fashion-mnist" in out and "--labels" in out


def test_python_dash_m_error_is_one_line_exit_2():
    done = subprocess.run([sys.executable, "-m", "skvae", "compare", "--random-state", "-1"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("skvae: error: argument --random-state: ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# ---------------------------------------------------------------------- --labels


def test_hide_labels_is_stratified_and_seeded():
    y = np.repeat(np.arange(4), 25)
    y_semi = cli.hide_labels(y, 20, random_state=3)
    kept = y_semi != -1
    assert kept.sum() == 20
    np.testing.assert_array_equal(y_semi[kept], y[kept])
    np.testing.assert_array_equal(np.bincount(y_semi[kept]), [5, 5, 5, 5])
    np.testing.assert_array_equal(y_semi, cli.hide_labels(y, 20, random_state=3))
    assert not np.array_equal(y_semi, cli.hide_labels(y, 20, random_state=4))
    assert (cli.hide_labels(y, 100) == y).all()
    with pytest.raises(ValueError, match="between 1 and 100"):
        cli.hide_labels(y, 101)


def test_run_semisupervised_rows():
    X_train, X_test, y_train, y_test, _, _ = cli.load_dataset("digits", n_train=150)
    rows = cli.run_semisupervised(X_train, y_train, X_test, y_test, [20, 60], n_components=3,
                                  max_iter=2, device="cpu", random_state=0)
    models = ["SVC(rbf, C=10) on labelled pixels", "LabelSpreading()",
              "SelfTraining(SVC(C=10))", "VAETransformer(n_components=3) -> SVC(C=10)",
              "VAEClassifier(n_components=3)"]
    assert [row["model"] for row in rows] == models * 2
    assert [row["n_labels"] for row in rows] == [20] * 5 + [60] * 5
    for row in rows:
        assert 0.0 <= row["accuracy"] <= 1.0
        assert row["fit_s"] > 0 and row["predict_s"] > 0
    assert rows[0]["estimator"].support_vectors_.shape[0] <= 20  # labelled rows only
    assert rows[0]["accuracy"] > 0.5  # 2 labels per digit are far above chance
    # one VAE, learned from all 150 rows without labels, shared by both counts
    assert rows[3]["estimator"][0] is rows[8]["estimator"][0]
    assert rows[4]["estimator"].max_iter == 2 and rows[4]["estimator"].random_state == 0
    assert list(rows[4]["estimator"].classes_) == list(range(10))


def test_compare_labels_prints_tables_and_plots(tmp_path, capsys):
    plot = tmp_path / "labels.svg"
    status = cli.main(["compare", "--n-train", "150", "--labels", "20", "0.4", "20",
                       "--max-iter", "2", "--n-components", "3", "--device", "cpu",
                       "--plot", str(plot)])
    assert status == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "| labels | model | test accuracy | fit s | predict s |" in out
    lines = out.splitlines()
    # 0.4 of 150 rows is 60; the repeated 20 runs once
    assert [line.split(" | ")[0] for line in lines[2:12]] == ["| 20"] * 5 + ["| 60"] * 5
    assert "| test accuracy with N labels | 20 | 60 |" in out
    assert "| VAEClassifier(n_components=3) | " in out
    assert plot.read_text().lstrip().startswith("<?xml")
    assert f"figure saved to {plot}\n" in captured.err
    assert [p.name for p in tmp_path.iterdir()] == ["labels.svg"]


# ------------------------------------------------------ start-up, version, architecture


def run_python(code):
    """Run ``code`` in a fresh interpreter (this checkout first on the path); its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout


def test_import_skvae_does_not_import_torch():
    out = run_python("import sys, skvae\n"
                     "print('torch' in sys.modules, sorted(skvae.__all__))\n"
                     "print(skvae.VAEClassifier.__name__, 'torch' in sys.modules)")
    assert out.splitlines() == [
        "False ['Rows', 'VAEClassifier', 'VAEOutlierDetector', 'VAETransformer', '__version__']",
        "VAEClassifier True"]


def test_help_does_not_import_torch():
    # exactly what `python -m skvae --help` runs
    out = run_python("import runpy, sys\n"
                     "sys.argv = ['skvae', '--help']\n"
                     "try:\n"
                     "    runpy.run_module('skvae', run_name='__main__')\n"
                     "except SystemExit as exc:\n"
                     "    print('exit', exc.code)\n"
                     "print('torch' in sys.modules, 'sklearn' in sys.modules)")
    assert "usage: skvae" in out
    assert out.splitlines()[-2:] == ["exit 0", "False False"]


def test_dir_lists_the_lazy_names():
    import skvae

    assert {"VAEClassifier", "VAETransformer", "__version__", "datasets"} <= set(dir(skvae))
    with pytest.raises(AttributeError, match="has no attribute 'VAE'"):
        skvae.VAE  # noqa: B018


def test_version():
    from skvae import __version__

    done = subprocess.run([sys.executable, "-m", "skvae", "--version"], capture_output=True,
                          text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"skvae {__version__}\n", "")


def test_compare_architecture_conv(capsys, monkeypatch):
    from skvae import _experiment

    seen = []
    fit = _experiment.run_comparison

    def spy(*args, **kwargs):
        rows = fit(*args, **kwargs)
        seen.append(rows[1]["estimator"][0])
        return rows

    monkeypatch.setattr(cli, "run_comparison", spy)
    status = cli.main(["compare", "--n-train", "100", "--max-iter", "1", "--n-components",
                       "2", "--architecture", "conv", "--device", "cpu"])
    assert status == 0
    captured = capsys.readouterr()
    assert "| VAETransformer(n_components=2) -> SVC(C=10) |" in captured.out
    assert "architecture='conv'" in captured.err
    assert seen[0].architecture == "conv" and seen[0].image_shape == (1, 8, 8)


def test_semisupervised_architecture_conv():
    X_train, X_test, y_train, y_test, shape, _ = cli.load_dataset("digits", n_train=60)
    rows = cli.run_semisupervised(X_train, y_train, X_test, y_test, 20, n_components=2,
                                  max_iter=1, architecture="conv", image_shape=shape,
                                  device="cpu")
    assert rows[3]["estimator"][0].architecture == "conv"
    assert rows[4]["estimator"].architecture == "conv"


# ------------------------------------------------------------------------------ Ctrl-C


def interrupt(marker, *argv):
    """Start ``argv``, send SIGINT once ``marker`` is on its stderr; (status, stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=env)
    watchdog = threading.Timer(120, proc.kill)  # a hang fails the test, never blocks it
    watchdog.start()
    try:
        err = []
        for line in proc.stderr:
            err.append(line)
            if marker in line:
                proc.send_signal(signal.SIGINT)
                break
        err.extend(proc.stderr)
        return proc.wait(), "".join(err)
    finally:
        watchdog.cancel()
        proc.kill()
        proc.stderr.close()


def interrupt_compare(marker, *args):
    """``interrupt`` on ``skvae compare --device cpu *args``."""
    return interrupt(marker, sys.executable, "-m", "skvae", "compare", "--device", "cpu",
                     *args)


def assert_stopped_by_interrupt(status, err):
    assert status in (130, -signal.SIGINT), err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "skvae: interrupted", err
    assert err.count("skvae: interrupted") == 1


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent on Windows")
def test_ctrl_c_during_training_stops_with_one_line():
    # before: skorch ended the epoch loop on KeyboardInterrupt, the estimator returned its
    # model, and the command went on to print its table and exit 0
    status, err = interrupt_compare("fitting VAETransformer", "--n-train", "300",
                                    "--max-iter", "100000")
    assert_stopped_by_interrupt(status, err)
    assert "fitting VAETransformer" in err


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent on Windows")
def test_ctrl_c_during_start_up_stops_with_one_line():
    # the marker comes before torch, scikit-learn and the data are imported
    status, err = interrupt_compare("skvae compare: loading", "--labels", "50", "100")
    assert_stopped_by_interrupt(status, err)
    assert err.splitlines()[0] == "skvae compare: loading digits ..."


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent on Windows")
def test_ctrl_c_stops_code_that_swallows_keyboard_interrupt():
    # What skorch does once an epoch has ended (it ends the loop, the estimator returns its
    # model): no KeyboardInterrupt may keep the command going, nor C code that does not
    # return to Python (here a long sleep).
    code = ("import sys, time\n"
            "from skvae import cli\n"
            "cli._exit_at_once_on_interrupt()\n"
            "print('ready', file=sys.stderr, flush=True)\n"
            "for _ in range(100):\n"
            "    try:\n"
            "        time.sleep(1000)\n"
            "    except KeyboardInterrupt:\n"
            "        pass\n")
    status, err = interrupt("ready", sys.executable, "-c", code)
    assert_stopped_by_interrupt(status, err)
    assert err.splitlines() == ["ready", "skvae: interrupted"]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT cannot be sent on Windows")
def test_ctrl_c_during_the_command_imports_is_one_line(tmp_path):
    """Issue 30, fault 11: the entry point installs the Ctrl-C handling before it imports
    the CLI, so a SIGINT while skvae.cli and its imports load ends with one line and
    status 130 (it gave a KeyboardInterrupt traceback)."""
    code = (
        "import os, signal, sys, time\n"
        "import skvae._command as command, skvae._interrupt as interrupt\n"
        "real = interrupt.exit_at_once_on_interrupt\n"
        "def install_then_interrupt():\n"
        "    real()\n"
        "    assert 'skvae.cli' not in sys.modules and 'skvae._experiment' not in sys.modules\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    time.sleep(0.5)\n"  # the import of the CLI happens in this window
        "interrupt.exit_at_once_on_interrupt = install_then_interrupt\n"
        "sys.argv = ['skvae', 'compare', '--device', 'cpu']\n"
        "sys.exit(command.main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 130, out.stderr
    assert out.stderr == "skvae: interrupted\n"
    assert out.stdout == ""


def test_the_command_starts_at_the_interrupt_safe_entry_point():
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'skvae = "skvae._command:main"' in pyproject
    main = (Path(cli.__file__).parent / "__main__.py").read_text()
    assert "from ._command import main" in main

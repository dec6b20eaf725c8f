"""Tests for training progress (skvae._progress): stages, plain output, logger, notebooks."""

import io
import logging
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from skvae import VAEClassifier, VAETransformer
from skvae._progress import Progress, in_notebook, is_terminal

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(n_components=2, hidden_layer_sizes=(16,), batch_size=64, device="cpu",
            random_state=0)
ESC = "\x1b"


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self):
        return True


def _partly_labelled(X300):
    y = np.arange(len(X300)) % 10
    y[30:] = -1  # three labels per class
    return X300, y


def _run(code, tmp_path, **env):
    """Run ``code`` in a fresh interpreter with stdout to a file; return what it wrote."""
    out = tmp_path / "out.txt"
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    with open(out, "w") as fh:
        subprocess.run([sys.executable, "-c", code], stdout=fh, stderr=subprocess.PIPE,
                       env=environ, check=True, cwd=ROOT, timeout=120)
    return out.read_text()


def test_semi_supervised_fit_names_both_stages_in_a_plain_file(tmp_path):
    # What a CI log or `python fit.py > log.txt` gets: named stages, no redraws, no colour.
    text = _run(textwrap.dedent("""
        import numpy as np, torch
        from sklearn.datasets import load_digits
        from skvae import VAEClassifier
        torch.set_num_threads(1)
        X, y = load_digits(return_X_y=True)
        X, y = X[:300] / 16, y[:300].copy()
        y[30:] = -1
        VAEClassifier(n_components=2, hidden_layer_sizes=(16,), max_iter=2,
                      early_stopping=True, verbose=1, random_state=0, model="m1+m2").fit(X, y)
    """), tmp_path)
    assert "\r" not in text and ESC not in text
    lines = text.splitlines()
    lines = lines[lines.index(next(line for line in lines if "training for" in line)):]
    assert lines[0].startswith("M1: training for 2 epochs (stage 1 of 2")
    assert lines[1].startswith("M1: loss = reconstruction + beta*kl, in nats per row")
    assert any(line.startswith("M1: epoch 2 of 2 | loss ") for line in lines)
    assert "M1: done, 2 epochs in" in text
    m2 = lines.index(next(line for line in lines if line.startswith("M2: training")))
    assert lines[m2].startswith("M2: training for 2 epochs (stage 2 of 2")
    # The M2 loss on the standardised code can be negative: the line says why.
    assert lines[m2 + 1].startswith(
        "M2: loss = reconstruction + beta*kl + alpha*classification")
    assert "Gaussian likelihood, a density" in lines[m2 + 1] and "negative" in lines[m2 + 1]
    last = next(line for line in lines if line.startswith("M2: epoch 2 of 2"))
    assert "classification" in last and "valid loss" in last and "left" in last
    # No skorch table (PrintLog) and no skorch progress bar.
    assert "train_loss" not in text and "it/s" not in text


def test_verbose_zero_prints_nothing_but_the_logger_gets_every_stage(
        X300, capsys, caplog):
    X, y = _partly_labelled(X300)
    caplog.set_level(logging.INFO, logger="skvae")
    VAEClassifier(max_iter=2, verbose=0, model="m1+m2", **TINY).fit(X, y)
    assert capsys.readouterr().out == ""
    records = [r for r in caplog.records if r.name == "skvae"]
    assert all(r.levelno == logging.INFO for r in records)
    assert [r.stage for r in records if "training for" in r.getMessage()] == ["M1", "M2"]
    epochs = [(r.stage, r.epoch) for r in records if ": epoch " in r.getMessage()]
    assert epochs == [("M1", 1), ("M1", 2), ("M2", 1), ("M2", 2)]


def test_fully_labelled_classifier_is_one_stage(X300, capsys):
    VAEClassifier(max_iter=2, verbose=2, **TINY).fit(X300, np.arange(len(X300)) % 10)
    out = capsys.readouterr().out
    assert out.startswith("skvae fit: model shared-m2, 1 stage (shared-M2 2 epochs x ")
    assert out.splitlines()[1] == "FitPlan: model 'shared-m2'"  # every setting at 2
    out = out[out.index("shared-M2: training"):]
    assert out.startswith("shared-M2: training for 2 epochs\nshared-M2: loss = "
                          "0.01562*reconstruction + 0.01562*kl + 1.000*classification + "
                          "3.000*consistency + 1.000*pseudo, in nats per row")
    VAEClassifier(max_iter=1, verbose=2, model="m2", **TINY).fit(
        X300, np.arange(len(X300)) % 10)
    out = capsys.readouterr().out
    out = out[out.index("M2: training"):]
    assert out.startswith("M2: training for 1 epoch\nM2: loss = reconstruction + beta*kl"
                          " + alpha*classification")
    assert "M1" not in out and "M2: epoch 1 of 1 | loss " in out


def test_records_match_the_printed_lines(X300, capsys, caplog):
    caplog.set_level(logging.INFO, logger="skvae")
    VAETransformer(max_iter=3, verbose=2, **TINY).fit(X300)
    printed = capsys.readouterr().out.splitlines()
    logged = [r.getMessage() for r in caplog.records if r.name == "skvae"]
    assert printed == logged
    assert [line.split(" | ")[0] for line in printed if ": epoch" in line] == [
        "VAE: epoch 1 of 3", "VAE: epoch 2 of 3", "VAE: epoch 3 of 3"]


def test_no_records_when_the_logger_is_off(X300, capsys, caplog):
    caplog.set_level(logging.WARNING, logger="skvae")
    VAETransformer(max_iter=2, verbose=0, **TINY).fit(X300)
    assert not [r for r in caplog.records if r.name == "skvae"]
    assert capsys.readouterr().out == ""


def test_terminal_gets_one_bar_per_stage(X300, monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setenv("TERM", "xterm")
    VAETransformer(max_iter=3, verbose=1, **TINY).fit(X300)
    text = terminal.getvalue()
    text = text[text.index("VAE: training"):]
    assert text.startswith("VAE: training for 3 epochs\nVAE: loss = ")
    assert "\r" in text  # a bar redrawn in place
    final = text.split("\r")[-1]
    assert final.startswith("VAE: epoch 3 of 3 |") and "elapsed" in final
    assert "left, loss " in final
    assert "\nVAE: done, 3 epochs in " in text


def test_early_stopping_message_and_summary_go_through_progress(X300, capsys):
    # A step size of 1e-9 barely moves the weights: the validation loss stops improving.
    vae = VAETransformer(max_iter=20, early_stopping=True, n_iter_no_change=2,
                         learning_rate_init=1e-9, verbose=1, **TINY).fit(X300)
    n = vae.n_iter_
    assert n < 20
    out = capsys.readouterr().out
    assert "Stopping since valid_loss has not improved in the last 2 epochs." in out
    assert out.index(f"VAE: epoch {n} of 20 |") < out.index("Stopping since")
    assert f"VAE: stopped after {n} of 20 epochs" in out


def test_partial_fit_counts_its_own_epochs(X300, capsys):
    vae = VAETransformer(max_iter=50, verbose=2, **TINY)
    vae.partial_fit(X300)
    vae.partial_fit(X300)
    out = capsys.readouterr().out
    assert out.count("VAE: training for 1 epoch\n") == 2
    assert out.count("VAE: epoch 1 of 1 |") == 2 and "of 50" not in out


def test_fitted_model_with_progress_pickles(X300):
    vae = VAETransformer(max_iter=2, verbose=1, **TINY).fit(X300)
    clone = pickle.loads(pickle.dumps(vae))
    np.testing.assert_allclose(clone.transform(X300[:5]), vae.transform(X300[:5]))


def test_notebook_without_widgets_falls_back_to_lines(X300, monkeypatch):
    from skvae import _progress

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets fails
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    VAETransformer(max_iter=2, verbose=1, **TINY).fit(X300)
    assert "VAE: epoch 2 of 2 | loss" in out.getvalue() and "\r" not in out.getvalue()


def test_stream_detection():
    assert not is_terminal(io.StringIO())
    assert is_terminal(_Terminal()) or os.environ.get("TERM") == "dumb"
    assert not in_notebook()
    progress = Progress("M1", 4, description="x")
    assert progress.get_params()["stage"] == "M1" and progress.get_params()["n_epochs"] == 4


def test_real_jupyter_kernel_without_ipywidgets(tmp_path):
    # skorch's ProgressBar switches to tqdm.notebook in a kernel, which raises
    # "IProgress not found" without ipywidgets: fitting must still work and show progress.
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat (the dev extra)")
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient (the dev extra)")
    pytest.importorskip("ipykernel", reason="needs ipykernel (the dev extra)")
    hide = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        sys.modules["ipywidgets"] = None  # as if not installed
        import tqdm.notebook
        try:
            tqdm.notebook.tqdm(total=1)
        except ImportError as exc:
            print("no widgets:", exc)
    """)
    fit = textwrap.dedent("""
        import torch
        from sklearn.datasets import load_digits
        from skvae import VAETransformer
        torch.set_num_threads(1)
        X = load_digits().data[:300] / 16
        vae = VAETransformer(n_components=2, hidden_layer_sizes=(16,), max_iter=2,
                             verbose=1, random_state=0).fit(X)
        print("fitted", vae.n_iter_)
    """)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(hide), nbformat.v4.new_code_cell(fit)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)

    def text(cell):
        assert not [o for o in cell.outputs if o.output_type == "error"]
        return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")

    assert "IProgress not found" in text(nb.cells[0])  # the notebook cannot draw widgets
    out = text(nb.cells[1])
    assert "VAE: training for 2 epochs" in out
    assert "VAE: epoch 2 of 2 | loss" in out and "fitted 2" in out
    assert "\r" not in out and ESC not in out

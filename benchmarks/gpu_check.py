"""The one-command GPU check: every GPU path of skvae, run once, in one results table.

``make gpu-check`` runs it on a CUDA machine (within 5 minutes on one GPU); ``make
gpu-check DEVICE=cpu`` runs every step at a tiny size on the CPU (CI does, so the script
itself stays working). Without CUDA, the default ``--device cuda`` says so and exits 1.

Steps, each timed and recorded as ``ok``, ``skipped`` (with why) or ``failed``:

1. ``environment``: torch, CUDA and the GPU's name; skorch is importable.
2. ``gpu tests``: ``pytest -m gpu`` (the tests marked for a GPU; they skip on a CPU).
3. ``speed``: ``bench_speed.py --device DEVICE`` (seconds per epoch of a plain PyTorch
   loop against skvae's net, MLP and conv), with ``data_placement`` 'device' and 'host',
   in float32 and ``precision='bf16-mixed'``.
4. ``semi-supervised``: ``VAEClassifier(image_shape=(1, 28, 28))`` (the defaults' call
   for images) on Fashion-MNIST with 100
   labels (the IDX files from ``SKVAE_DATA`` or the bundle); digits and a short run on the
   CPU.
5. ``torchrun``: ``examples/distributed_fit.py`` on two processes (two GPUs, nccl; gloo on
   the CPU); skipped with one GPU or without the example.
6. ``pickle to cpu``: fit on the device, pickle, load and predict in a process that sees
   no GPU; the outputs must agree.

What it needs on a machine without network access: torch, scikit-learn, numpy (a CUDA
image has them), skorch (a wheel), and for step 4 the Fashion-MNIST files. ``make
gpu-bundle`` puts the skorch wheel and the dataset in ``.gpu-bundle/``, which travels
with the working tree; ``make gpu-check`` installs the wheel from there when skorch is
missing. The table goes to ``benchmarks/results/gpu_check.csv`` and, as Markdown, to
``docs/results/gpu_check.md``. Usage::

    PYTHONPATH=. python benchmarks/gpu_check.py --device cuda
    PYTHONPATH=. python benchmarks/gpu_check.py --device cpu   # every step, tiny
"""

import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import fmt, make_parser, markdown, save, start

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / ".gpu-bundle"


def _run(cmd, timeout, env=None):
    """Run a command from the repository root; (ok, last lines of its output)."""
    environ = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'benchmarks'}"
               f"{os.pathsep}{os.environ.get('PYTHONPATH', '')}", **(env or {})}
    try:
        out = subprocess.run(cmd, cwd=ROOT, env=environ, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s"
    text = (out.stdout + out.stderr).strip().splitlines()
    return out.returncode == 0, " / ".join(" ".join(line.split()) for line in text[-3:])[-300:]


def step_environment(device, tiny):
    import skorch
    import torch

    name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA"
    return "ok", (f"torch {torch.__version__}, skorch {skorch.__version__}, {name}, "
                  f"{torch.cuda.device_count()} GPU(s)")


def step_gpu_tests(device, tiny):
    ok, tail = _run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "tests",
                     "-p", "no:cacheprovider"], timeout=240)
    return ("ok" if ok else "failed"), tail


def step_speed(device, tiny):
    """bench_speed's plain loop against skvae's net, then each placement and precision."""
    from sklearn.datasets import load_digits

    from skvae import VAETransformer

    size = ["--n-train", "512", "--epochs", "1"] if tiny else ["--n-train", "60000",
                                                                "--epochs", "2"]
    out = Path(tempfile.mkdtemp())  # this run's table; speed.csv keeps curated runs
    ok, tail = _run([sys.executable, "benchmarks/bench_speed.py", "--device", device,
                     "--arch", "mlp", "conv", "--out", str(out), *size,
                     "--note", "gpu_check"], timeout=150)
    if not ok:
        return "failed", tail
    table = (out / "speed.md").read_text().splitlines()
    rows = [line for line in table if line.startswith("|") and device in line]
    X = (load_digits().data / 16).astype(np.float32)
    X = np.tile(X, (2 if tiny else 34, 1))  # 3,594 or 61,098 rows
    epochs = {}
    for placement in ("device", "host"):
        for precision in ("32", "bf16-mixed"):
            # tol=None: two epochs time the path; they are not meant to converge.
            vae = VAETransformer(architecture="conv", max_iter=2, data_placement=placement,
                                 precision=precision, device=device, random_state=0,
                                 tol=None).fit(X)
            epochs[f"{placement}/{precision}"] = float(vae.history_[-1, "dur"])
    timings = ", ".join(f"{k} {v:.2f} s" for k, v in epochs.items())
    return "ok", (f"conv VAE, {len(X)} rows, last epoch: {timings}; bench_speed: "
                  + " / ".join(" ".join(r.split()) for r in rows))[:600]


def _fashion_dir():
    for folder in (os.environ.get("SKVAE_DATA"), BUNDLE / "fashion-mnist",
                   "/usr/share/datasets/fashion-mnist"):
        if folder and (Path(folder) / "train-images-idx3-ubyte.gz").is_file():
            return Path(folder)
    return None


def step_semi_supervised(device, tiny):
    from skvae import VAEClassifier
    from skvae._experiment import draw_labelled, load_digits_split, load_fashion_mnist_split

    if tiny:
        X_train, X_test, y_train, y_test = load_digits_split(random_state=0)
        params = dict(max_iter=2, hidden_layer_sizes=(32,), tol=None)
        what = "digits, 100 labels, 2 epochs"
    else:
        folder = _fashion_dir()
        if folder is None:
            return "skipped", ("no Fashion-MNIST files (make gpu-bundle, or SKVAE_DATA "
                               "naming a folder of the IDX .gz files)")
        X_train, X_test, y_train, y_test = load_fashion_mnist_split(data_home=folder)
        params = {"image_shape": (1, 28, 28)}  # the defaults' call for images
        what = "Fashion-MNIST 60k, 100 labels, VAEClassifier(image_shape=(1, 28, 28))"
    labelled = draw_labelled(y_train, 100, random_state=0)
    y_partial = np.full(len(y_train), -1)
    y_partial[labelled] = y_train[labelled]
    t0 = time.perf_counter()
    clf = VAEClassifier(device=device, random_state=0, **params).fit(X_train, y_partial)
    seconds = time.perf_counter() - t0
    return "ok", f"{what}: accuracy {clf.score(X_test, y_test):.3f}, fit {seconds:.0f} s"


def step_torchrun(device, tiny):
    import torch

    example = ROOT / "examples" / "distributed_fit.py"
    if not example.is_file():
        return "skipped", "examples/distributed_fit.py is not in this checkout"
    if device != "cpu" and torch.cuda.device_count() < 2:
        return "skipped", f"{torch.cuda.device_count()} GPU(s): two are needed"
    args = ["--max-iter", "2"] if tiny else []
    # Two epochs are not meant to converge: keep their warning out of the result line.
    quiet = {"PYTHONWARNINGS": "ignore:max_iter="} if tiny else {}
    ok, tail = _run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                     "--nproc_per_node", "2", str(example), *args], timeout=240, env=quiet)
    return ("ok" if ok else "failed"), tail


def step_pickle_to_cpu(device, tiny):
    from sklearn.datasets import load_digits

    from skvae import VAETransformer

    X = (load_digits().data / 16).astype(np.float32)
    vae = VAETransformer(n_components=4, architecture="conv", max_iter=2 if tiny else 5,
                         device=device, random_state=0, tol=None).fit(X)
    expected = vae.transform(X[:50])
    with tempfile.TemporaryDirectory() as folder:
        model, rows = Path(folder) / "model.pkl", Path(folder) / "rows.npy"
        model.write_bytes(pickle.dumps(vae))
        np.save(rows, X[:50])
        code = ("import pickle, sys, numpy as np, warnings; warnings.simplefilter('ignore');"
                "m = pickle.loads(open(sys.argv[1], 'rb').read());"
                "np.save(sys.argv[3], m.transform(np.load(sys.argv[2])));"
                "print(m.net_.device)")
        ok, tail = _run([sys.executable, "-c", code, str(model), str(rows),
                         str(Path(folder) / "out.npy")], timeout=120,
                        env={"CUDA_VISIBLE_DEVICES": ""})
        if not ok:
            return "failed", tail
        got = np.load(Path(folder) / "out.npy")
    gap = float(np.max(np.abs(got - expected)))
    status = "ok" if tail.strip() == "cpu" and gap < 1e-3 else "failed"
    return status, f"loaded on {tail.strip()}, largest difference {gap:.1e}"


STEPS = [("environment", step_environment), ("gpu tests", step_gpu_tests),
         ("speed", step_speed), ("semi-supervised", step_semi_supervised),
         ("torchrun", step_torchrun), ("pickle to cpu", step_pickle_to_cpu)]


def main():
    parser = make_parser(__doc__, threads=0)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                        help="cuda (the check) or cpu (every step tiny, for CI)")
    args = parser.parse_args()
    command = start(args)
    import torch

    if args.device == "cpu" and Path(args.out).resolve() == (ROOT / "benchmarks" / "results"):
        args.out = Path(tempfile.mkdtemp())  # the tiny CPU run keeps no rows

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available here (torch.cuda.is_available() is "
              "False); run it on a GPU machine, or with --device cpu (make gpu-check "
              "DEVICE=cpu) for the tiny CPU run.", file=sys.stderr)
        return 1
    tiny = args.device == "cpu"
    rows = []
    for name, step in STEPS:
        t0 = time.perf_counter()
        try:
            status, result = step(args.device, tiny)
        except Exception as exc:  # a step's failure is a row of the table, not the end
            status, result = "failed", f"{type(exc).__name__}: {exc}"[:300]
        seconds = time.perf_counter() - t0
        print(f"{name}: {status} ({seconds:.0f} s) {result}", flush=True)
        rows.append({"step": name, "device": args.device, "status": status,
                     "seconds": round(seconds, 1), "result": result})
    save("gpu_check", rows, args, command, title="GPU check", table=lambda all_rows: markdown(
        ["date", "step", "device", "status", "seconds", "result"],
        [[r["date"], r["step"], r["device"], r["status"], fmt(r["seconds"], 0),
          str(r["result"]).replace("|", "/")] for r in all_rows]))
    return 1 if any(r["status"] == "failed" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

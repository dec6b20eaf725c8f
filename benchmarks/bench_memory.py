"""Peak memory of VAETransformer's fit, transform and score_samples against the data size.

Every measurement runs in a fresh Python process (so nothing left over from an earlier one
counts): it builds ``n`` rows x 784 float32 features in [0, 1] (random, like Fashion-MNIST
pixels), does the set-up (fit the model, or for ``fit`` a throwaway copy, on 1,000 of the
rows, so that one-time costs such as lazy imports are not counted), takes the resident set
size as the baseline, then runs the measured call once. The peak is the process's peak
resident set size during the call: on Linux the high-water mark ``VmHWM`` after resetting
it (``/proc/self/clear_refs``) just before the call, elsewhere ``resource.getrusage``'s
``ru_maxrss``. On CUDA the peak of torch's allocations is reported too. ``fit`` is one
epoch of a small net, with and without ``early_stopping`` (which holds out
``validation_fraction`` of the rows).

    python benchmarks/bench_memory.py --sizes 10000 50000 200000

The table gives peak minus baseline in MB and as a multiple of the data's own size: 1.0
means the call held one extra copy of X at its peak. Appends to
``benchmarks/results/memory.csv``; rebuilds ``memory.md``.

Data larger than memory (``--disk-gb``): a float32 file of that size (random values in
[0, 1], made once under ``--data-dir``, removed after unless ``--keep``) is trained on for
one epoch three ways, each in a fresh process: loaded into memory (``fit_in_memory``),
as a read-only ``np.memmap`` (``fit_memmap``: the in-place path) and through
``skvae.Rows`` with ``scale=1.0`` (``fit_rows``: the batch-reading path h5py and zarr
take); ``transform_memmap`` encodes every row of the memmap. The out-of-core calls run
under a hard budget: ``RLIMIT_DATA`` (the process's private writable memory, which a
read-only file mapping is not) capped at the baseline plus ``--budget-gb``, so a copy of
X would fail. Peak anonymous memory is ``RssAnon`` sampled every 10 ms (the file's pages
are page cache, which the kernel may drop, and are not counted); the epoch time is
skorch's ``dur`` of the epoch, ``fit_s`` the whole call (validation pass included).

    python benchmarks/bench_memory.py --disk-gb 4 --budget-gb 1
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _common import fmt, group, make_parser, markdown, save, start

N_FEATURES = 784
OPS = ("fit", "fit_early_stopping", "transform", "score_samples")
DISK_OPS = ("fit_in_memory", "fit_memmap", "fit_rows", "transform_memmap")
CAN_RESET = os.path.exists("/proc/self/clear_refs")


def rss_mb(field="VmRSS"):
    """Resident set size (or, with field='VmHWM', its peak) of this process in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def max_rss_mb():
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def child(op, n, device, seed):
    """Run one measurement in this (fresh) process; print its result as JSON."""
    import torch
    from sklearn.base import clone

    from skvae import VAETransformer

    torch.set_num_threads(1)
    X = np.random.default_rng(seed).random((n, N_FEATURES), dtype=np.float32)
    vae = VAETransformer(n_components=8, hidden_layer_sizes=(64,), batch_size=256, max_iter=1,
                         early_stopping=op == "fit_early_stopping", device=device,
                         random_state=seed)
    call = {"fit": vae.fit, "fit_early_stopping": vae.fit, "transform": vae.transform,
            "score_samples": vae.score_samples}[op]
    if op in ("transform", "score_samples"):
        vae.fit(X[:1000])
    else:  # a throwaway fit first: one-time costs (lazy imports, allocator pools) not counted
        clone(vae).set_params(early_stopping=False).fit(X[:1000])
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    if CAN_RESET:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        baseline = rss_mb()
    else:
        baseline = max_rss_mb()
    call(X)
    peak = rss_mb("VmHWM") if CAN_RESET else max_rss_mb()
    print(json.dumps({
        "baseline_mb": baseline, "peak_mb": peak,
        "cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "method": "VmHWM after clear_refs" if CAN_RESET else "ru_maxrss"}))


class AnonPeak:
    """Peak ``RssAnon`` (anonymous resident memory, MB), sampled by a thread every 10 ms."""

    def __enter__(self):
        self.peak, self._stop = rss_mb("RssAnon"), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb("RssAnon"))

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb("RssAnon"))


def make_disk_data(path, n, seed, chunk=65536):
    """A float32 .npy file of n x N_FEATURES values in [0, 1], written chunk by chunk."""
    if Path(path).exists():
        return
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, N_FEATURES))
    rng = np.random.default_rng(seed)
    for first in range(0, n, chunk):
        out[first:first + chunk] = rng.random((min(chunk, n - first), N_FEATURES),
                                              dtype=np.float32)
    out.flush()
    del out


def disk_child(op, path, budget_mb, device, seed):
    """One out-of-core measurement in this (fresh) process; print its result as JSON."""
    import torch

    from skvae import Rows, VAETransformer

    torch.set_num_threads(1)
    mapped = np.load(path, mmap_mode="r")
    X = {"fit_in_memory": lambda: np.array(mapped), "fit_rows": lambda: Rows(mapped, scale=1.0)
         }.get(op, lambda: mapped)()
    vae = VAETransformer(n_components=8, hidden_layer_sizes=(64,), batch_size=256, max_iter=1,
                         device=device, random_state=seed)
    vae.fit(np.asarray(mapped[:1000]))  # one-time costs (lazy imports, pools) not counted
    budget = op != "fit_in_memory"
    if budget:
        resource.setrlimit(resource.RLIMIT_DATA, (int(rss_mb("VmData") * 2**20)
                                                  + int(budget_mb * 2**20),
                                                  resource.RLIM_INFINITY))
    baseline = rss_mb("RssAnon")
    t0 = time.perf_counter()
    with AnonPeak() as peak:
        if op == "transform_memmap":
            vae.transform(X)
            epoch = None
        else:
            vae.fit(X)
            epoch = vae.history_[-1, "dur"]
    print(json.dumps({"baseline_mb": baseline, "peak_mb": peak.peak, "epoch_s": epoch,
                      "fit_s": time.perf_counter() - t0, "budget": budget}))


def run_child(args, what):
    """Run this script with ``args`` in a fresh process; its JSON result."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                         check=False)
    if out.returncode:
        raise RuntimeError(f"{what} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def growth_row(op, n, device, seed, result, digits=2):
    """The columns every measurement has: data size, baseline, peak and growth."""
    data_mb = n * N_FEATURES * 4 / 2**20
    growth = result["peak_mb"] - result["baseline_mb"]
    return {"device": device, "n_rows": n, "n_features": N_FEATURES, "op": op, "seed": seed,
            "data_mb": round(data_mb, 1), "baseline_mb": round(result["baseline_mb"], 1),
            "peak_mb": round(result["peak_mb"], 1), "growth_mb": round(growth, 1),
            "growth_x_data": round(growth / data_mb, digits)}


def measure_disk(op, path, n, budget_mb, device, seed):
    result = run_child(["--disk-child", op, str(path), str(budget_mb), "--device", device,
                        "--seed", str(seed)], f"{op} on {path}")
    return {**growth_row(op, n, device, seed, result, digits=3),
            "budget_mb": round(budget_mb) if result["budget"] else None,
            "epoch_s": result["epoch_s"] and round(result["epoch_s"], 1),
            "fit_s": round(result["fit_s"], 1),
            "method": "RssAnon sampled every 10 ms; budget by RLIMIT_DATA"}


def disk_table(rows):
    body = [[r["op"], fmt(r["data_mb"], 0), fmt(r["budget_mb"]) if r["budget_mb"] else "none",
             f"{fmt(r['growth_mb'], 0)} ({r['growth_x_data']:.3f}x)", fmt(r["peak_mb"], 0),
             fmt(r["epoch_s"]), fmt(r["fit_s"]), r["date"]]
            for r in rows if r.get("method", "").startswith("RssAnon")]
    if not body:
        return []
    return ["Data larger than memory (``--disk-gb``): one epoch, peak anonymous memory above "
            "the baseline (RssAnon sampled every 10 ms), MB (x the data's size); the "
            "out-of-core calls under a hard RLIMIT_DATA budget:", "",
            *markdown(["op", "data (MB)", "budget (MB)", "peak anon. growth",
                       "peak anon. (MB, X in memory included)", "epoch (s)", "call (s)",
                       "date"], body), ""]


def measure(op, n, device, seed):
    result = run_child(["--child", op, str(n), "--device", device, "--seed", str(seed)],
                       f"{op} on {n} rows")
    return {**growth_row(op, n, device, seed, result),
            "cuda_peak_mb": result["cuda_peak_mb"] and round(result["cuda_peak_mb"], 1),
            "method": result["method"]}


def table(rows):
    lines = disk_table(rows)
    rows = [r for r in rows if not r.get("method", "").startswith("RssAnon")]
    for (device, method), sub in group(rows, ["device", "method"]).items():
        ops = list(dict.fromkeys(r["op"] for r in sub))
        cells = group(sub, ["n_rows", "op"])
        lines += [f"Device {device}; peak by {method}. Peak minus baseline, MB "
                  "(x the data's size); latest run of each cell:", ""]
        body = []
        for n in sorted({r["n_rows"] for r in sub}):
            last = {op: cells[(n, op)][-1] for op in ops if (n, op) in cells}
            data_mb = next(iter(last.values()))["data_mb"]
            body.append([n, fmt(data_mb, 0)] + [
                f"{fmt(last[op]['growth_mb'], 0)} ({last[op]['growth_x_data']:.2f}x)"
                if op in last else "" for op in ops])
        lines += markdown(["rows", "data (MB)", *ops], body) + [""]
    return lines


def main(argv=None):
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        device = sys.argv[sys.argv.index("--device") + 1]
        seed = int(sys.argv[sys.argv.index("--seed") + 1])
        child(sys.argv[2], int(sys.argv[3]), device, seed)
        return
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--disk-child":
        device = sys.argv[sys.argv.index("--device") + 1]
        seed = int(sys.argv[sys.argv.index("--seed") + 1])
        disk_child(sys.argv[2], sys.argv[3], float(sys.argv[4]), device, seed)
        return
    parser = make_parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 50000, 200000])
    parser.add_argument("--ops", nargs="+", default=list(OPS), choices=OPS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--disk-gb", type=float, default=None,
                        help="train from a float32 file of this size instead (GiB)")
    parser.add_argument("--budget-gb", type=float, default=1.0,
                        help="memory budget of the out-of-core calls (GiB)")
    parser.add_argument("--disk-ops", nargs="+", default=list(DISK_OPS), choices=DISK_OPS)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the data file")
    args = parser.parse_args(argv)
    command = start(args)
    rows = []
    if args.disk_gb and not args.report_only:
        n = int(args.disk_gb * 2**30 // (4 * N_FEATURES))
        path = args.data_dir / f"skvae_bench_memory_{n}x{N_FEATURES}.npy"
        make_disk_data(path, n, args.seed)
        try:
            for op in args.disk_ops:
                rows.append(measure_disk(op, path, n, args.budget_gb * 1024, args.device,
                                         args.seed))
                print(rows[-1], flush=True)
        finally:
            if not args.keep:
                path.unlink()
    for n in [] if args.report_only or args.disk_gb else args.sizes:
        for op in args.ops:
            rows.append(measure(op, n, args.device, args.seed))
            print(rows[-1], flush=True)
    save("memory", rows, args, command, table=table,
         title="Peak memory against data size (VAETransformer, 784 float32 features)",
         text="Each cell: one fresh process; the baseline is the resident set size after "
              "building X and fitting on 1,000 rows (for fit: a throwaway copy); fit "
              "is one epoch of VAETransformer(n_components=8, hidden_layer_sizes=(64,), "
              "batch_size=256), 1 torch thread.")


if __name__ == "__main__":
    main()

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
"""

import json
import os
import resource
import subprocess
import sys

import numpy as np
from _common import fmt, group, make_parser, markdown, save, start

N_FEATURES = 784
OPS = ("fit", "fit_early_stopping", "transform", "score_samples")
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


def measure(op, n, device, seed):
    out = subprocess.run(
        [sys.executable, __file__, "--child", op, str(n), "--device", device, "--seed",
         str(seed)], capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{op} on {n} rows failed:\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    data_mb = n * N_FEATURES * 4 / 2**20
    growth = result["peak_mb"] - result["baseline_mb"]
    return {"device": device, "n_rows": n, "n_features": N_FEATURES, "op": op, "seed": seed,
            "data_mb": round(data_mb, 1), "baseline_mb": round(result["baseline_mb"], 1),
            "peak_mb": round(result["peak_mb"], 1), "growth_mb": round(growth, 1),
            "growth_x_data": round(growth / data_mb, 2),
            "cuda_peak_mb": result["cuda_peak_mb"] and round(result["cuda_peak_mb"], 1),
            "method": result["method"]}


def table(rows):
    lines = []
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
    parser = make_parser(__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 50000, 200000])
    parser.add_argument("--ops", nargs="+", default=list(OPS), choices=OPS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    command = start(args)
    rows = []
    for n in [] if args.report_only else args.sizes:
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

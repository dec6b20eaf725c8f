"""Threads on an idle and on a busy machine: torch's default, one thread, and the plan.

Issue 30.1. Three fits, each with torch's default thread count (one per core), with one
thread (``n_threads=1``) and with the planned count (``n_threads='auto'``), first on the
idle machine, then beside a competing CPU load of one busy process per core (plain
Python loops at normal priority, started by this script and stopped after), side by
side in one run:

- ``readme``: the README example, ``make_pipeline(VAETransformer(random_state=0),
  SVC()).fit`` on 75 % of the digits;
- ``conv4k``: a conv ``VAETransformer`` on 4,000 Fashion-MNIST images, 10 epochs;
- ``mlp60k``: one epoch of the default ``VAETransformer`` on the 60,000 Fashion-MNIST
  training images.

Targets: beside the load, the planned fit takes at most 2x its idle time; idle and
loaded, it is within 10 % of the faster of one thread and torch's default. The table
shows seconds (median over ``--repeats``), the planned thread count, and both ratios.

``--loads niced`` runs the fits beside one busy process per core at nice 10 (not in the
default run): a background job that yields to ours, which torch's threads still
collide with.

Run it on a machine with nothing else running (the load is its own)::

    PYTHONPATH=$PWD python benchmarks/bench_threads.py

``--quick`` runs everything tiny (a smoke test, seconds; write it elsewhere with
``--out``). Without Fashion-MNIST on disk the image fits use random binary images of
the same shape (the ``data`` column says which).

Each repeat runs the settings in a rotated order (repeat r starts with setting r), so
that a warm-up or a drift in the machine's load does not always fall on the same
setting. Before each fit the script records the cores other processes (niced ones
too) kept busy over half a second (``others_busy``: about 0 on an idle machine, about 2
beside the script's own load on 2 cores; more means someone else was running too) and
the 1-minute load average (``loadavg``); the tables show the median ``others_busy`` of
each row.
``--settings`` picks other settings, such as ``"2 threads"`` (any ``"N threads"``), and
``--interop N`` sets ``torch.set_num_interop_threads`` first (for investigations).
"""

import multiprocessing
import os
import statistics
import time

import numpy as np
import torch
from _common import fmt, group, make_parser, markdown, save, start

from skvae import VAETransformer
from skvae._threads import _cpu_times

SETTINGS = ("default", "1 thread", "planned")


def others_busy(seconds=0.5):
    """Cores that other processes kept busy over ``seconds``, niced ones included.

    Unlike the planner's sample (``skvae._threads.busy_elsewhere``), which leaves out
    niced work when this process is not niced, this counts every other process: it
    records how quiet the machine was, not what the plan saw.
    """
    before, own_before, t0 = _cpu_times(), time.process_time(), time.monotonic()
    time.sleep(seconds)
    after, own_after, t1 = _cpu_times(), time.process_time(), time.monotonic()
    busy = (after[0] - before[0]) + (after[1] - before[1])
    total = max(after[2] - before[2], 1)
    return max(busy / total * after[3] - (own_after - own_before) / (t1 - t0), 0.0)


def setting_threads(setting):
    """The ``n_threads`` of a setting: None (torch's default), an int, or 'auto'."""
    if setting == "default":
        return None
    if setting == "planned":
        return "auto"
    count, word = setting.split(" ", 1)
    if word not in ("thread", "threads") or not count.isdigit():
        raise ValueError(f"unknown setting {setting!r}: default, planned or 'N threads'")
    return int(count)


def _spin(stop, niceness=0):
    """One busy core: a plain Python loop until ``stop`` is set (at ``niceness``)."""
    if niceness:
        os.nice(niceness)
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


class Load:
    """One busy process per core while the block runs (at ``niceness``)."""

    def __init__(self, n, niceness=0):
        self.n = n
        self.niceness = niceness

    def __enter__(self):
        ctx = multiprocessing.get_context("spawn")
        self.stop = ctx.Event()
        self.procs = [ctx.Process(target=_spin, args=(self.stop, self.niceness), daemon=True)
                      for _ in range(self.n)]
        for p in self.procs:
            p.start()
        time.sleep(1.0)  # let them reach full speed
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.terminate()


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def fashion(n_rows, quick):
    """Fashion-MNIST training images in [0, 1] (or random ones of that shape), and a name."""
    if not quick:
        try:
            from skvae.datasets import fetch_fashion_mnist

            bunch = fetch_fashion_mnist(subset="train")
            return (bunch.data[:n_rows] / 255).astype(np.float32), "fashion-mnist"
        except Exception as exc:  # no files here: random images of the same shape
            print(f"Fashion-MNIST not found ({exc}); using random images")
    rng = np.random.default_rng(0)
    return (rng.random((n_rows, 784)) < 0.3).astype(np.float32), "random 28x28"


def workloads(quick):
    """name -> (fit function taking n_threads, data description)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X / 16, y, random_state=0)
    if quick:
        X_train, y_train = X_train[:300], y_train[:300]
    readme_params = dict(max_iter=2, tol=None) if quick else {}

    def readme(n_threads):
        vae = VAETransformer(random_state=0, n_threads=n_threads, **readme_params)
        model = make_pipeline(vae, SVC()).fit(X_train, y_train)
        return model[0].plan_.n_threads

    images, source = fashion(200 if quick else 4000, quick)

    def conv4k(n_threads):
        vae = VAETransformer(architecture="conv", image_shape=(1, 28, 28),
                             max_iter=1 if quick else 10, tol=None, random_state=0,
                             n_threads=n_threads).fit(images)
        return vae.plan_.n_threads

    big, big_source = fashion(2000 if quick else 60000, quick)

    def mlp60k(n_threads):
        vae = VAETransformer(max_iter=1, tol=None, random_state=0,
                             n_threads=n_threads).fit(big)
        return vae.plan_.n_threads

    return {"readme": (readme, "digits"), "conv4k": (conv4k, source),
            "mlp60k": (mlp60k, big_source)}


def run_one(fit, setting, n_cores):
    torch.set_num_threads(n_cores)  # the process as torch starts it: a thread per core
    t0 = time.perf_counter()
    planned = fit(setting_threads(setting))
    seconds = time.perf_counter() - t0
    return seconds, planned if planned is not None else torch.get_num_threads()


def rotated(settings, repeat):
    """The settings in the order of one repeat: repeat r starts with setting r."""
    k = repeat % len(settings)
    return list(settings[k:]) + list(settings[:k])


def _run_key(row):
    return (row.get("date"), row.get("command"), row.get("note"))


def table(rows):
    """One table per run, in the order they ran: rows of different runs (other loads,
    other commits) are not pooled."""
    runs = group(rows, ["date", "command", "note"])
    lines = []
    for (date, command, note), run_rows in runs.items():
        if len(runs) > 1:  # the commands are in the list of runs below the tables
            lines += [f"## {date}: {note}" if note else f"## {date}: `{command}`", ""]
        lines += _run_table(run_rows) + [""]
    return lines[:-1]


def _run_table(rows):
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    measured = any(r.get("others_busy") is not None for r in rows)
    header = ["workload", "data", "load", *[f"{s} (s)" for s in settings],
              "planned threads", "planned / best", "loaded / idle (planned)"]
    if measured:
        header.append("others busy (cores)")
    body = []
    groups = group(rows, ["workload", "load", "cores", "quick"])
    for (workload, load, n_cores, quick), rs in groups.items():
        med = {s: statistics.median([r["seconds"] for r in rs if r["setting"] == s])
               for s in settings if any(r["setting"] == s for r in rs)}
        threads = sorted({r["fit_threads"] for r in rs if r["setting"] == "planned"})
        best = min(med.get("default", float("inf")), med.get("1 thread", float("inf")))
        idle = groups.get((workload, "idle", n_cores, quick))
        ratio = ""
        if load != "idle" and idle and "planned" in med:
            idle_planned = statistics.median([r["seconds"] for r in idle
                                              if r["setting"] == "planned"])
            ratio = fmt(med["planned"] / idle_planned, 2)
        data = f"{rs[0]['data']}{' (quick)' if quick in (True, 'True') else ''}"
        row = [workload, data, f"{load}, {n_cores} cores",
               *[fmt(med.get(s), 2) for s in settings],
               "/".join(str(t) for t in threads),
               fmt(med["planned"] / best, 2) if "planned" in med and best < float("inf")
               else "", ratio]
        if measured:
            busy = [r["others_busy"] for r in rs if r.get("others_busy") is not None]
            row.append(fmt(statistics.median(busy), 2) if busy else "")
        body.append(row)
    return markdown(header, body)


def main():
    parser = make_parser(__doc__, threads=0)
    parser.add_argument("--quick", action="store_true", help="tiny fits (a smoke test)")
    parser.add_argument("--repeats", type=int, default=1, help="fits per cell")
    parser.add_argument("--loads", nargs="+", default=["idle", "busy"],
                        choices=["idle", "busy", "niced"],
                        help="idle, and/or one busy process per core (niced: at nice 10)")
    parser.add_argument("--workloads", nargs="+", default=["readme", "conv4k", "mlp60k"])
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS),
                        help="default, '1 thread', planned, or any 'N threads'")
    parser.add_argument("--interop", type=int, default=0,
                        help="torch.set_num_interop_threads first (0: torch's default)")
    args = parser.parse_args()
    for setting in args.settings:
        setting_threads(setting)  # an unknown one fails before anything runs
    if args.interop:
        torch.set_num_interop_threads(args.interop)
    command = start(args)
    n_cores = cores()
    rows = []
    if not args.report_only:
        todo = workloads(args.quick)
        for load in args.loads:
            guard = (None if load == "idle"
                     else Load(n_cores, niceness=10 if load == "niced" else 0))
            if guard is not None:
                guard.__enter__()
            try:
                for name in args.workloads:
                    fit, data = todo[name]
                    for repeat in range(args.repeats):
                        for setting in rotated(args.settings, repeat):
                            others = others_busy()
                            loadavg = os.getloadavg()[0]
                            seconds, threads = run_one(fit, setting, n_cores)
                            print(f"{name:7s} {load:5s} {setting:9s} {seconds:8.2f} s "
                                  f"({threads} thread(s); others busy {others:.2f} cores, "
                                  f"load {loadavg:.2f})", flush=True)
                            rows.append(dict(workload=name, data=data, load=load,
                                             setting=setting, repeat=repeat,
                                             seconds=round(seconds, 3), fit_threads=threads,
                                             cores=n_cores, quick=args.quick,
                                             others_busy=round(others, 2),
                                             loadavg=round(loadavg, 2),
                                             interop=torch.get_num_interop_threads()))
            finally:
                if guard is not None:
                    guard.__exit__(None, None, None)
    save("threads", rows, args, command, table=table,
         title="Threads: torch's default, one thread and the planned count",
         text=("Seconds per fit (median over the repeats), idle and beside one busy "
               "process per core. 'planned / best': the planned fit against the faster of "
               "torch's default and one thread (target: at most 1.10). 'loaded / idle': the "
               "planned fit beside the load against idle (target: at most 2). 'others "
               "busy': the median of the cores other processes kept busy just before each "
               "fit (the script's own load included; measured from 2026-12-08 on). The "
               "fair-share arithmetic behind these numbers is in docs/benchmarks.md, "
               "'Threads on a busy machine'."))


if __name__ == "__main__":
    main()

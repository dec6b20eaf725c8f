"""Cost of one Adam step when its moment estimates are denormal, with and without
flushing denormals to zero, for the default and the fused Adam (CPU).

The mechanism behind epochs that slow down as training goes on: weights that get no
gradient (e.g. those of always-black border pixels) see their Adam moments decay
geometrically into the denormal range, where x86 arithmetic is slow. skvae flushes
denormals to zero during CPU fits (``skvae._net.flush_denormal``). Usage::

    python benchmarks/bench_adam_denormal.py

Appends to ``benchmarks/results/adam_denormal.csv``; rebuilds ``adam_denormal.md``.
"""

import statistics
import time

import torch
from _common import make_parser, markdown, save, start

from skvae._net import flush_denormal

N_PARAMS = 784 * 512  # the first layer of the MLP in bench_speed.py


def step_ms(fused, ftz, denormal, repeats=30):
    p = torch.nn.Parameter(torch.zeros(N_PARAMS))
    opt = torch.optim.Adam([p], fused=fused)
    p.grad = torch.zeros_like(p)
    opt.step()
    state = opt.state[p]
    if denormal:
        state["exp_avg_sq"].fill_(1e-39)
        p.grad.fill_(1e-40)
    times = []
    with flush_denormal(ftz):
        for _ in range(repeats):
            if denormal:
                state["exp_avg"].fill_(1e-39)  # keep it denormal step after step
            t0 = time.perf_counter()
            opt.step()
            times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def run(args):
    rows = []
    for fused in (False, True):
        for denormal in (False, True):
            rows.append({"n_params": N_PARAMS, "repeats": args.repeats,
                         "optimizer": f"Adam(fused={fused})",
                         "moments": "denormal" if denormal else "normal",
                         "flush_off_ms": step_ms(fused, False, denormal, args.repeats),
                         "flush_on_ms": step_ms(fused, True, denormal, args.repeats)})
            print(rows[-1], flush=True)
    return rows


def table(rows):
    return markdown(["optimizer", "moments", "parameters", "threads", "flush denormals off",
                     "on"],
                    [[r["optimizer"], r["moments"], r["n_params"], r["threads"],
                      f"{r['flush_off_ms']:.2f}", f"{r['flush_on_ms']:.2f}"] for r in rows])


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    command = start(args)
    save("adam_denormal", [] if args.report_only else run(args), args, command, table=table,
         title="Median ms per Adam step, denormal moments, flush to zero off / on (CPU)")


if __name__ == "__main__":
    main()

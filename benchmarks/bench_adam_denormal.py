"""Cost of one Adam step when its moment estimates are denormal, with and without
flushing denormals to zero, for the default and the fused Adam (CPU).

The mechanism behind epochs that slow down as training goes on: weights that get no
gradient (e.g. those of always-black border pixels) see their Adam moments decay
geometrically into the denormal range, where x86 arithmetic is slow. skvae flushes
denormals to zero during CPU fits (``skvae._net.flush_denormal``). Usage::

    python benchmarks/bench_adam_denormal.py

Writes ``benchmarks/results/adam_denormal.md``.
"""

import statistics
import time
from pathlib import Path

import torch

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


def main():
    torch.set_num_threads(1)
    lines = [f"Median ms per Adam step on {N_PARAMS} parameters, 1 thread, torch "
             f"{torch.__version__}.\n",
             "| optimizer | moments | flush denormals off | on |", "|---|---|---|---|"]
    for fused in (False, True):
        for denormal in (False, True):
            off, on = step_ms(fused, False, denormal), step_ms(fused, True, denormal)
            lines.append(f"| Adam(fused={fused}) | {'denormal' if denormal else 'normal'} "
                         f"| {off:.2f} | {on:.2f} |")
    text = "\n".join(lines) + "\n"
    out = Path(__file__).parent / "results" / "adam_denormal.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Seconds per epoch: a plain PyTorch loop vs skvae vs skorch's default data path.

The same VAE module (built by ``VAETransformer``'s own hooks, same seed) is trained
three ways, side by side in one process, one epoch of each in turn so that load
from other processes hits all of them alike:

(a) ``plain``: a hand-written loop over pre-made tensors (a fresh ``randperm``
    every epoch, each batch an index into the tensor, Adam), the loop a PyTorch
    user would write. ``plain_fused`` is the same loop with the optimizer settings
    skvae uses (``Adam(fused=True)`` on CPU), the like-for-like baseline.
(b) ``skvae``: ``VAETransformer``'s skorch net (``net_.partial_fit(X, epochs=1)``).
(c) ``skorch``: ``skorch.NeuralNet`` with its defaults (``Dataset.__getitem__`` one
    row at a time plus collate through a ``DataLoader``), shuffled like the others.

Each reported number is the median over the timed epochs (the first epoch of each
is a warm-up and is dropped). Usage::

    python benchmarks/bench_speed.py --arch mlp conv --n-train 60000 --epochs 6

Writes ``benchmarks/results/speed_<device>.md`` and ``.csv``.
"""

import argparse
import contextlib
import csv
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNet

from skvae import VAETransformer
from skvae.datasets import fetch_fashion_mnist
from skvae.nn import gaussian_kl, reconstruction_nll

RESULTS = Path(__file__).parent / "results"

CONFIGS = {
    # The MLP of the issue: 784-512-256-32.
    "mlp": {"hidden_layer_sizes": (512, 256), "architecture": "mlp"},
    # The conv VAE used in the SVM benchmark.
    "conv": {"hidden_layer_sizes": (256,), "architecture": "conv", "image_shape": (1, 28, 28)},
}


def make_estimator(arch, device, batch_size, seed, **speed):
    vae = VAETransformer(
        n_components=32, batch_size=batch_size, max_iter=1, device=device,
        random_state=seed, **CONFIGS[arch],
    )
    return vae


def make_module(arch, device, seed, n_features):
    torch.manual_seed(seed)
    return make_estimator(arch, device, 128, seed)._build_module(n_features).to(device)


def neg_elbo(module, x, out):
    decoded, mu, logvar = out[:3]
    nll = reconstruction_nll(x, decoded, module.likelihood, module.log_scale)
    return (nll + gaussian_kl(mu, logvar)).mean()


class PlainLoop:
    def __init__(self, module, X, batch_size, fused):
        self.module, self.X, self.bs = module, X, batch_size
        kw = {"fused": True} if fused else {}
        self.opt = torch.optim.Adam(module.parameters(), lr=1e-3, **kw)

    def epoch(self):
        module, X, bs = self.module, self.X, self.bs
        module.train()
        order = torch.randperm(len(X), device=X.device)
        for start in range(0, len(X), bs):
            xb = X[order[start:start + bs]]
            self.opt.zero_grad(set_to_none=True)
            loss = neg_elbo(module, xb, module(xb))
            loss.backward()
            self.opt.step()


class ELBOCriterion(torch.nn.Module):
    """Loss for skorch's default path: y_true is X itself."""

    def __init__(self, module):
        super().__init__()
        self.vae = [module]  # not a submodule: skorch must not move/own it twice

    def forward(self, y_pred, y_true):
        return neg_elbo(self.vae[0], y_true, y_pred)


class SkorchDefault:
    def __init__(self, module, X, batch_size, device):
        self.net = NeuralNet(
            module, criterion=ELBOCriterion, criterion__module=module,
            optimizer=torch.optim.Adam, lr=1e-3, batch_size=batch_size, max_epochs=1,
            train_split=None, iterator_train__shuffle=True, device=device, verbose=0,
        )
        self.net.initialize()
        self.X = X.cpu().numpy()

    def epoch(self):
        self.net.partial_fit(self.X, self.X, epochs=1)


class Skvae:
    def __init__(self, arch, X, batch_size, device, seed):
        self.vae = make_estimator(arch, device, batch_size, seed)
        self.X = X.cpu().numpy()
        self.vae.fit(self.X[:batch_size])  # builds net_; the timed epochs use all rows
        self.vae.net_.initialize()

    def epoch(self):
        # The estimator's fit goes through net_.partial_fit after validating X once.
        self.vae.net_.partial_fit(self.X, None, epochs=1)


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run(arch, n_train, epochs, batch_size, device, seed, only=None):
    X_np, _ = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_np = np.ascontiguousarray(X_np[:n_train], dtype=np.float32)
    X = torch.as_tensor(X_np).to(device)
    runners = {
        "plain": PlainLoop(make_module(arch, device, seed, X.shape[1]), X, batch_size, False),
        "plain_fused": PlainLoop(make_module(arch, device, seed, X.shape[1]), X, batch_size,
                                 device == "cpu"),
        "skvae": Skvae(arch, X, batch_size, device, seed),
        "skorch": SkorchDefault(make_module(arch, device, seed, X.shape[1]), X, batch_size,
                                device),
    }
    if only:
        runners = {k: v for k, v in runners.items() if k in only}
    times = {name: [] for name in runners}
    for epoch in range(epochs + 1):
        for name, runner in runners.items():
            sync(device)
            t0 = time.perf_counter()
            runner.epoch()
            sync(device)
            if epoch:  # epoch 0 is a warm-up
                times[name].append(time.perf_counter() - t0)
        print(f"  {arch} epoch {epoch}: "
              + ", ".join(f"{k}={v[-1]:.2f}s" for k, v in times.items() if v and epoch),
              flush=True)
    return {name: statistics.median(t) for name, t in times.items()}, times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=["mlp", "conv"], choices=list(CONFIGS))
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs (after a warm-up)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tag", default="", help="suffix for the results files")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    if device == "auto":
        device = "cpu"
    rows = []
    for arch in args.arch:
        med, times = run(arch, args.n_train, args.epochs, args.batch_size, device, args.seed,
                         args.only)
        base = "plain_fused" if "plain_fused" in times else "plain"
        for name, sec in med.items():
            # Ratios of epochs run back to back, then the median: robust to load swings.
            paired = statistics.median(
                t / b for t, b in zip(times[name], times[base], strict=True))
            rows.append({"arch": arch, "method": name, "s_per_epoch": round(sec, 3),
                         "ratio_to_plain_same_optimizer": round(sec / med[base], 3),
                         "paired_ratio_same_optimizer": round(paired, 3),
                         "ratio_to_plain_default_adam": round(sec / med.get("plain", sec), 3),
                         "epochs_s": " ".join(f"{t:.2f}" for t in times[name])})
    RESULTS.mkdir(exist_ok=True)
    stem = f"speed_{device.split(':')[0]}{args.tag}"
    with open(RESULTS / f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    header = (f"Seconds per epoch, median of {args.epochs} epochs after a warm-up; "
              f"{args.n_train} Fashion-MNIST rows, batch {args.batch_size}, device {device}, "
              f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs.\n"
              f"Command: python benchmarks/bench_speed.py {' '.join(sys.argv[1:])}\n\n")
    lines = ["| arch | method | s/epoch (median) | / plain, same optimizer "
             "| median of per-epoch ratios | / plain, default Adam | epochs (s) |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['arch']} | {r['method']} | {r['s_per_epoch']:.2f} | "
              f"{r['ratio_to_plain_same_optimizer']:.2f} | "
              f"{r['paired_ratio_same_optimizer']:.2f} | "
              f"{r['ratio_to_plain_default_adam']:.2f} | {r['epochs_s']} |" for r in rows]
    text = header + "\n".join(lines) + "\n"
    (RESULTS / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

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

Appends to ``benchmarks/results/speed.csv`` (one row per device, architecture and
method, the timed epochs in ``epochs_s``); rebuilds ``speed.md``.
"""

import contextlib
import statistics
import time

import numpy as np
import torch
from _common import fmt, make_parser, markdown, save, start
from skorch import NeuralNet

from skvae import VAETransformer
from skvae._experiment import load_fashion_mnist_split
from skvae.nn import VAE, make_architecture, make_likelihood

CONFIGS = {
    # The MLP of the issue: 784-512-256-32.
    "mlp": {"hidden_layer_sizes": (512, 256), "architecture": "mlp"},
    # The conv VAE used in the SVM benchmark.
    "conv": {"hidden_layer_sizes": (256,), "architecture": "conv", "image_shape": (1, 28, 28)},
}


def make_estimator(arch, device, batch_size, seed):
    # beta=1: the plain loop's loss is reconstruction + KL.
    return VAETransformer(n_components=32, beta=1.0, batch_size=batch_size, max_iter=1,
                          device=device, random_state=seed, **CONFIGS[arch])


def build_module(estimator, n_features):
    """The estimator's torch module, untrained, as its own fit builds it (public nn API)."""
    arch = make_architecture(estimator.architecture, estimator.hidden_layer_sizes,
                             estimator.image_shape)
    k = estimator.n_components
    return VAE(arch.encoder(n_features, k), arch.decoder(k, n_features),
               make_likelihood(estimator.likelihood, n_features))


def make_module(arch, device, seed, n_features):
    torch.manual_seed(seed)
    return build_module(make_estimator(arch, device, 128, seed), n_features).to(device)


def neg_elbo(module, x, out):
    """The batch mean of the module's loss terms (its forward returns them per row)."""
    return (out["reconstruction"] + out["kl"]).mean()


class PlainLoop:
    def __init__(self, module, X, batch_size, fused):
        self.module, self.X, self.bs = module, X, batch_size
        kw = {"fused": True} if fused else {}
        self.opt = torch.optim.AdamW(module.parameters(), lr=1e-3, **kw)

    def epoch(self):
        module, X, bs = self.module, self.X, self.bs
        module.train()
        order = torch.randperm(len(X), device=X.device)
        for i in range(0, len(X), bs):
            xb = X[order[i:i + bs]]
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
            optimizer=torch.optim.AdamW, lr=1e-3, batch_size=batch_size, max_epochs=1,
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
    X_np = np.ascontiguousarray(load_fashion_mnist_split()[0][:n_train], dtype=np.float32)
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


def measure(args):
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
            rows.append({"device": device, "arch": arch, "n_train": args.n_train,
                         "batch_size": args.batch_size, "timed_epochs": args.epochs,
                         "seed": args.seed, "method": name, "s_per_epoch": round(sec, 3),
                         "ratio_to_plain_same_optimizer": round(sec / med[base], 3),
                         "paired_ratio_same_optimizer": round(paired, 3),
                         "ratio_to_plain_default_adam": round(sec / med.get("plain", sec), 3),
                         "epochs_s": " ".join(f"{t:.2f}" for t in times[name])})
    return rows


def table(rows):
    columns = ["device", "arch", "n_train", "batch_size", "threads", "method", "s_per_epoch",
               "ratio_to_plain_same_optimizer", "paired_ratio_same_optimizer",
               "ratio_to_plain_default_adam", "epochs_s"]
    return markdown(columns, [[fmt(r.get(c), 2) for c in columns] for r in rows])


def main(argv=None):
    parser = make_parser(__doc__, threads=0)
    parser.add_argument("--arch", nargs="+", default=["mlp", "conv"], choices=list(CONFIGS))
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs (after a warm-up)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="+", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    command = start(args)
    save("speed", [] if args.report_only else measure(args), args, command, table=table,
         title="Seconds per epoch: plain PyTorch loop vs skvae vs skorch's default path",
         text="Medians of the timed epochs (after a warm-up), Fashion-MNIST rows, VAE with a "
              "32-d latent; `plain_fused` is the plain loop with skvae's optimizer "
              "(`Adam(fused=True)` on CPU), the like-for-like baseline; `plain` uses the "
              "default Adam. Paired ratio: median of the per-epoch ratios to that baseline.")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

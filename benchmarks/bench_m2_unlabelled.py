"""Cost of an unlabelled row in M2: encoder hidden layers once per row vs once per class.

For an unlabelled row, M2 evaluates ``q(z | x, y)`` and ``p(x | z, y)`` under each of
the ``K`` classes. The encoders of :mod:`skvae.nn` join the class after their hidden
layers, so ``skvae.nn.M2`` runs those layers once per row and only the head and the
decoder ``K`` times. This script times one training step (forward and backward of
the loss) on a batch of unlabelled Fashion-MNIST-sized rows both ways: ``shared`` is
what skvae does, ``per class`` hides ``features`` from M2 so that it runs the whole
encoder on every (row, class) pair, as before. Both are timed side by side in one
process, alternating, and the table reports medians and the median of paired ratios.

    python benchmarks/bench_m2_unlabelled.py --repeats 20 --threads 1

Appends to ``benchmarks/results/m2_unlabelled.csv``; rebuilds ``m2_unlabelled.md``.
"""

import numpy as np
import torch
from _common import fmt, make_parser, markdown, save, start
from torch import nn

from skvae._experiment import timed
from skvae.nn import M2, make_architecture, make_likelihood


class PerClassEncoder(nn.Module):
    """The same encoder without ``features``: M2 then runs it on every (row, class)."""

    def __init__(self, encoder):
        super().__init__()
        self.inner = encoder

    def forward(self, x, c=None):
        return self.inner(x, c)


def build(arch, k=10, n_latent=8):
    d = 784
    hidden = (256,) if arch == "conv" else (256, 128)
    networks = make_architecture(arch, hidden, (1, 28, 28))
    classifier = networks.classifier(d, k)
    encoder = networks.encoder(d, n_latent, k)
    decoder = networks.decoder(n_latent + k, d)
    likelihood = make_likelihood("bernoulli", d)
    shared = M2(classifier, encoder, decoder, likelihood, k)
    per_class = M2(classifier, PerClassEncoder(encoder), decoder, likelihood, k)
    return shared, per_class


def step(model, x, y):
    model.zero_grad()
    terms = model(x, y)
    sum(t.mean() for t in terms.values()).backward()


def run(args):
    torch.manual_seed(0)
    x = torch.rand(args.batch_size, 784)
    y = torch.full((args.batch_size,), -1)
    rows = []
    for arch in ("mlp", "conv"):
        shared, per_class = build(arch)
        step(shared, x, y)
        step(per_class, x, y)
        times = {"shared": [], "per_class": []}
        for _ in range(args.repeats):
            for name, model in (("shared", shared), ("per_class", per_class)):
                times[name].append(timed(step, model, x, y)[1])
        ratio = np.median(np.array(times["per_class"]) / np.array(times["shared"]))
        rows.append({"arch": arch, "batch_size": args.batch_size, "repeats": args.repeats,
                     "shared_s": float(np.median(times["shared"])),
                     "per_class_s": float(np.median(times["per_class"])),
                     "paired_speedup": float(ratio)})
        print(rows[-1], flush=True)
    return rows


def table(rows):
    return markdown(
        ["architecture", "batch", "repeats", "threads", "encoder hidden layers once per row "
         "(skvae), s", "once per row and class, s", "speed-up (median of paired ratios)"],
        [[r["arch"], r["batch_size"], r["repeats"], r["threads"], fmt(r["shared_s"], 3),
          fmt(r["per_class_s"], 3), f"{r['paired_speedup']:.2f}x"] for r in rows])


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    command = start(args)
    save("m2_unlabelled", [] if args.report_only else run(args), args, command, table=table,
         title="M2 training step on a batch of unlabelled rows (K = 10 classes)",
         text="784 features, CPU. Seconds per step, medians of the alternating repeats "
              "after one warm-up each.")


if __name__ == "__main__":
    main()

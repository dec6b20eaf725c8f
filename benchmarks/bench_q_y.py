"""The classifier of a fully labelled VAEClassifier(architecture="conv"), trained alone.

With every row labelled, ``VAEClassifier`` fits M2 on the pixels (``model='m2'``)
and its loss is ``-ELBO(x, y) + alpha * cross-entropy``: the ELBO of a labelled
row uses the true class, so no gradient of it reaches the classifier ``q(y | x)``, whose
weights are trained by the cross-entropy alone (Adam's steps do not depend on the scale
``alpha``). This script trains that same network, ``ConvArchitecture(hidden_layer_sizes).
classifier(784, 10)`` (the default ``hidden_layer_sizes=(256, 128)``), with the
estimator's optimiser (AdamW, ``learning_rate_init=1e-3``, ``weight_decay=0``) and batch
size (256 rows from 2,000 rows on) on the 60,000 Fashion-MNIST training images, and
scores it on the 10,000 test images after every epoch: the accuracy the 100-epoch default
fit can reach, at a fraction of its cost (no encoder or decoder passes).
``--dropout p`` sets the dropout before the class head, ``--feature-dropout p`` the one
on the convolutions' flattened features (before the fully connected layers); both default
to the estimator's ``ConvArchitecture.classifier_dropout`` (0.5; it had none before
commit 457506b: rows with 0 and 0 are that network).

    python benchmarks/bench_q_y.py                 # 100 epochs, as the default fit
    python benchmarks/bench_q_y.py --epochs 40 --dropout 0.5 --feature-dropout 0
    python benchmarks/bench_q_y.py --dropout 0 --feature-dropout 0   # no dropout
    python benchmarks/bench_q_y.py --schedule cosine   # step size to 0, as learning_rate='cosine'

Appends one row per epoch to ``benchmarks/results/q_y.csv``; rebuilds ``q_y.md``.
"""

import time

import numpy as np
import torch
from _common import fmt, group, make_parser, markdown, save, start
from torch import nn

from skvae._experiment import load_fashion_mnist_split
from skvae.nn import ConvArchitecture

SETTINGS = ("hidden_layer_sizes", "dropout", "feature_dropout", "schedule", "batch_size",
            "seed")
CHECKPOINTS = (5, 10, 15, 20, 30, 40, 60, 80, 100)


def run(args):
    X_tr, X_te, y_tr, y_te = load_fashion_mnist_split(None, None, random_state=0)
    torch.manual_seed(args.seed)
    hidden = tuple(args.hidden)
    net = ConvArchitecture(hidden, image_shape=(1, 28, 28)).classifier(784, 10)
    net.dropout = nn.Dropout(args.dropout) if args.dropout else nn.Identity()
    net.body.dropout = (nn.Dropout(args.feature_dropout) if args.feature_dropout
                        else nn.Identity())
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
    # --schedule cosine: the step size decays to 0 over the run (per epoch), as the
    # estimator's learning_rate='cosine' (the default of a fully labelled conv fit).
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
             if args.schedule == "cosine" else None)
    X, y = torch.from_numpy(X_tr), torch.from_numpy(y_tr.astype(np.int64))
    X_test = torch.from_numpy(X_te)
    order = torch.Generator().manual_seed(args.seed)
    settings = {"hidden_layer_sizes": str(hidden), "dropout": args.dropout,
                "feature_dropout": args.feature_dropout, "schedule": args.schedule,
                "batch_size": args.batch_size, "seed": args.seed}
    rows, t0 = [], time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        net.train()
        for idx in torch.randperm(len(X), generator=order).split(args.batch_size):
            loss = nn.functional.cross_entropy(net(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if sched is not None:
            sched.step()
        net.eval()
        with torch.no_grad():
            acc = float((net(X_test).argmax(1).numpy() == y_te).mean())
        rows.append({**settings, "epoch": epoch, "accuracy": acc,
                     "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    return rows


def table(rows):
    body = []
    rows = [{**r, "schedule": r.get("schedule") or "constant"} for r in rows]  # older rows
    epochs = sorted({r["epoch"] for r in rows})
    marks = [e for e in CHECKPOINTS if e in epochs]
    for settings, sub in group(rows, SETTINGS).items():
        by_epoch = {r["epoch"]: r for r in sub}
        best = max(sub, key=lambda r: r["accuracy"])
        body.append([*settings, max(by_epoch)]
                    + [fmt(by_epoch[e]["accuracy"], 4) if e in by_epoch else "" for e in marks]
                    + [f"{best['accuracy']:.4f} (epoch {best['epoch']})",
                       fmt(by_epoch[max(by_epoch)]["seconds"] / max(by_epoch), 1)])
    return ["Test accuracy after N epochs; the default fully labelled fit runs 100.", ""] \
        + markdown([*SETTINGS, "epochs run"] + [f"epoch {e}" for e in marks]
                   + ["best", "s per epoch"], body)


def main(argv=None):
    parser = make_parser(__doc__)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--dropout", type=float, default=ConvArchitecture.classifier_dropout)
    parser.add_argument("--feature-dropout", type=float,
                        default=ConvArchitecture.classifier_dropout)
    parser.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                        help="learning rate: constant 1e-3 (the estimator's) or cosine decay")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    command = start(args)
    save("q_y", [] if args.report_only else run(args), args, command, table=table,
         title="Fashion-MNIST, every label: the conv classifier q(y|x) of VAEClassifier, "
               "trained alone")


if __name__ == "__main__":
    main()

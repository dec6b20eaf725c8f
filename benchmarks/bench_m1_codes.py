"""How good is an unsupervised VAE's code for few-label classification? (Fashion-MNIST)

Fits one ``VAETransformer`` (M1) on the 60,000 training images without labels, then an
SVC(rbf, C=10) on the codes of 100, 1,000 and 10,000 labelled images (stratified draw,
seed 0), scored on the 10,000 test images. Also counts the code's active dimensions
(posterior-mean variance over the training set above 0.02): with ``beta=1`` a VAE on
Fashion-MNIST leaves most of them unused. This is the probe that chose the M1 of
``bench_semisupervised.py``.

    python benchmarks/bench_m1_codes.py --arch mlp --beta 1.0
    python benchmarks/bench_m1_codes.py --arch mlp --beta 0.1
    python benchmarks/bench_m1_codes.py --arch conv --beta 0.1 --epochs 20

Appends a row to ``benchmarks/results/m1_codes.md``.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.svm import SVC

from skvae import VAETransformer
from skvae.datasets import fetch_fashion_mnist

RESULTS = Path(__file__).resolve().parent / "results"
LABELS = (100, 1000, 10000)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["mlp", "conv"], default="mlp")
    parser.add_argument("--n-components", type=int, default=50)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    X_train, y_train = fetch_fashion_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_fashion_mnist(subset="test", return_X_y=True)
    arch = ({"hidden_layer_sizes": (512, 256)} if args.arch == "mlp"
            else {"architecture": "conv", "hidden_layer_sizes": (256,)})
    m1 = VAETransformer(n_components=args.n_components, beta=args.beta, max_iter=args.epochs,
                        batch_size=256, device="cpu", random_state=0, **arch)
    t0 = time.perf_counter()
    m1.fit(X_train)
    fit_s = time.perf_counter() - t0
    Z_train, Z_test = m1.transform(X_train), m1.transform(X_test)
    active = int((Z_train.var(axis=0) > 0.02).sum())
    accs = []
    for n in LABELS:
        split = StratifiedShuffleSplit(1, train_size=n, random_state=0)
        lab = next(split.split(X_train, y_train))[0]
        accs.append(SVC(C=10).fit(Z_train[lab], y_train[lab]).score(Z_test, y_test))
        print(f"{n} labels: code SVC accuracy {accs[-1]:.4f}", flush=True)

    path = RESULTS / "m1_codes.md"
    RESULTS.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text(
            "# SVC(rbf, C=10) on an unsupervised VAE's code, Fashion-MNIST 60k/10k, "
            "labels drawn with seed 0\n\n"
            "| command | active dims | M1 fit (s) | "
            + " | ".join(f"{n} labels" for n in LABELS) + " |\n"
            "|---|---|---|" + "---|" * len(LABELS) + "\n"
        )
    row = (f"| `python benchmarks/bench_m1_codes.py {' '.join(sys.argv[1:])}` "
           f"(torch {torch.__version__}) | {active} of {args.n_components} | {fit_s:.0f} | "
           + " | ".join(f"{a:.3f}" for a in accs) + " |\n")
    with open(path, "a") as f:
        f.write(row)
    print(row)
    return np.array(accs)


if __name__ == "__main__":
    main()

"""Wall seconds of single default VAEClassifier fits (issue 28's time targets).

Not a table benchmark: it prints one line per fit, to be run on an idle machine::

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/time_defaults.py digits 1
    OMP_NUM_THREADS=2 PYTHONPATH=$PWD python benchmarks/time_defaults.py fashion 2

``digits``: ``VAEClassifier(device='cpu', random_state=0)`` at 50, 100 and 250 labels
(draw 0); ``fashion``: 4,000 Fashion-MNIST images, 100 labels, with
``image_shape=(1, 28, 28)`` and ``architecture`` 'auto' (conv) and 'mlp'. The second
argument is torch's thread count. The times quoted in docs/classifier.md (2026-12-07)
came from these two commands.
"""

import sys
import time

import numpy as np
import torch

from skvae import VAEClassifier
from skvae._experiment import draw_labelled, load_digits_split, load_fashion_mnist_split


def semi(y, n):
    """y with all but a stratified draw (draw 0) of n labels set to -1."""
    ys = np.full(len(y), -1)
    lab = draw_labelled(y, n, 0)
    ys[lab] = y[lab]
    return ys


def main(what, threads):
    torch.set_num_threads(threads)
    if what == "digits":
        X, Xt, y, yt = load_digits_split(0)
        for n in (50, 100, 250):
            t, c = time.perf_counter(), time.process_time()
            clf = VAEClassifier(device="cpu", random_state=0).fit(X, semi(y, n))
            print(f"digits {n} labels: {time.perf_counter() - t:.1f} s wall, "
                  f"{time.process_time() - c:.1f} s CPU, {threads} thread(s), "
                  f"acc {clf.score(Xt, yt):.3f}", flush=True)
        return
    X, Xt, y, yt = load_fashion_mnist_split(4000, None, 0)
    ys = semi(y, 100)
    for arch in ("auto", "mlp"):
        t = time.perf_counter()
        clf = VAEClassifier(image_shape=(1, 28, 28), architecture=arch, device="cpu",
                            random_state=0).fit(X, ys)
        print(f"fashion 4000 rows, 100 labels, architecture={arch}: "
              f"{time.perf_counter() - t:.1f} s wall, {threads} thread(s), "
              f"acc {clf.score(Xt, yt):.4f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

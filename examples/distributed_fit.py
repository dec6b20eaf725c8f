"""
Training one model on several processes (torchrun)
===================================================

Launched by ``torchrun``, a skvae ``fit`` trains one model across the processes it
starts: each process takes its share of every batch, ``DistributedDataParallel``
averages the gradients, and every process ends with the same weights and a normal
fitted estimator. Nothing in the script changes; the launch does::

    torchrun --standalone --nproc_per_node 2 examples/distributed_fit.py
    torchrun --standalone --nproc_per_node 2 examples/distributed_fit.py --classifier
    torchrun --standalone --nproc_per_node 4 examples/distributed_fit.py --fashion

(``python examples/distributed_fit.py`` runs the same fit in one process.) On a machine
with GPUs each process trains on its own GPU (``cuda:LOCAL_RANK``); on CPUs the
processes share the cores, so give each a fair part (``OMP_NUM_THREADS``).

By default a :class:`~skvae.VAETransformer` learns a code of the 8 x 8 digits and a
logistic regression is fitted on it; ``--classifier`` fits a
:class:`~skvae.VAEClassifier` with 100 labels (its semi-supervised default, the
shared-body M2, on all processes). ``--fashion`` uses Fashion-MNIST (when installed, see
:func:`skvae.datasets.fetch_fashion_mnist`) instead of the digits. Rank 0 prints the
test accuracy; see docs/scaling.md.
"""

# %%
import argparse
import os
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from skvae import VAEClassifier, VAETransformer


def load(fashion):
    """Training and test rows in [0, 1], and their labels."""
    if fashion:
        from skvae.datasets import fetch_fashion_mnist

        X_train, y_train = fetch_fashion_mnist("train", return_X_y=True)
        X_test, y_test = fetch_fashion_mnist("test", return_X_y=True)
        return X_train, X_test, y_train, y_test
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.3, random_state=0, stratify=y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].strip())
    parser.add_argument("--classifier", action="store_true",
                        help="VAEClassifier with 100 labels instead of "
                             "VAETransformer + logistic regression")
    parser.add_argument("--fashion", action="store_true",
                        help="Fashion-MNIST instead of the digits (must be installed)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-iter", default="auto",
                        help="epochs ('auto': the estimator's default)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    max_iter = args.max_iter if args.max_iter == "auto" else int(args.max_iter)
    rank = int(os.environ.get("RANK", 0))  # torchrun sets it; 0 in a plain run

    X_train, X_test, y_train, y_test = load(args.fashion)
    common = dict(max_iter=max_iter, device=args.device, random_state=args.seed)
    start = time.perf_counter()
    if args.classifier:
        # 100 labels, spread over the classes; -1 marks the unlabelled rows.
        rng = np.random.RandomState(args.seed)
        labelled = rng.choice(len(y_train), 100, replace=False)
        y_partial = np.full_like(y_train, -1)
        y_partial[labelled] = y_train[labelled]
        model = VAEClassifier(**common).fit(X_train, y_partial)
        vae = model
    else:
        model = make_pipeline(VAETransformer(**common),
                              LogisticRegression(max_iter=1000))
        model.fit(X_train, y_train)
        vae = model[0]
    seconds = time.perf_counter() - start
    accuracy = model.score(X_test, y_test)
    if rank == 0:
        plan = vae.plan_
        print(f"{type(vae).__name__} ({plan.model}) on {plan.world_size} process(es), "
              f"device {plan.device}: {vae.n_iter_} epochs in {seconds:.1f} s, "
              f"test accuracy {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()

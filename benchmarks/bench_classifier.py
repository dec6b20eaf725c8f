"""Fully labelled Fashion-MNIST: VAEClassifier against SVC(rbf, C=10) on the same split.

Usage::

    PYTHONPATH=. python benchmarks/bench_classifier.py            # 60k / 10k, both models
    PYTHONPATH=. python benchmarks/bench_classifier.py --skip-svc --n-train 20000

Appends to ``benchmarks/results/classifier.csv``; rebuilds ``classifier.md``.
"""

from _common import fmt, make_parser, markdown, save, start
from sklearn.svm import SVC

from skvae import VAEClassifier
from skvae._experiment import load_fashion_mnist_split, timed


def run(args):
    X_tr, X_te, y_tr, y_te = load_fashion_mnist_split(args.n_train, args.n_test,
                                                        random_state=args.seed)
    settings = {"n_train": len(X_tr), "n_test": len(X_te), "seed": args.seed}
    clf = VAEClassifier(
        n_components=32, hidden_layer_sizes=(512, 256), alpha=args.alpha,
        max_iter=args.epochs, batch_size=256, device=args.device, random_state=args.seed,
    )
    clf, fit_s = timed(clf.fit, X_tr, y_tr)
    rows = [{**settings, "model": "VAEClassifier (M2)", "epochs": args.epochs,
             "alpha": args.alpha, "device": str(clf.net_.device),
             "accuracy": clf.score(X_te, y_te), "fit_s": fit_s}]
    print(rows[-1], flush=True)
    if not args.skip_svc:
        svc, fit_s = timed(SVC(kernel="rbf", C=10).fit, X_tr, y_tr)
        rows.append({**settings, "model": "SVC(rbf, C=10)", "device": "cpu",
                     "accuracy": svc.score(X_te, y_te), "fit_s": fit_s})
        print(rows[-1], flush=True)
    return rows


def table(rows):
    columns = ["model", "n_train", "n_test", "epochs", "alpha", "seed", "device", "accuracy",
               "fit_s", "note"]
    digits = {"accuracy": 3, "fit_s": 0}
    return markdown(columns, [[fmt(r.get(c), digits.get(c)) for c in columns] for r in rows])


def main(argv=None):
    parser = make_parser(__doc__, threads=0)
    parser.add_argument("--n-train", type=int, default=60000)
    parser.add_argument("--n-test", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=10.0)
    parser.add_argument("--skip-svc", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    command = start(args)
    save("classifier", [] if args.report_only else run(args), args, command, table=table,
         title="Fashion-MNIST, fully labelled: VAEClassifier against SVC (test accuracy, "
               "fit seconds)")


if __name__ == "__main__":
    main()

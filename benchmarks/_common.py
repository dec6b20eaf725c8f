"""Shared plumbing of the benchmark scripts: data, label draws, timing and results files.

Every benchmark keeps ONE tidy CSV under ``benchmarks/results/`` (``<name>.csv``): one row
per measurement, the run settings as columns, seeds as rows. A new run appends its rows
(with the date, the command, the torch version and the thread count) instead of writing
new files; the optional plot (``<name>.png``, next to the CSV) and the Markdown table are
then rebuilt from all the rows. The table is printed and written to
``docs/results/<name>.md``, a page of the docs, so ``benchmarks/results/`` holds one CSV
and at most one plot per benchmark. ``--out DIR`` writes all three into DIR instead (smoke
runs, experiments). Data loading, label draws and timing come from ``skvae._experiment``.
"""

import argparse
import csv
import datetime
import io
import shlex
import statistics
import sys
from pathlib import Path

import torch

try:
    import fcntl
except ImportError:  # Windows: appends are not locked
    fcntl = None

RESULTS = Path(__file__).resolve().parent / "results"
# The Markdown tables built from the CSVs are documentation pages (listed in
# docs/benchmarks.md), so that benchmarks/results/ keeps one CSV and at most one plot each.
DOCS_RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
RUN_COLUMNS = ("date", "command", "torch", "threads", "note")


# -- command line ---------------------------------------------------------------------------

def make_parser(doc, threads=1):
    """An ArgumentParser with the options every benchmark shares (--out, --threads)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="folder of the results files (default: benchmarks/results)")
    parser.add_argument("--threads", type=int, default=threads,
                        help="torch threads (0: leave torch's default)")
    parser.add_argument("--note", default="", help="free text stored with this run's rows")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: rebuild the .md table (and plot) from the CSV")
    return parser


def start(args):
    """Apply the shared options; return the command line that is stored with the rows."""
    if args.threads:
        torch.set_num_threads(args.threads)
    return "python benchmarks/" + " ".join(
        [Path(sys.argv[0]).name] + [shlex.quote(a) for a in sys.argv[1:]])


# -- data ------------------------------------------------------------------------------------
# Loading, label draws and timing come from the package (skvae._experiment), which the
# `skvae compare` command uses too; its draws are the ones this file made before.

# -- results ---------------------------------------------------------------------------------

def _parse(value):
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _rows(text):
    return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def read_rows(path):
    """The rows of a results CSV, numbers parsed, empty cells as None."""
    return _rows(Path(path).read_text())


def append_rows(path, rows):
    """Append rows to a CSV, widening its header if the rows bring new columns.

    The file is locked while it is rewritten, so runs side by side (one per seed, say)
    can append to the same CSV. Returns all its rows.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", newline="") as f:
        if fcntl is not None:
            fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        old = _rows(f.read())
        columns = list(dict.fromkeys([c for r in old + list(rows) for c in r]))
        f.seek(0)
        f.truncate()
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        for row in old + list(rows):
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return read_rows(path)


def save(name, rows, args, command, *, table, title, text="", plot=None):
    """Append this run's rows to ``<out>/<name>.csv``; rebuild and print the table (and plot).

    ``table(all_rows)`` returns the Markdown lines of the table; ``plot(all_rows, ax_path)``
    draws the one figure of the benchmark (``<out>/<name>.png``). The table goes to
    ``docs/results/<name>.md`` when ``out`` is ``benchmarks/results`` (the default), else to
    ``<out>/<name>.md``. Returns all rows of the CSV.
    """
    stamp = {"date": datetime.date.today().isoformat(), "command": command,
             "torch": torch.__version__, "threads": torch.get_num_threads(),
             "note": args.note}
    out = Path(args.out)
    if args.report_only:
        all_rows = read_rows(out / f"{name}.csv")
    else:
        all_rows = append_rows(out / f"{name}.csv", [{**r, **stamp} for r in rows])
    md = [f"# {title}", ""]
    if text:
        md += [text, ""]
    csv_path = f"benchmarks/results/{name}.csv" if out.resolve() == RESULTS else f"{name}.csv"
    md += table(all_rows) + ["", f"Rows: `{csv_path}`. Runs:", ""] + runs(all_rows)
    md_dir = DOCS_RESULTS if out.resolve() == RESULTS else out
    md_dir.mkdir(parents=True, exist_ok=True)
    (md_dir / f"{name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    if plot is not None:
        try:
            import matplotlib

            matplotlib.use("Agg")
        except ImportError:
            print("matplotlib not installed: no plot")
            return all_rows
        if plot(all_rows, out / f"{name}.png") is not False:  # False: nothing to draw
            print(f"wrote {out / name}.png")
    return all_rows


def runs(rows):
    """One Markdown list item per distinct run (date, command, torch, threads, note)."""
    seen = dict.fromkeys(tuple(r.get(c) for c in RUN_COLUMNS) for r in rows)
    lines = []
    for date, command, version, threads, note in seen:
        item = f"- {date or 'undated'}: `{command}`" if command else f"- {date or 'undated'}"
        details = [f"torch {version}" if version else "", f"{threads} thread(s)" if threads
                   else "", note or ""]
        lines.append(item + "".join(f"; {d}" for d in details if d))
    return lines


def median(rows, column):
    values = [r[column] for r in rows if r.get(column) is not None]
    return statistics.median(values) if values else None


def group(rows, keys):
    """{tuple of the keys' values: rows}, in first-seen order."""
    groups = {}
    for r in rows:
        groups.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return groups


def markdown(header, body):
    """Lines of a Markdown table."""
    cell = lambda v: "" if v is None else str(v)  # noqa: E731
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(cell(v) for v in row) + " |" for row in body])


def fmt(value, digits=None):
    """A table cell: floats with ``digits`` decimals (shortest form when None)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if digits is None else f"{value:.{digits}f}"
    return str(value)

"""The ``skvae`` command's entry point: Ctrl-C handling first, then the command.

The console script and ``python -m skvae`` start here, so that the Ctrl-C contract
(:mod:`skvae._interrupt`) holds from the first instructions of skvae's own code, before
:mod:`skvae.cli` and its imports load; what runs before (the interpreter's start-up) is
Python's.
"""

import sys
import threading

from . import _interrupt


def main():
    """Run the ``skvae`` command on ``sys.argv``; returns its exit status."""
    if threading.current_thread() is threading.main_thread():
        _interrupt.exit_at_once_on_interrupt()
    from .cli import main as command

    return command()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

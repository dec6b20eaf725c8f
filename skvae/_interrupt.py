"""Ctrl-C in the ``skvae`` command: one line on stderr and exit status 130, at once.

Only the standard library, so that the command's entry point (:mod:`skvae._command`)
can install it before importing anything else: a SIGINT that comes while the command
is still importing then ends it the same way as one that comes during training.
"""

import os
import signal
import threading

__all__ = ["INTERRUPTED", "exit_at_once_on_interrupt"]

INTERRUPTED = "skvae: interrupted"
_installed = []


def exit_at_once_on_interrupt():
    """Make Ctrl-C (SIGINT) end this process at once: one line on stderr, status 130.

    A ``KeyboardInterrupt`` cannot do it: skorch ends its training loop on one and the
    estimators then return the model trained so far (the command would go on to the next
    fit), and while the main thread runs C code (libsvm, torch kernels, a large import)
    Python does not run its handler at all. So SIGINT is blocked in the calling (main)
    thread and in every thread started after it (they inherit the mask: torch's and
    OpenMP's workers), and one watcher thread waits for it with :func:`signal.sigwait`:
    it wakes as soon as the signal comes, writes the line and ends the process with
    :func:`os._exit`. Only where ``sigwait`` is missing (Windows) does a plain handler do
    the same from the main thread, between two Python instructions. A second call does
    nothing.
    """
    if _installed:
        return
    _installed.append(True)

    def stop(*_):
        os.write(2, f"{INTERRUPTED}\n".encode())
        os._exit(130)

    if not (hasattr(signal, "pthread_sigmask") and hasattr(signal, "sigwait")):
        signal.signal(signal.SIGINT, stop)
        return

    def watch():
        signal.sigwait({signal.SIGINT})
        stop()

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    threading.Thread(target=watch, name="skvae-interrupt", daemon=True).start()

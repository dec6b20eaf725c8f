"""Training progress: one named stage at a time, on the console and the ``skvae`` logger.

Replaces skorch's ``ProgressBar`` and ``PrintLog`` in skvae's nets. What is drawn depends
on where standard output goes:

- a terminal: one tqdm bar per stage, ``'M1: epoch 12 of 400 |####| 0:03 elapsed, 1:40
  left, loss=...'``;
- a Jupyter notebook that can draw widgets (``ipywidgets`` installed): one notebook bar
  per stage;
- anything else (a file, a pipe, CI, a notebook without ``ipywidgets``): plain lines, no
  carriage returns and no ANSI colour codes.

Every message also goes to ``logging.getLogger("skvae")`` as an INFO record, whatever
``verbose`` is, so a program can route it (to a file, to a CI log) or silence it with the
usual ``logging`` configuration. ``verbose`` steers the console only.
"""

import logging
import math
import os
import shutil
import sys
import time

from skorch.callbacks import Callback

from .nn.likelihoods import GaussianLikelihood

__all__ = ["Progress", "logger"]

#: The logger every skvae message goes to (INFO: progress; the level of each record is
#: the only thing a handler needs to filter on).
logger = logging.getLogger("skvae")

# How each weighted loss term is named in the explanation line: the hyperparameter that
# weighs it (see the estimators' ``beta`` and ``alpha``).
_WEIGHT_NAMES = {"kl": "beta", "classification": "alpha"}
# Order of the loss parts in a line; parts not listed follow, sorted.
_PART_ORDER = ("reconstruction", "kl", "classification")
# Seconds between two plain lines at verbose=1 (the first and last epoch always show).
_LINE_INTERVAL = 10.0


def _clock(seconds):
    """``'m:ss'`` or ``'h:mm:ss'``."""
    seconds = int(round(max(seconds, 0.0)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _number(value):
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:#.4g}"  # four significant digits, trailing zeros kept
    return str(value)


def in_notebook():
    """Whether this process is a Jupyter kernel (where ``sys.stdout`` is the cell output).

    Examples
    --------
    >>> in_notebook()
    False
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return type(shell).__name__ == "ZMQInteractiveShell"


def is_terminal(stream):
    """Whether ``stream`` is an interactive terminal that can redraw a line.

    Examples
    --------
    >>> import io
    >>> is_terminal(io.StringIO())
    False
    """
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def _notebook_bar(**kwargs):
    """A tqdm notebook widget, or None when the notebook cannot draw one.

    tqdm's notebook bar raises ``ImportError: IProgress not found`` without
    ``ipywidgets``; any failure here means plain lines instead.
    """
    try:
        import ipywidgets  # noqa: F401
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(**kwargs)
    except Exception:
        return None


class Progress(Callback):
    """Report one training stage: its name, epoch k of N, the loss parts and time left.

    A skorch callback that replaces skorch's ``ProgressBar`` and ``PrintLog`` (the net
    is built with ``callbacks__print_log=None``). At the start of the stage it says what
    the stage is and what the loss columns mean; after each epoch it reports the
    epoch, the training loss and its parts (and the validation loss when there is
    one), the time spent and the time left; at the end, how many epochs ran and for how
    long.

    On a terminal it draws one tqdm bar per stage; in a notebook, a widget when
    ``ipywidgets`` is installed; elsewhere (a file, a pipe, CI, a notebook without
    widgets) plain lines without ``'\\r'`` or ANSI codes: at ``verbose=1`` the first and
    last epoch and at most one line every 10 seconds in between, at ``verbose>=2``
    every epoch. Whatever ``verbose`` is, the same lines go to the ``skvae`` logger as
    INFO records (with the attributes ``stage`` and ``epoch``), for ``logging`` to route
    or drop.

    Parameters
    ----------
    stage : str, default='VAE'
        Name of the stage, at the start of every line (e.g. ``'M1'``, ``'M2'``).
    n_epochs : int or None, default=None
        Epochs this stage will train (for "epoch k of N" and the time left). None: the
        net's ``max_epochs``. Set it again before a ``partial_fit`` that trains fewer.
    verbose : int, default=1
        0 shows nothing on the console (the logger still gets the records); 1 a bar on a
        terminal, else a line now and then; 2 or more a line every epoch.
    description : str or None, default=None
        What the stage does, said once at its start (e.g. ``'a VAE on every row,
        without labels'``).
    stream : file-like or None, default=None
        Where the console output goes; None is ``sys.stdout`` at the start of training.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> X = load_digits().data / 16
    >>> vae = VAETransformer(max_iter=2, verbose=1, random_state=0).fit(X)  # doctest: +ELLIPSIS
    skvae fit: model vae, 1 stage (VAE 2 epochs x 128 rows) on 1797 rows, cpu, ...
    VAE: training for 2 epochs
    VAE: loss = reconstruction + beta*kl, in nats per row (lower is better); ...
    VAE: epoch 1 of 2 | loss ... (reconstruction ..., kl ...) | ... elapsed, ... left
    ...
    VAE: done, 2 epochs in ...
    """

    def __init__(self, stage="VAE", n_epochs=None, *, verbose=1, description=None,
                 stream=None):
        self.stage = stage
        self.n_epochs = n_epochs
        self.verbose = verbose
        self.description = description
        self.stream = stream

    # -- state --------------------------------------------------------------------
    def initialize(self):
        self.bar_ = None
        self.stream_ = None
        self.mode_ = None
        self.start_time_ = None
        self.first_row_ = 0
        self.last_line_time_ = None
        self.pending_ = None
        self.room_ = 0
        return self

    def __getstate__(self):
        # An open bar and a stream belong to one run: never pickled or deep-copied.
        state = dict(self.__dict__)
        state["bar_"] = state["stream_"] = state["pending_"] = None
        return state

    # -- output -------------------------------------------------------------------
    def _logging(self):
        return logger.isEnabledFor(logging.INFO)

    def say(self, text, epoch=None):
        """Show ``text`` (when verbose) and log it at INFO.

        Also the ``sink`` of skvae's early stopping, so its message arrives the same way.

        Parameters
        ----------
        text : str
            One message, without a trailing newline.
        epoch : int or None, default=None
            The epoch the message is about, recorded on the log record.
        """
        if epoch is None:
            self._flush()
        logger.info(text, extra={"stage": self.stage, "epoch": epoch})
        if not self.verbose:
            return
        stream = self.stream_ or self.stream or sys.stdout
        if self.bar_ is not None and self.mode_ == "bar":
            self.bar_.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)

    def _total(self, net):
        return self.n_epochs if self.n_epochs is not None else getattr(net, "max_epochs", None)

    def _explanation(self, net):
        """One line: what the loss is made of, and why it can be negative."""
        weights = dict(getattr(net, "loss_weights", None) or {})
        # A model that weighs the reconstruction too (e.g. per feature) gets numbers for
        # every weight: the hyperparameters' names would no longer be the weights.
        named = "reconstruction" not in weights
        terms = ["reconstruction"] if named else []
        for name, weight in weights.items():
            label = _WEIGHT_NAMES.get(name) if named else None
            terms.append(f"{label or _number(weight)}*{name}")
        text = (f"{self.stage}: loss = {' + '.join(terms)}, in nats per row (lower is "
                "better); reconstruction = -log p(x|z)")
        module = getattr(net, "module_", None)
        gaussian = module is not None and any(
            isinstance(m, GaussianLikelihood) for m in module.modules())
        if gaussian:
            text += (" under a Gaussian likelihood, a density: it, and the loss, can be "
                     "negative")
        return text + "."

    # -- skorch events ------------------------------------------------------------
    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if self.bar_ is not None:  # a previous run that ended by an error
            self.bar_.close()
        self.bar_ = None
        self.start_time_ = time.monotonic()
        self.first_row_ = len(net.history)
        self.last_line_time_ = self.pending_ = None
        if not (self.verbose or self._logging()):
            return
        total = self._total(net)
        head = f"{self.stage}: training for {total} epoch{'s' * (total != 1)}" if total \
            else f"{self.stage}: training"
        if self.description:
            head += f" ({self.description})"
        self.stream_ = self.stream or sys.stdout
        self.mode_ = "lines"
        self.say(head)
        self.say(self._explanation(net))
        if not self.verbose or self.verbose >= 2:
            return
        bar_args = dict(total=total, desc=self.stage, unit="epoch", leave=True)
        if in_notebook():
            self.bar_ = _notebook_bar(**bar_args)
            self.mode_ = "widget" if self.bar_ is not None else "lines"
        elif total and is_terminal(self.stream_):
            from tqdm import tqdm

            # A terminal that reports no size (0 x 0: some ptys, CI runners) gets 80 x 24;
            # tqdm itself would draw nothing there.
            size = shutil.get_terminal_size((80, 24))
            self.bar_ = tqdm(
                file=self.stream_, ncols=size.columns or 80, nrows=size.lines or 24,
                **bar_args,
                bar_format=("{desc}: epoch {n_fmt} of {total_fmt} |{bar}| {elapsed} "
                            "elapsed, {remaining} left{postfix}"),
            )
            # What the postfix may take: the line less the text and a 10-column bar.
            self.room_ = max((size.columns or 80) - len(self.stage) - 60, 20)
            self.mode_ = "bar"

    @staticmethod
    def _losses(row):
        """``'loss 27.62 (reconstruction 27.56, kl 0.06)'`` and the validation loss."""
        parts = [key[len("train_"):] for key in row
                 if key.startswith("train_") and key not in ("train_loss", "train_batch_count")
                 and not key.startswith("train_loss_")
                 and not key.endswith("_best")]
        parts.sort(key=lambda p: (_PART_ORDER.index(p) if p in _PART_ORDER else 99, p))
        text = ""
        if "train_loss" in row:
            text = f"loss {_number(row['train_loss'])}"
            if parts:
                text += " (" + ", ".join(f"{p} {_number(row['train_' + p])}"
                                         for p in parts) + ")"
        if "valid_loss" in row:
            text += f" | valid loss {_number(row['valid_loss'])}"
        return text

    def _line(self, row, k, total, elapsed):
        text = f"{self.stage}: epoch {k}" + (f" of {total}" if total else "")
        losses = self._losses(row)
        if losses:
            text += f" | {losses}"
        text += f" | {_clock(elapsed)} elapsed"
        if total and k <= total:
            text += f", {_clock(elapsed / k * (total - k))} left"
        return text

    def on_epoch_end(self, net, **kwargs):
        if not (self.verbose or self._logging()):
            return
        row = net.history[-1]
        k = len(net.history) - self.first_row_
        total = self._total(net)
        now = time.monotonic()
        elapsed = now - self.start_time_
        if self.bar_ is not None:
            losses = self._losses(row)
            if len(losses) > self.room_:  # the parts when they fit on the line
                losses = losses.split(" (")[0]
            self.bar_.set_postfix_str(losses, refresh=False)
            self.bar_.update(1)
        due = (self.verbose >= 2 or k == 1 or k == total or self.last_line_time_ is None
               or now - self.last_line_time_ >= _LINE_INTERVAL)
        # An epoch not shown now is shown before the next message (an early stop) or at
        # the end, so the last epoch trained is always reported.
        self.pending_ = (self._line(row, k, total, elapsed), k)
        if due:
            self._flush()
            self.last_line_time_ = now

    def _flush(self):
        """Report the last epoch if it was not reported yet."""
        pending, self.pending_ = getattr(self, "pending_", None), None
        if pending is None:
            return
        line, k = pending
        if self.mode_ == "lines" or not self.verbose:
            self.say(line, epoch=k)
        else:  # the bar shows it on the console; the logger still gets the line
            logger.info(line, extra={"stage": self.stage, "epoch": k})

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if self.bar_ is not None:
            self.bar_.close()
            self.bar_ = None
        if not (self.verbose or self._logging()) or self.start_time_ is None:
            self.stream_ = None
            return
        done = len(net.history) - self.first_row_
        total = self._total(net)
        elapsed = time.monotonic() - self.start_time_
        self._flush()
        if total and done < total:
            self.say(f"{self.stage}: stopped after {done} of {total} epochs, "
                     f"{_clock(elapsed)}.", epoch=done or None)
        else:
            self.say(f"{self.stage}: done, {done} epoch{'s' * (done != 1)} in "
                     f"{_clock(elapsed)}.", epoch=done or None)
        self.stream_ = None

"""Training the stages of a fit plan: seeds, the skorch net and the run.

One function builds a stage's net (:func:`new_net`) and one applies a plan to a fitted
net (:func:`configure`), both from :func:`net_settings`, so ``partial_fit`` runs with
exactly the settings a ``fit`` would (precision, callbacks, step size, ...).
:func:`train` runs a stage: seeded, stopped cleanly by Ctrl-C, checked for divergence,
and, when ``max_iter`` ended it, for convergence (:func:`check_convergence`).

A data-parallel fit (:mod:`skvae._devices`) trains the same way, its module wrapped in
``DistributedDataParallel`` for the run.
"""

import contextlib
import copy
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from skorch.callbacks import EarlyStopping, LRScheduler

from ._batches import RandomSplit
from ._devices import data_parallel, share_buffers
from ._net import VAENet, WeightWarmup
from ._progress import Progress

__all__ = ["check_convergence", "configure", "improvement", "new_net", "seed_from",
           "seeded", "train"]

#: Name of the step-size schedule's callback in a net, and of its column in the history.
SCHEDULE = "lr_schedule"


def seed_from(random_state):
    """A fit's torch seed from a ``random_state`` (int, RandomState or None)."""
    return int(check_random_state(random_state).randint(2**31 - 1))


@contextlib.contextmanager
def seeded(seed, device):
    """Seed torch for a block without touching the caller's global RNG state."""
    devices = []
    device = str(device)  # skorch may hold a torch.device (e.g. after unpickling)
    if device.startswith("cuda"):
        index = torch.device(device).index
        devices = [torch.cuda.current_device() if index is None else index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _fused_adam_ok(device):
    """Whether ``torch.optim.AdamW(fused=True)`` runs on ``device`` in this torch."""
    try:
        torch.optim.AdamW([torch.zeros(1, device=device, requires_grad=True)], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return None  # torch's default choice (foreach where it can)
    return True


def _callbacks(stage, plan):
    """The skorch callbacks of a stage's net (the user's deep-copied: never changed)."""
    callbacks = [("kl_warmup", WeightWarmup("kl", stage.weights.get("kl", 1.0),
                                            stage.beta_warmup))]
    if stage.learning_rate == "cosine" and not plan.recipe.step_schedule:
        # Stepped after each epoch: epoch e (0-based) of max_iter runs at
        # learning_rate_init * (1 + cos(pi * e / max_iter)) / 2, recorded as 'lr'.
        callbacks.append((SCHEDULE, LRScheduler(
            torch.optim.lr_scheduler.CosineAnnealingLR, T_max=stage.max_iter,
            event_name="lr")))
    # Progress on the console (verbose) and the 'skvae' logger (always), in place of
    # skorch's ProgressBar and PrintLog table; a stage of several is numbered.
    number = plan.stages.index(stage) + 1
    progress = Progress(stage.name, stage.max_iter, verbose=plan.verbose,
                        description=(f"stage {number} of {len(plan.stages)}: "
                                     f"{stage.description}" if len(plan.stages) > 1 else None))
    callbacks.append(("progress", progress))
    if stage.early_stopping:
        # Patience n_iter_no_change on the validation loss, at skorch's threshold (an
        # epoch improves when it beats the best by a relative 1e-4); tol plays no part.
        callbacks.append(("early_stopping", EarlyStopping(
            monitor="valid_loss", patience=stage.n_iter_no_change, load_best=True,
            sink=progress.say)))
    callbacks += plan.recipe.callbacks(stage, plan)
    if stage.user_callbacks:
        callbacks += copy.deepcopy(list(plan.callbacks))
    return callbacks


def net_settings(stage, plan):
    """Every setting of a stage's net that a plan decides (all but the module)."""
    return dict(
        loss_weights=stage.weights,
        lr=stage.learning_rate_init,
        optimizer__weight_decay=stage.weight_decay,
        precision=plan.precision,
        data_placement=plan.data_placement,
        max_epochs=stage.max_iter,
        batch_size=stage.batch_size,
        train_split=(
            RandomSplit(stage.validation_fraction,
                        stratify=plan.recipe.task == "classification")
            if stage.early_stopping else None
        ),
        callbacks=_callbacks(stage, plan),
        verbose=int(plan.verbose),
        world_size=plan.world_size,
        rank=plan.rank,
        seed=stage.seed,
        **plan.recipe.iterator_params(stage),
    )


def new_net(module, stage, plan):
    """A new, initialised :class:`~skvae._net.VAENet` training ``module`` for ``stage``."""
    net = VAENet(
        module,
        optimizer=torch.optim.AdamW,
        # One fused kernel per step instead of one per parameter and moment:
        # ~0.8x the epoch time of the default Adam on CPU (benchmarks/bench_speed.py).
        optimizer__fused=_fused_adam_ok(plan.device),
        device=plan.device,
        callbacks__print_log=None,  # Progress reports each epoch
        **net_settings(stage, plan),
    )
    net.initialize()
    return net


def configure(net, stage, plan):
    """Apply ``plan`` to a fitted net that trains on (``partial_fit``): all it can change."""
    settings = net_settings(stage, plan)
    net.set_params(lr=settings.pop("lr"), batch_size=settings.pop("batch_size"),
                   optimizer__weight_decay=settings.pop("optimizer__weight_decay"))
    net.loss_weights = settings.pop("loss_weights")
    for name, value in settings.items():
        setattr(net, name, value)
    net.initialize_callbacks()


def train(net, inputs, targets, stage, plan, start=0, final=True):
    """Train ``net`` for ``stage.max_iter`` epochs from epoch ``start`` (all or nothing).

    Ctrl-C before an epoch of this call ends, or during a stage that is not the
    ``final`` one, raises KeyboardInterrupt (the estimator then stays as it was);
    later in the final stage it stops with a warning, keeping the weights reached.
    """
    try:
        with seeded(stage.seed + start, net.device), data_parallel(net, plan):
            net.partial_fit(inputs, targets, epochs=stage.max_iter)
    except KeyboardInterrupt:
        if not stopped_early(net):  # skorch's EarlyStopping stops this way too
            done = [row for row in net.history[start:] if "train_loss" in row]
            if not done or not final:
                raise
            del net.history[start + len(done):]
            warnings.warn(
                f"Training interrupted by user after {len(done)} epoch(s); the model keeps "
                "the weights reached so far.", UserWarning, stacklevel=7,
            )
    if plan.world_size > 1:
        share_buffers(net.module_)
    if not all(torch.isfinite(p).all() for p in net.module_.parameters()):
        raise FloatingPointError(
            f"Training {stage.name} produced non-finite weights: training diverged. Lower "
            "learning_rate_init (e.g. by a factor of 10) or check the input scaling."
        )
    run = len(net.history) - start
    if not plan.partial and run == stage.max_iter and not stopped_early(net):
        check_convergence(net.history[start:, "train_loss"], stage,
                          several=len(plan.stages) > 1)
    return net


def stopped_early(net):
    """Whether skorch's EarlyStopping ended the run."""
    stopper = dict(net.callbacks_).get("early_stopping")
    return stopper is not None and stopper.misses_ >= stopper.patience


def improvement(losses, window):
    """How much the best loss of the last ``window`` epochs beats the best before them.

    Relative to the earlier best's size, at least 1 nat (the loss is in nats per row,
    from below 1 to hundreds, and can be negative for a Gaussian likelihood):
    ``(best_before - best_last) / max(|best_before|, 1)``, positive when the loss
    improved. A run of fewer than ``2 * window`` epochs compares its last
    ``len(losses) // 2`` epochs with the ones before (3 epochs: the last with the
    first two); one epoch gives None (nothing to compare).

    Examples
    --------
    >>> round(improvement([30.0, 22.0, 21.0, 20.5, 20.0, 19.9], window=2), 4)  # 20.5 -> 19.9
    0.0293
    >>> round(improvement([30.0, 20.0, 20.1, 19.99, 20.05], window=2), 4)  # 20 -> 19.99
    0.0005
    >>> improvement([30.0, 20.0, 21.0], window=10)  # a rise: the last epoch vs the first 2
    -0.05
    >>> improvement([30.0], window=10) is None
    True
    """
    losses = [float(v) for v in losses]
    window = min(window, len(losses) // 2)
    if window < 1:
        return None
    before, last = min(losses[:-window]), min(losses[-window:])
    return (before - last) / max(abs(before), 1.0)


def check_convergence(losses, stage, several=False):
    """Warn ConvergenceWarning when ``max_iter`` cut a run whose loss still improved.

    ``losses``: the epoch-mean training losses of a complete run of ``stage`` (every
    ``max_iter`` epoch, no early stop, no Ctrl-C). The rule is :func:`improvement` over
    a window of ``stage.n_iter_no_change`` epochs against ``stage.tol``, on the epochs
    after the KL warm-up (whose losses weigh the KL less, so are not comparable). Not
    checked: ``tol=None``, and a ``'cosine'`` schedule, which anneals the step size to
    (near) 0 at ``max_iter``: there the run ends by design, and its loss falls at the end
    because the step size does (the minibatch noise averages out), not because the run
    was cut short.
    """
    if stage.tol is None or stage.learning_rate == "cosine":
        return
    losses = list(losses)[stage.beta_warmup:]
    gain = improvement(losses, stage.n_iter_no_change)
    if gain is None or gain <= stage.tol:
        return
    window = min(stage.n_iter_no_change, len(losses) // 2)
    before, last = min(losses[:-window]), min(losses[-window:])
    warnings.warn(
        f"{stage.name + ': ' if several else ''}max_iter={stage.max_iter} epochs ended "
        f"the fit while the training loss was still improving: its best in the last "
        f"{window} epoch(s), {last:.4g}, is {gain:.2%} below its best before them, "
        f"{before:.4g} (more than tol={stage.tol:g}, i.e. {stage.tol:.2%}). The model "
        "has not converged. Raise max_iter, or use learning_rate='cosine' (the step size "
        "then decays to 0 by max_iter, so the run ends settled; such runs are not "
        "checked), or raise tol to accept this fit (tol=None turns the check off).",
        ConvergenceWarning, stacklevel=8,  # the caller of fit (past _fit_context)
    )

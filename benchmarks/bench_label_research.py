"""Label-efficiency research (issue 21): candidate VAE semi-supervised models against
SVC(C=10) on the labelled rows and LabelSpreading(knn), on the same label draws.

A measurement script, not part of the package: plain PyTorch training loops, one torch
thread, a fixed number of gradient steps whatever the data size. Every candidate predicts
with a VAE model's q(y|x); label propagation (when a method uses it) only makes
pseudo-labels, in the code space of a VAE, that train q(y|x).

Draws: for seed s the digits split is ``load_digits_split(s)`` and the labelled rows are
``draw_labelled(y_train, n, s)``, exactly as benchmarks/bench_semisupervised.py, so the
rows pair with benchmarks/results/semisupervised.csv. The baselines are recomputed here on
the same draws. Rows are appended to benchmarks/results/label_research.csv (``--csv``).

Methods (``--methods``; ``NAME:key=value,...`` overrides a recipe's settings):

* ``svc`` / ``ls``: the baselines.
* ``skvae``: the shipped estimator, ``VAEClassifier()`` with its defaults (``image_shape``
  given on Fashion-MNIST, ``device='cpu'``, ``random_state=seed``), so a research row starts
  from the same place as ``bench_semisupervised.py --defaults``. ``skvae:key=value,...``
  changes one of the recipe's fixed settings (a field of
  :class:`skvae.models.shared.Settings`, e.g. ``threshold=0.95``; ``none`` for None) or,
  as ``est.name=value``, an estimator parameter (``est.architecture=conv``). With
  ``LR_DEBUG=1`` each epoch prints the test accuracy, the share of unlabelled rows that
  pass the mask and the predicted class histogram on the training rows. The defaults
  before issue 28 (commit 2298138) are
  ``skvae:est.architecture=mlp,est.n_components=8,est.hidden_layer_sizes=256-128,``
  ``est.learning_rate_init=0.001,conv_channels=32-64`` (rows with the note ``issue28-A``
  to ``-C`` and ``issue28-F4k`` ran before the defaults changed: there plain ``skvae``
  is that old default, and ``est.n_components=16,est.hidden_layer_sizes=256-256,``
  ``est.learning_rate_init=0.002`` the new one).
* ``m2``: M2 on pixels with a shared encoder body: h = body(x); q(y|x) = head(h);
  q(z|x,y) = enc([h, y]); p(x|z,y) Bernoulli decoder. Loss per step: labelled ELBO +
  unlabelled ELBO (y marginalised under q(y|x), or ``marg=0``: one pass with the soft
  q(y|x)) + alpha * CE on labelled rows + consistency + entropy terms on unlabelled rows.
  Settings: see ``DEFAULTS``.
* ``lpm2``: ``m2`` for ``warm`` steps, then LabelSpreading(knn) in the model's own code
  space (the shared body's features h, class-aware) makes soft pseudo-labels; training
  goes on with a confidence-weighted cross-entropy on them (``pl`` weight). The predictor
  stays q(y|x).
* ``m1lpm2``: as ``lpm2`` but the pseudo-labels come from LabelSpreading in an
  unsupervised VAE's (M1's) code space, fitted first (``m1_steps``).

Measured (digits, 5 draws; see the session report): the best recipe,
``lpm2:steps=1500,marg=0,pert=noise,sigma=0.2,cons=3,pl=1,warm=750`` (``lsk=10`` the same
within noise), reaches LabelSpreading(knn) but does not beat it (paired median -0.2 to
-0.5 points at 50/100/250 labels), is within 0.4 points of SVC with every label, and takes
15-20 s of CPU per fit. On Fashion-MNIST (10,000 images, 100 labels, draw 0) the image
shift (``pert=shift``) gave 0.744 against 0.680 with noise alone; this recipe with the
shift became skvae's ``'shared-m2'`` model (skvae/models/shared.py). VAE-made
perturbations (decoder reconstructions, latent noise) and VAT, EMA weights, repeated
relabelling and entropy minimisation did not help.

Usage (from the worktree root)::

    OMP_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_label_research.py \\
        --dataset digits --labels 50 100 250 1257 --seeds 0 1 2 3 4 --methods svc ls lpm2
"""

import argparse
import csv
import math
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from skorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parent))
from skvae._experiment import (  # noqa: E402
    draw_labelled,
    load_digits_split,
    load_fashion_mnist_split,
)

# Recipe settings (one setting for all data sizes).
DEFAULTS = dict(
    steps=3000,       # gradient steps, whatever the number of rows or labels
    lr=2e-3,          # Adam step size, cosine decay to 0 over the steps
    wd=0.0,           # weight decay (AdamW)
    hidden=256,       # width of the body layers (q(y|x) and q(z|x,y) share them)
    dhidden=256,      # width of the q(z|x,y) head and decoder layers
    zdim=16,          # continuous latent size
    bl=64,            # labelled rows per step (drawn with replacement)
    bu=128,           # unlabelled rows per step (drawn from all rows)
    alpha=1.0,        # weight of the labelled cross-entropy (per labelled row, mean)
    beta=1.0,         # weight of the ELBO terms (0: no generative model)
    marg=1,           # 1: marginalise y in the unlabelled ELBO (K passes); 0: soft q(y|x)
    elbo_grad=1,      # 1: the ELBO trains the shared body; 0: body only from q(y|x) losses
    cons=0.0,         # weight of the consistency term on unlabelled rows
    pert="recon",     # perturbation: recon (decoder output at z ~ q(z|x,ŷ)), latent
                      # (decode z + noise), noise (input Gaussian), mixup (inputs),
                      # hmix (mixup in the body's code space), vat (virtual
                      # adversarial direction of L2 radius sigma), shift (images moved
                      # by up to `shift` pixels, plus noise of scale sigma)
    sigma=0.5,        # latent / input noise scale
    ent=0.0,          # weight of the entropy of q(y|x) on unlabelled rows
    ramp=0.2,         # fraction of the steps over which cons/ent/pl ramp up (linear)
    pl=0.0,           # weight of the pseudo-label cross-entropy (lpm2 / m1lpm2)
    warm=1000,        # steps before the pseudo-labels are made (lpm2)
    relabel=0,        # remake the pseudo-labels every `relabel` steps after warm (0: once)
    lsk=7,            # neighbours of the LabelSpreading that makes pseudo-labels
    lsspace="h",      # h (body features), hq (body features + q(y|x) log-probs), z, x
    lsstd=1,          # 1: standardise the features before LabelSpreading's kNN graph
    conf=1,           # 1: weight pseudo-labels by LabelSpreading's confidence; 0: all 1
    drop=0.0,         # dropout before the classifier head
    m1_steps=2000,    # M1 steps (m1lpm2)
    act="relu",
    ema=0.0,          # >0: predict (and make pseudo-labels) with an exponential moving
                      # average of the weights with this decay (Polyak averaging)
    teacher=0,        # 1: the EMA model gives the consistency targets (mean teacher)
    body="mlp",       # mlp, or conv (two stride-2 convolutions, 32 and 64 channels, then
                      # `hidden`), for the shared body; images only
    shift=2.0,        # pert=shift: largest translation in pixels (images only), plus
                      # Gaussian noise of scale sigma
    cdrop=0.0,        # dropout on the conv body's flattened output
)


# -- data ------------------------------------------------------------------------------------

def load(dataset, seed, n_train):
    if dataset == "digits":
        X_tr, X_te, y_tr, y_te = load_digits_split(seed)
    else:
        # Fashion-MNIST: a fixed training subset (seed 0) and the official 10k test set.
        X_tr, X_te, y_tr, y_te = load_fashion_mnist_split(n_train, None, 0)
    return (np.asarray(X_tr, np.float32), np.asarray(X_te, np.float32),
            np.asarray(y_tr), np.asarray(y_te))


# -- baselines -------------------------------------------------------------------------------

def fit_svc(X, y_semi, X_te, cfg):
    from sklearn.svm import SVC

    lab = y_semi >= 0
    return SVC(C=10).fit(X[lab], y_semi[lab]).predict(X_te)


def fit_ls(X, y_semi, X_te, cfg):
    from sklearn.semi_supervised import LabelSpreading

    return LabelSpreading(kernel="knn", n_neighbors=7, max_iter=100).fit(X, y_semi).predict(X_te)


# -- the VAE model ---------------------------------------------------------------------------

def mlp(sizes, act):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU() if act == "relu" else nn.Softplus()]
    return nn.Sequential(*layers)


class SharedM2(nn.Module):
    """M2 whose q(y|x) and q(z|x,y) share one encoder body h = body(x)."""

    def __init__(self, d, k, hidden, zdim, drop, act, dhidden, body="mlp", shape=None,
                 cdrop=0.0):
        super().__init__()
        self.k, self.zdim = k, zdim
        if body == "conv":
            from skvae.nn.conv import ConvBody

            self.body = ConvBody(shape, (32, 64), (hidden,), dropout=cdrop)
        else:
            self.body = mlp([d, hidden, hidden], act)
        self.head = nn.Sequential(nn.Dropout(drop), nn.Linear(hidden, k))
        self.enc = nn.Sequential(mlp([hidden + k, dhidden], act), nn.Linear(dhidden, 2 * zdim))
        self.dec = nn.Sequential(mlp([zdim + k, dhidden, dhidden], act), nn.Linear(dhidden, d))

    def logits(self, x, h=None):
        return self.head(self.body(x) if h is None else h)

    def elbo_terms(self, x, h, yc):
        """Per-row -ELBO (reconstruction + KL) for class vectors yc, and the recon logits."""
        mu, logvar = self.enc(torch.cat([h, yc], 1)).chunk(2, 1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        xl = self.dec(torch.cat([z, yc], 1))
        rec = F.binary_cross_entropy_with_logits(xl, x, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        return rec + kl, xl, mu, logvar


def cosine(step, total, lr):
    return lr * 0.5 * (1 + math.cos(math.pi * step / total))


def label_spreading_soft(F_all, y_semi, k, n_neighbors, std=True):
    """LabelSpreading(knn) on features: (argmax labels, confidences) for every row.

    ``std``: standardise each feature first (else only one global scale, which kNN ignores).
    """
    from sklearn.semi_supervised import LabelSpreading

    Fs = (F_all - F_all.mean(0)) / (F_all.std(0) + 1e-6) if std else F_all
    ls = LabelSpreading(kernel="knn", n_neighbors=n_neighbors, max_iter=100).fit(Fs, y_semi)
    P = ls.label_distributions_
    P = np.nan_to_num(P, nan=1.0 / k)
    return P.argmax(1), P.max(1)


def train_m1(X, seed, cfg):
    """An unsupervised Bernoulli VAE (M1) on all rows; returns its posterior means."""
    torch.manual_seed(seed)
    d = X.shape[1]
    h, zd = cfg["hidden"], 50
    enc = nn.Sequential(mlp([d, h, h], cfg["act"]), nn.Linear(h, 2 * zd))
    dec = nn.Sequential(mlp([zd, h, h], cfg["act"]), nn.Linear(h, d))
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=cfg["lr"])
    Xt = torch.from_numpy(X)
    g = np.random.default_rng(seed)
    for step in range(cfg["m1_steps"]):
        for grp in opt.param_groups:
            grp["lr"] = cosine(step, cfg["m1_steps"], cfg["lr"])
        xb = Xt[g.integers(0, len(X), 128)]
        mu, logvar = enc(xb).chunk(2, 1)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        rec = F.binary_cross_entropy_with_logits(dec(z), xb, reduction="none").sum(1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
        loss = (rec + 0.1 * kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return enc(Xt).chunk(2, 1)[0].numpy()


def fit_m2(X, y_semi, X_te, cfg, seed, pseudo=None):
    """Train SharedM2 with the recipe in cfg; return predictions on X_te (and the model)."""
    torch.manual_seed(seed)
    g = np.random.default_rng(seed)
    n, d = X.shape
    k = int(y_semi.max()) + 1
    model = SharedM2(d, k, cfg["hidden"], cfg["zdim"], cfg["drop"], cfg["act"],
                     cfg["dhidden"], cfg["body"], _SHAPE.get("shape"), cfg["cdrop"])
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"])
    Xt = torch.from_numpy(X)
    lab_idx = np.flatnonzero(y_semi >= 0)
    Yt = torch.from_numpy(np.where(y_semi >= 0, y_semi, 0).astype(np.int64))
    eye = torch.eye(k)
    steps = cfg["steps"]
    ramp_steps = max(1, int(cfg["ramp"] * steps))
    pl_y = pl_w = None
    ema = None
    if cfg["ema"] > 0:
        import copy

        ema = copy.deepcopy(model)
        for q in ema.parameters():
            q.requires_grad_(False)
    if pseudo is not None:  # from M1's code, made before training
        pl_y, pl_w = (torch.from_numpy(a) for a in pseudo)
    for step in range(steps):
        for grp in opt.param_groups:
            grp["lr"] = cosine(step, steps, cfg["lr"])
        ramp = min(1.0, (step + 1) / ramp_steps)
        if cfg["pl"] > 0 and cfg["method"] == "lpm2" and (
                step == cfg["warm"] or (cfg["relabel"] and step > cfg["warm"]
                                         and (step - cfg["warm"]) % cfg["relabel"] == 0)):
            pl_y, pl_w = make_pseudo(ema if ema is not None else model, Xt, y_semi, k, cfg)
            model.train()
        il = lab_idx[g.integers(0, len(lab_idx), cfg["bl"])]
        iu = g.integers(0, n, cfg["bu"])
        xl, yl, xu = Xt[il], Yt[il], Xt[iu]
        hl, hu = model.body(xl), model.body(xu)
        logit_l, logit_u = model.head(hl), model.head(hu)
        qu = logit_u.softmax(1)
        loss = cfg["alpha"] * F.cross_entropy(logit_l, yl)
        recon_u = None
        if cfg["beta"] > 0:
            hl_e = hl if cfg["elbo_grad"] else hl.detach()
            hu_e = hu if cfg["elbo_grad"] else hu.detach()
            nl, _, _, _ = model.elbo_terms(xl, hl_e, eye[yl])
            if cfg["marg"]:
                m = len(iu)
                xr = xu.repeat(k, 1)
                hr = hu_e.repeat(k, 1)
                yr = eye.repeat_interleave(m, 0)
                nu, xlog, mu, lv = model.elbo_terms(xr, hr, yr)
                nu = nu.view(k, m).t()  # (m, k)
                q_e = qu if cfg["elbo_grad"] else qu
                u_loss = (q_e * nu).sum(1) + (q_e * (q_e + 1e-8).log()).sum(1) + math.log(k)
                recon_u = (xlog.view(k, m, d), mu.view(k, m, -1), lv.view(k, m, -1))
            else:
                nu, xlog, mu, lv = model.elbo_terms(xu, hu_e, qu)
                u_loss = nu + (qu * (qu + 1e-8).log()).sum(1) + math.log(k)
            loss = loss + cfg["beta"] * (nl.mean() + u_loss.mean()) / d
        if cfg["ent"] > 0:
            loss = loss + ramp * cfg["ent"] * -(qu * (qu + 1e-8).log()).sum(1).mean()
        if cfg["cons"] > 0:
            if cfg["teacher"] and ema is not None:
                with torch.no_grad():
                    t_logit = ema.logits(xu)
            else:
                t_logit = logit_u
            loss = loss + ramp * cfg["cons"] * consistency(model, xu, hu, t_logit, recon_u, cfg)
        if cfg["pl"] > 0 and pl_y is not None:
            ce = F.cross_entropy(logit_u, pl_y[iu], reduction="none")
            loss = loss + cfg["pl"] * (ce * pl_w[iu]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ema is not None:
            with torch.no_grad():
                dec = min(cfg["ema"], (step + 1) / (step + 10))
                for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                    pe.mul_(dec).add_(pm, alpha=1 - dec)
    final = ema if ema is not None else model
    final.eval()
    with torch.no_grad():
        return final.logits(torch.from_numpy(X_te)).argmax(1).numpy()


def consistency(model, xu, hu, logit_u, recon_u, cfg):
    target = logit_u.detach().softmax(1)
    pert = cfg["pert"]
    if pert == "vat":
        # Virtual adversarial perturbation of radius sigma (L2 per row), one power step.
        d = torch.randn_like(xu)
        d = (0.1 * d / d.norm(dim=1, keepdim=True)).requires_grad_()
        adv = F.kl_div(model.logits(xu + d).log_softmax(1), target, reduction="batchmean")
        grad = torch.autograd.grad(adv, d)[0]
        r = cfg["sigma"] * grad / (grad.norm(dim=1, keepdim=True) + 1e-12)
        return F.kl_div(model.logits(xu + r).log_softmax(1), target, reduction="batchmean")
    with torch.no_grad():
        if pert in ("recon", "latent"):
            yhat = target.argmax(1)
            m = len(xu)
            if recon_u is not None and pert == "recon":
                xlog = recon_u[0][yhat, torch.arange(m)]
            else:
                yc = torch.eye(model.k)[yhat]
                mu, lv = model.enc(torch.cat([hu, yc], 1)).chunk(2, 1)
                z = mu + torch.randn_like(mu) * (0.5 * lv).exp()
                if pert == "latent":
                    z = z + cfg["sigma"] * torch.randn_like(z)
                xlog = model.dec(torch.cat([z, yc], 1))
            xp = torch.sigmoid(xlog)
        elif pert == "noise":
            xp = xu + cfg["sigma"] * torch.randn_like(xu)
        elif pert == "shift":
            xp = translate(xu, _SHAPE["shape"], cfg["shift"]) + cfg["sigma"] * torch.randn_like(xu)
        elif pert in ("mixup", "hmix"):
            lam = torch.distributions.Beta(0.5, 0.5).sample((len(xu), 1))
            lam = torch.maximum(lam, 1 - lam)
            perm = torch.randperm(len(xu))
            target = lam * target + (1 - lam) * target[perm]
    if pert == "hmix":
        hp = lam * hu + (1 - lam) * hu[perm]
        lp = model.head(hp)
    else:
        if pert == "mixup":
            xp = lam * xu + (1 - lam) * xu[perm]
        lp = model.logits(xp)
    return F.kl_div(lp.log_softmax(1), target, reduction="batchmean")


def translate(x, shape, pixels):
    """Each image moved by its own uniform random translation of up to ``pixels``."""
    c, h, w = shape
    img = x.reshape(len(x), c, h, w)
    theta = torch.zeros(len(x), 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 2] = (torch.rand(len(x)) * 2 - 1) * pixels * 2 / w
    theta[:, 1, 2] = (torch.rand(len(x)) * 2 - 1) * pixels * 2 / h
    grid = F.affine_grid(theta, img.shape, align_corners=False)
    return F.grid_sample(img, grid, align_corners=False).reshape(len(x), -1)


_SHAPE = {}


def make_pseudo(model, Xt, y_semi, k, cfg):
    model.eval()
    with torch.no_grad():
        h = model.body(Xt)
        if os.environ.get("LR_DEBUG") == "2" and "y" in _TRUE:
            q = model.head(h)
            zz = model.enc(torch.cat([h, q.softmax(1)], 1)).chunk(2, 1)[0]
            spaces = {"h": h, "hq": torch.cat([h, q.log_softmax(1)], 1), "z": zz, "x": Xt,
                      "xh": torch.cat([Xt, h], 1)}
            line = [f"model {np.mean(q.argmax(1).numpy() == _TRUE['y']):.4f}"]
            for name, fe in spaces.items():
                for nn_ in (7, 10, 15):
                    for std in (True, False):
                        yp, _ = label_spreading_soft(fe.numpy(), y_semi, k, nn_, std)
                        line.append(f"{name}/{nn_}{'s' if std else ''} "
                                    f"{np.mean(yp == _TRUE['y']):.4f}")
            print("    LS diag: " + " ".join(line), flush=True)
        if cfg["lsspace"] == "h":
            feats = h
        elif cfg["lsspace"] == "hq":
            feats = torch.cat([h, model.head(h).log_softmax(1)], 1)
        elif cfg["lsspace"] == "z":
            q = model.head(h).softmax(1)
            feats = model.enc(torch.cat([h, q], 1)).chunk(2, 1)[0]
        else:
            feats = Xt
    yp, w = label_spreading_soft(feats.numpy(), y_semi, k, cfg["lsk"], cfg["lsstd"])
    diagnose(yp, w)
    if not cfg["conf"]:
        w = np.ones_like(w)
    return torch.from_numpy(yp.astype(np.int64)), torch.from_numpy(w.astype(np.float32))


_TRUE = {}


def diagnose(yp, w):
    """Print the pseudo-labels' accuracy on the training rows (diagnostic only)."""
    if os.environ.get("LR_DEBUG") and "y" in _TRUE:
        y = _TRUE["y"]
        hi = w >= np.median(w)
        print(f"    pseudo-labels: acc {np.mean(yp == y):.4f}, on the confident half "
              f"{np.mean(yp[hi] == y[hi]):.4f}", flush=True)


def fit_vae(X, y_semi, X_te, cfg, seed):
    pseudo = None
    if cfg["method"] == "m1lpm2":
        code = train_m1(X, seed, cfg)
        feats = np.concatenate([X, code], 1) if cfg["lsspace"] == "xz" else code
        k = int(y_semi.max()) + 1
        yp, w = label_spreading_soft(feats, y_semi, k, cfg["lsk"])
        diagnose(yp, w)
        if not cfg["conf"]:
            w = np.ones_like(w)
        pseudo = (yp.astype(np.int64), w.astype(np.float32))
    return fit_m2(X, y_semi, X_te, cfg, seed, pseudo)


# -- the shipped estimator ---------------------------------------------------------------------

def parse_value(text, default):
    """``text`` as the type of ``default`` (``none`` is None; bools from 0/1)."""
    if text.lower() == "none":
        return None
    if isinstance(default, bool):
        return bool(int(text))
    if isinstance(default, int) and not isinstance(default, bool):
        return int(text)
    if isinstance(default, float) or default is None:
        try:
            return float(text)
        except ValueError:
            return text
    return text


def parse_number(text):
    """An int, a float or, failing both, the text itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return None if text.lower() == "none" else text


def parse_skvae(rest):
    """(Settings changes, estimator parameters) of a ``skvae:...`` method spec."""
    import dataclasses

    from skvae.models import shared

    fields = {f.name: f.default for f in dataclasses.fields(shared.Settings)}
    settings, params = {}, {}
    for kv in filter(None, rest.split(",")):
        key, val = kv.split("=")
        if key.startswith("est."):
            name = key[4:]
            if "-" in val and name == "hidden_layer_sizes":
                params[name] = tuple(int(v) for v in val.split("-"))
            else:
                params[name] = parse_number(val)
        else:
            if key not in fields:
                raise SystemExit(f"unknown setting {key!r}; one of {sorted(fields)}")
            settings[key] = (tuple(int(v) for v in val.split("-")) if key == "conv_channels"
                             else parse_value(val, fields[key]))
    return settings, params


class EpochReport(Callback):
    """skorch callback (LR_DEBUG): test accuracy, mask rate and class histogram per epoch."""

    def __init__(self, X_te, y_te, X, classes):
        self.X_te, self.y_te, self.X, self.classes = X_te, y_te, X, classes

    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        module.eval()
        with torch.no_grad():
            pred = module.classify(torch.from_numpy(self.X_te)).argmax(1).numpy()
            train = module.classify(torch.from_numpy(self.X)).argmax(1).numpy()
        module.train()
        acc = float((self.classes[pred] == self.y_te).mean())
        hist = np.bincount(train, minlength=len(self.classes)) / len(train)
        row = net.history[-1]
        print(f"    epoch {len(net.history):3d} test {acc:.4f} mask "
              f"{row.get('train_mask_rate', float('nan')):.3f} pseudo "
              f"{row.get('train_pseudo', float('nan')):.3f} hist "
              + " ".join(f"{h:.2f}" for h in hist), flush=True)


def fit_skvae(X, y_semi, X_te, y_te, rest, seed, dataset):
    import dataclasses

    from skvae import VAEClassifier
    from skvae.models import shared

    settings, params = parse_skvae(rest)
    kwargs = dict(device="cpu", random_state=seed)
    if dataset != "digits":
        kwargs["image_shape"] = (1, 28, 28)
    kwargs.update(params)
    saved = shared.SETTINGS
    shared.SETTINGS = dataclasses.replace(saved, **settings)
    try:
        clf = VAEClassifier(**kwargs)
        if os.environ.get("LR_DEBUG"):
            clf.set_params(callbacks=[("report", EpochReport(
                X_te, y_te, X, np.unique(y_semi[y_semi >= 0])))])
        clf.fit(X, y_semi)
    finally:
        shared.SETTINGS = saved
    return clf.predict(X_te)


# -- driver ----------------------------------------------------------------------------------

def parse_method(spec):
    name, _, rest = spec.partition(":")
    if name == "skvae":
        return name, {"rest": rest}, {}
    cfg = dict(DEFAULTS, method=name)
    for kv in filter(None, rest.split(",")):
        key, val = kv.split("=")
        cfg[key] = type(DEFAULTS[key])(val) if not isinstance(DEFAULTS[key], str) else val
    overrides = {k: v for k, v in cfg.items() if k != "method" and v != DEFAULTS[k]}
    return name, cfg, overrides


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits", choices=["digits", "fashion"])
    p.add_argument("--n-train", type=int, default=10000, help="Fashion-MNIST training rows")
    p.add_argument("--labels", type=int, nargs="+", default=[50, 100, 250, 1257])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--methods", nargs="+", default=["svc", "ls", "lpm2"])
    p.add_argument("--csv", type=Path,
                   default=Path(__file__).parent / "results" / "label_research.csv")
    p.add_argument("--note", default="")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: print the table of the --csv rows (--note filters)")
    p.add_argument("--ablation", nargs="+", metavar="LABEL=NOTE/METHOD",
                   help="run nothing: one table of these rows (of --dataset), each paired "
                        "with the row before it on the draws both ran; NOTE/METHOD picks "
                        "--csv rows, or 'defaults/NOTE' the VAEClassifier() [defaults] rows "
                        "with that note in semisupervised.csv; '@K' after it pairs the row "
                        "with the K-th instead")
    args = p.parse_args()
    if args.ablation:
        ablation(args.csv, args.dataset, args.ablation)
        return
    if args.report_only:
        with open(args.csv) as f:
            rows = [r for r in csv.DictReader(f)
                    if r["dataset"] == args.dataset and (not args.note or r["note"] == args.note)]
        for r in rows:
            r.update(n_labelled=int(r["n_labelled"]), seed=int(r["seed"]),
                     accuracy=float(r["accuracy"]), fit_s=float(r["fit_s"]),
                     cpu_s=float(r.get("cpu_s") or "nan"))
        report(rows)
        return
    torch.set_num_threads(1)
    command = "OMP_NUM_THREADS=1 PYTHONPATH=$PWD python benchmarks/bench_label_research.py " + \
        " ".join(shlex.quote(a) for a in sys.argv[1:])
    rows = []
    _SHAPE["shape"] = (1, 8, 8) if args.dataset == "digits" else (1, 28, 28)
    for seed in args.seeds:
        X, X_te, y, y_te = load(args.dataset, seed, args.n_train)
        for n_lab in args.labels:
            lab = draw_labelled(y, n_lab, seed)
            _TRUE["y"] = y
            y_semi = np.full(len(y), -1)
            y_semi[lab] = y[lab]
            for spec in args.methods:
                name, cfg, over = parse_method(spec)
                t0, c0 = time.perf_counter(), time.process_time()
                if name == "svc":
                    pred = fit_svc(X, y_semi, X_te, cfg)
                elif name == "ls":
                    pred = fit_ls(X, y_semi, X_te, cfg)
                elif name == "skvae":
                    pred = fit_skvae(X, y_semi, X_te, y_te, cfg["rest"], seed, args.dataset)
                else:
                    pred = fit_vae(X, y_semi, X_te, cfg, seed)
                secs, cpu = time.perf_counter() - t0, time.process_time() - c0
                acc = float((pred == y_te).mean())
                row = dict(dataset=args.dataset, n_train=len(y), n_labelled=n_lab, method=spec,
                           seed=seed, accuracy=round(acc, 4), fit_s=round(secs, 1),
                           cpu_s=round(cpu, 1),
                           settings=";".join(f"{a}={b}" for a, b in over.items()),
                           date=time.strftime("%Y-%m-%d %H:%M"), command=command,
                           note=args.note)
                rows.append(row)
                print(f"seed {seed} labels {n_lab:5d} {spec:40s} acc {acc:.4f}  "
                      f"{secs:6.1f} s ({cpu:.1f} s CPU)", flush=True)
                args.csv.parent.mkdir(parents=True, exist_ok=True)
                new = not args.csv.exists()
                with open(args.csv, "a", newline="") as f:
                    w = csv.DictWriter(f, fieldnames=list(row))
                    if new:
                        w.writeheader()
                    w.writerow(row)
    report(rows)


def report(rows):
    """Median (min-max) per method x labels, paired median differences vs svc and ls."""
    acc = {(r["method"], r["n_labelled"], r["seed"]): r["accuracy"] for r in rows}
    secs = {(r["method"], r["n_labelled"], r["seed"]): r["fit_s"] for r in rows}
    cpus = {(r["method"], r["n_labelled"], r["seed"]): r.get("cpu_s") for r in rows}
    methods = list(dict.fromkeys(r["method"] for r in rows))
    labels = sorted({r["n_labelled"] for r in rows})
    print("\n| method | labels | median (min-max) | vs LS (paired median) | vs SVC "
          "| fit s wall (median, max) | CPU s (median, max) |")
    print("|---|---|---|---|---|---|---|")
    for m in methods:
        for n in labels:
            seeds = sorted(s for (mm, nn_, s) in acc if mm == m and nn_ == n)
            if not seeds:
                continue
            a = [acc[m, n, s] for s in seeds]
            t = [secs[m, n, s] for s in seeds]
            c = [cpus[m, n, s] for s in seeds]

            def diff(base, m=m, n=n, seeds=seeds):
                d = [acc[m, n, s] - acc[base, n, s] for s in seeds if (base, n, s) in acc]
                return f"{statistics.median(d):+.4f}" if d else ""

            print(f"| {m} | {n} | {statistics.median(a):.4f} ({min(a):.4f}-{max(a):.4f}) | "
                  f"{diff('ls')} | {diff('svc')} | {statistics.median(t):.1f}, {max(t):.1f} | "
                  f"{statistics.median(c):.1f}, {max(c):.1f} |")


def ablation(path, dataset, specs):
    """Print a Markdown table: each configuration, paired with the one before it.

    A spec ending in ``@K`` is paired with the K-th configuration (1-based) instead.
    """
    with open(path) as f:
        research = list(csv.DictReader(f))
    with open(Path(path).parent / "semisupervised.csv") as f:
        semi = list(csv.DictReader(f))
    configs = []
    for spec in specs:
        label, _, where = spec.partition("=")
        where, _, ref = where.partition("@")
        source, _, what = where.partition("/")
        if source == "defaults":
            rows = [r for r in semi if r["dataset"] == dataset and r["note"] == what
                    and r["model"] == "VAEClassifier() [defaults]"]
        else:
            rows = [r for r in research if r["dataset"] == dataset and r["note"] == source
                    and r["method"] == what]
        acc = {(int(r["n_labelled"]), int(r["seed"])): float(r["accuracy"]) for r in rows}
        configs.append((label, acc, int(ref) - 1 if ref else len(configs) - 1))
    labels = sorted({n for _, acc, _ in configs for n, _ in acc})
    print("| configuration | " + " | ".join(f"{n} labels" for n in labels) + " |")
    print("|---|" + "---|" * len(labels))
    for i, (label, acc, ref) in enumerate(configs):
        cells = []
        for n in labels:
            mine = {s: a for (nn_, s), a in acc.items() if nn_ == n}
            if not mine:
                cells.append("not run")
                continue
            cell = f"{statistics.median(mine.values()):.3f} ({len(mine)} draws)"
            if i:
                prev = configs[ref][1]
                d = [a - prev[n, s] for s, a in mine.items() if (n, s) in prev]
                if d:
                    cell += (f", {100 * statistics.median(d):+.1f} "
                             f"({sum(x > 0 for x in d)} of {len(d)})")
            cells.append(cell)
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

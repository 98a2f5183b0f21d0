"""Reward against satisfaction: does a reward learned from behaviour find what users felt? (MTRec §2–3; restatement §5, "reward sanity checks"; docs/mtrec_method.md, "Reward against satisfaction").

On the clickbait world (:mod:`srsupm_lab.data.satisfaction_world`), where every interaction has a
true satisfaction and clickbait is clicked more but satisfies less, each model below gives every
held-out interaction a score, and the score is compared with the interaction's true satisfaction.

**Data.** Per seed, a world generated with that seed, split leave-one-out (``max_len``). A seeded
``heldout`` share of the users is held out: every model fits on the other users' training windows
(the click model selects its epoch on their validation windows), and is scored on the held-out
users' training windows (their interactions at steps ``1 .. n−3``, ``s'`` = the next such window,
the last one terminal). No test window is read, and nothing is chosen on the held-out users.

**Models** (the keys of :data:`MODELS`):

==========  ==============================================================================================
``qr_iql``  MTRec's reward: ``Q_λ`` (the backbone's architecture, N = 10) fitted by QR-IQL (Algorithm 1),
            scored by ``r*(s, a_P) = Q(s, a_P) − γ V*(s')`` (:class:`~srsupm_lab.methods.mtrec.reward_model.RewardModel`)
``iq_learn`` the paper's "IRL" ablation: the same with N = 1 and offline IQ-Learn
``click``   a reference: the backbone trained to predict the next click (the package's ordinary training,
            cross-entropy, early stopping); its score is ``log softmax`` of the logged item
``oracle``  the upper bound: the reward model's architecture regressing the true satisfaction of the fitting
            users' interactions (squared error, the same budget as stage 1); its score is ``Q(s, a_P)``
``random``  a floor: standard normal draws
``ceiling`` not a model: ``satisfaction_table[true motivation, item]``, the best any score of (motivation,
            item) can do against the realised satisfaction's noise
==========  ==============================================================================================

**Measures** per (model, seed): the Spearman rank correlation of the score with the true
satisfaction (:func:`scipy.stats.spearmanr`) over all held-out interactions, within clickbait
interactions and within the others, and ``auc_clickbait``: the probability that a normal
interaction scores above a clickbait one (ties half; 0.5 = no separation, 1 = every clickbait
interaction below every other).
"""
from __future__ import annotations

import contextlib
import io
import time

import numpy as np
import pandas as pd
import torch

from ..atomic import atomic_write_all
from ..backbones import build_backbone
from ..data.satisfaction_world import make_clickbait_world, window_satisfaction
from ..data.windows import leave_one_out
from ..methods.mtrec.reward_model import A_P, RewardModel, next_window_index, train_reward_model
from ..methods.none import BackboneRecommender
from ..threads import apply_thread_policy
from ..trainer import Trainer

__all__ = ["reward_satisfaction_table", "write_reward_satisfaction_report", "satisfaction_scores", "auc",
           "spearman", "MODELS", "BUDGET"]

MODELS = ("qr_iql", "iq_learn", "click", "oracle", "random", "ceiling")
#: the default budget: small (stage 1 and the oracle the same number of epochs; the click model to early stopping)
BUDGET = {"world": {}, "heldout": 0.2, "max_len": 20, "dim": 64, "backbone_options": {}, "reward_epochs": 10,
          "reward_lr": 1e-3, "batch_size": 256, "n_quantiles": 10, "click_epochs": 40, "click_patience": 3,
          "click_lr": 1e-3}
LABELS = {"qr_iql": "MTRec reward (QR-IQL, N=10)", "iq_learn": "IRL ablation (IQ-Learn, N=1)",
          "click": "click model (next-item CE, log softmax)", "oracle": "oracle regressor (true satisfaction)",
          "random": "random scores", "ceiling": "expected satisfaction (ceiling)"}


def spearman(x, y) -> float:
    """Spearman's rank correlation (:func:`scipy.stats.spearmanr`); NaN with fewer than 3 pairs."""
    from scipy.stats import spearmanr
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(spearmanr(x, y).statistic) if x.size >= 3 else float("nan")


def auc(scores, positive) -> float:
    """P(score of a positive > score of a negative), ties half (:func:`sklearn.metrics.roc_auc_score`); NaN
    when one class is empty."""
    from sklearn.metrics import roc_auc_score
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    if positive.all() or not positive.any():
        return float("nan")
    return float(roc_auc_score(positive, scores))


def satisfaction_scores(score, satisfaction, clickbait) -> dict:
    """The measures of the module doc for one model's scores of the held-out interactions."""
    score, sat, cb = (np.asarray(x) for x in (score, satisfaction, clickbait))
    if not (score.shape == sat.shape == cb.shape) or score.ndim != 1:
        raise ValueError(f"satisfaction_scores: score, satisfaction and clickbait must be 1-d of one length, got "
                         f"{score.shape}, {sat.shape}, {cb.shape}")
    cb = cb.astype(bool)
    return {"spearman": spearman(score, sat), "spearman_clickbait": spearman(score[cb], sat[cb]),
            "spearman_normal": spearman(score[~cb], sat[~cb]), "auc_clickbait": auc(score, ~cb),
            "n_eval": int(score.size), "n_clickbait": int(cb.sum())}


def _backbone(name, ds, b):
    return build_backbone(name, ds.n_items, n_users=ds.n_users, dim=b["dim"], max_len=b["max_len"],
                          **b["backbone_options"])


def _learned(objective: str):
    """Stage 1 (QR-IQL or IQ-Learn), scored by ``r*(s, a_P)`` on the held-out windows."""
    def fit(name, ds, fit_train, fit_valid, held, seed, b):
        torch.manual_seed(seed)
        model = RewardModel(_backbone(name, ds, b), n_quantiles=1 if objective == "iq_learn" else b["n_quantiles"])
        train_reward_model(model, fit_train, epochs=b["reward_epochs"], batch_size=b["batch_size"],
                           lr=b["reward_lr"], objective=objective, seed=seed)
        nxt = next_window_index(held.inputs, held.targets, held.users)
        return model.rewards(held, next_index=nxt)[:, 0, A_P].double().numpy()
    return fit


def _click(name, ds, fit_train, fit_valid, held, seed, b):
    """The backbone trained on next clicks (the Trainer, early stopping on the fitting users' validation)."""
    torch.manual_seed(seed)
    model = BackboneRecommender(_backbone(name, ds, b), loss="ce")
    trainer = Trainer(model, fit_train, fit_valid, epochs=b["click_epochs"], batch_size=b["batch_size"],
                      lr=b["click_lr"], patience=b["click_patience"], seed=seed, device="cpu", progress=False)
    with contextlib.redirect_stdout(io.StringIO()):
        trainer.fit()
    model.eval()
    with torch.no_grad():
        logp = torch.log_softmax(model.score(held.inputs, held.users)[:, 1:].double(), dim=1)   # (M, N)
    return logp.gather(1, (held.targets - 1)[:, None])[:, 0].numpy()


def _oracle(name, ds, fit_train, fit_valid, held, seed, b):
    """The reward model's architecture regressing the fitting users' true satisfaction; scored by ``Q(s, a_P)``."""
    torch.manual_seed(seed)
    model = RewardModel(_backbone(name, ds, b), n_quantiles=b["n_quantiles"])
    target = window_satisfaction(ds, fit_train)["satisfaction"].float()              # (M,)
    opt = torch.optim.Adam(model.parameters(), lr=b["reward_lr"])
    gen = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(b["reward_epochs"]):
        perm = torch.randperm(len(fit_train), generator=gen)
        for start in range(0, len(fit_train), b["batch_size"]):
            idx = perm[start:start + b["batch_size"]]
            q = model.q_values(model(fit_train.inputs[idx], fit_train.targets[idx, None], fit_train.users[idx]))
            loss = torch.nn.functional.mse_loss(q[:, 0, A_P], target[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        q = model.q_values(model(held.inputs, held.targets[:, None], held.users))    # (M, 1, 2)
    return q[:, 0, A_P].double().numpy()


def _random(name, ds, fit_train, fit_valid, held, seed, b):
    return np.random.default_rng(seed).standard_normal(len(held))


def _ceiling(name, ds, fit_train, fit_valid, held, seed, b):
    truth = window_satisfaction(ds, held)
    return ds.meta["satisfaction_table"][truth["motivation"].numpy(), held.targets.numpy()]


_SCORERS = {"qr_iql": _learned("qr_iql"), "iq_learn": _learned("iq_learn"), "click": _click, "oracle": _oracle,
            "random": _random, "ceiling": _ceiling}


def _parts(ds, max_len: int, heldout: float, seed: int):
    """``(fitting train windows, fitting validation windows, held-out users' training windows)`` (module doc)."""
    split = leave_one_out(ds, max_len=max_len)
    rng = np.random.default_rng(seed)
    held_users = torch.from_numpy(rng.permutation(ds.n_users)[:max(1, int(round(heldout * ds.n_users)))])
    held_tr = torch.isin(split.train.users, held_users)
    held_va = torch.isin(split.valid.users, held_users)
    return split.train.subset(~held_tr), split.valid.subset(~held_va), split.train.subset(held_tr)


def reward_satisfaction_table(seeds=(1, 2, 3), backbone: str = "sasrec", models=MODELS, **budget) -> pd.DataFrame:
    """One row per (model, seed): the measures of the module doc on the held-out interactions.

    ``budget`` overrides :data:`BUDGET` (``world``: options of the clickbait world, its seed being each seed).
    The frame's ``attrs["budget"]`` records what ran.
    """
    unknown = sorted(set(budget) - set(BUDGET))
    if unknown:
        raise ValueError(f"reward_satisfaction_table: unknown budget key(s) {unknown}; known: {sorted(BUDGET)}")
    bad = [m for m in models if m not in _SCORERS]
    if bad:
        raise ValueError(f"reward_satisfaction_table: unknown model(s) {bad}; known: {list(MODELS)}")
    if not 0.0 < float(budget.get("heldout", BUDGET["heldout"])) < 1.0:
        raise ValueError(f"reward_satisfaction_table: heldout must lie in (0, 1), got {budget['heldout']!r}")
    b = {**BUDGET, **budget}
    apply_thread_policy("small")
    rows = []
    for seed in seeds:
        ds = make_clickbait_world(**{**b["world"], "seed": int(seed)})
        fit_train, fit_valid, held = _parts(ds, b["max_len"], b["heldout"], int(seed))
        truth = window_satisfaction(ds, held)
        for m in models:
            t0 = time.perf_counter()
            score = _SCORERS[m](backbone, ds, fit_train, fit_valid, held, int(seed), b)
            rows.append({"model": m, "backbone": backbone, "seed": int(seed),
                         **satisfaction_scores(score, truth["satisfaction"].numpy(), truth["clickbait"].numpy()),
                         "seconds": round(time.perf_counter() - t0, 2)})
    table = pd.DataFrame(rows)
    table.attrs["budget"] = {k: v for k, v in b.items()}
    return table


def write_reward_satisfaction_report(df: pd.DataFrame, out_dir) -> dict:
    """``reward_satisfaction.csv`` (every row) and ``reward_satisfaction.md`` (mean ± sd over seeds per backbone
    and model) in ``out_dir``, written together atomically; returns their paths."""
    from pathlib import Path
    out = Path(out_dir)
    measures = ["spearman", "spearman_clickbait", "spearman_normal", "auc_clickbait"]
    lines = ["# Reward against satisfaction (the clickbait world)", "",
             "Each model's score of the held-out users' interactions against their true satisfaction "
             "(`srsupm_lab/analysis/reward_satisfaction.py`; the world: `srsupm_lab/data/satisfaction_world.py`). "
             "Spearman rank correlations, overall and within clickbait / normal interactions; `auc_clickbait`: the "
             "probability that a normal interaction scores above a clickbait one. Mean ± sd over seeds (n seeds). "
             "Regenerate (about 6 minutes on one thread): `python -m srsupm_lab reward-satisfaction --seeds 1 2 3 "
             "--backbones sasrec gru4rec --report reports/mtrec`.", ""]
    for bb, part in df.groupby("backbone", sort=False):
        lines += [f"## {bb}", "", "| model | n | " + " | ".join(measures) + " |",
                  "|---|---|" + "---|" * len(measures)]
        for m, rows in part.groupby("model", sort=False):
            cells = [f"{rows[c].mean():.3f} ± {rows[c].std(ddof=1) if len(rows) > 1 else 0.0:.3f}" for c in measures]
            lines.append(f"| {LABELS.get(m, m)} | {len(rows)} | " + " | ".join(cells) + " |")
        lines += ["", f"Held-out interactions per seed: {int(part['n_eval'].mean())} "
                      f"({int(part['n_clickbait'].mean())} clickbait).", ""]
    if df.attrs.get("budget"):
        lines += ["Budget: `" + ", ".join(f"{k}={v}" for k, v in df.attrs["budget"].items()) + "`", ""]
    paths = {"csv": out / "reward_satisfaction.csv", "md": out / "reward_satisfaction.md"}
    atomic_write_all([(paths["csv"], lambda tmp: df.to_csv(tmp, index=False, float_format="%.6g")),
                      (paths["md"], lambda tmp: Path(tmp).write_text("\n".join(lines), encoding="utf-8"))])
    return paths

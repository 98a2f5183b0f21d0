"""Policy metrics of a trained recommender: AUC and NCIS (MTRec §5, Table 1; mtrec.md §5), satisfaction@k.

Per test user, on a model's best weights (``docs/mtrec_method.md`` §7, row 7, gives the readings and why):

* **AUC, full candidates** (``auc``): ``P(score(target) > score(j))`` over every candidate ``j`` the
  full ranking scores (:func:`srsupm_lab.evaluate.target_ranks`: items ``1..N``, the user's history
  removed when ``mask_history``, the target kept; ties count against the model). With ``n`` candidates
  (the target included) and the 1-based rank ``r``, ``AUC = (n − r) / (n − 1)``. It is the expectation
  of the sampled-negatives AUC below over the draw of the negatives (each negative is one of the same
  ``n − 1`` items, each equally likely), without its sampling noise.
* **AUC, sampled** (``auc_sampled``): the paper's protocol flavour, the target against ``n_negatives``
  (100) distinct items drawn uniformly, seeded, from the same candidates
  (:func:`srsupm_lab.analysis.cold_start.sampled_ranks`): ``1 − #{j : s_j ≥ s_target} / n_negatives``.
* **NCIS** (normalised capped importance sampling). The paper gives ``ρ_u(M) = Π_t p_t(M)`` along the
  user's logged trajectory and reports ``NCIS(trained) − NCIS(untrained)``; its cap and normalisation
  are not given (mtrec.md §6 item 7). Our reading: the trajectory is the user's last ``steps`` logged
  steps (default 2: her validation and test targets, never trained on), each predicted from her true
  prefix (the last ``max_len`` items before it); ``p_t`` is the model's softmax probability of the
  logged item over items ``1..N`` (no masking: the policy's own distribution); the logging policy is
  proxied by the training popularity ``μ_i = (c_i + 1) / (Σ c + N)`` (``c_i``: times item ``i`` is a
  training target, add-one smoothed). Per user ``log w_u = Σ_t log(p_t / μ_t)`` (``log_w``; stored
  uncapped, so any cap can be applied later) and ``w_u = min(c, exp log w_u)``, ``c`` = :data:`NCIS_CAP`.
  Where the data carry a per-step reward ``R`` (``meta["satisfaction"]``, else the expected
  ``meta["satisfaction_table"][motivation, item]``), ``R_u`` = its mean along the trajectory and
  ``NCIS = Σ_u w_u R_u / Σ_u w_u`` (self-normalised). Without one (Beauty: every logged item is a
  positive, ``R ≡ 1``) that ratio is 1 for every model, so we report the capped mean weight
  ``(1/U) Σ_u w_u``: how much more likely than the logging proxy the model is to follow the users'
  logged trajectories, the quantity the paper says NCIS grows with. The untrained model is the same
  config at initialisation (the weights the run started from).
* **satisfaction@k** where the data carry the ground truth (``meta["satisfaction_table"]``
  ``[n_motivations, N + 1]``, ``meta["motivation"]`` per user aligned with her sequence): the mean of
  ``satisfaction_table[m, i]`` over the top-``k`` recommended items ``i`` (history masked as in the
  evaluation), ``m`` = her motivation at her test step; ``clickbait@k``: the share of items with
  ``meta["clickbait"][i]`` in that top ``k``.

Everything is batched over users (index arithmetic for the trajectories, no loop over users).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from ..evaluate import target_ranks
from ..families.protocol import Batch
from .cold_start import sampled_ranks

__all__ = ["NCIS_CAP", "NCIS_STEPS", "full_auc", "popularity", "trajectory_rows", "trajectory_log_weights",
           "capped_weights", "ncis", "top_k_truth", "policy_metrics", "policy_summary"]

#: the cap ``c`` of a trajectory's weight: with the default 2 steps, a model 10x as likely as the logging
#: proxy at each step reaches it (the paper does not give its cap)
NCIS_CAP = 100.0
#: the trajectory: the user's last logged steps (2: her validation and test targets)
NCIS_STEPS = 2


def full_auc(scores: torch.Tensor, targets: torch.Tensor, history: torch.Tensor | None = None):
    """``(auc, n_candidates, rank)`` per user [U]: AUC over the full ranking's candidates (module doc);
    ``rank`` is :func:`~srsupm_lab.evaluate.target_ranks`'s 0-based rank."""
    rank = target_ranks(scores, targets, history)                                      # (U,)
    ranked = torch.ones_like(scores, dtype=torch.bool)                                 # (U, N+1)
    ranked[:, 0] = False
    if history is not None:
        ranked.scatter_(1, history.to(scores.device).long(), False)
    ranked[torch.arange(scores.shape[0], device=scores.device), targets.to(scores.device)] = True
    n = ranked.sum(dim=1)                                                              # (U,) target included
    auc = (n - 1 - rank).double() / (n - 1).clamp_min(1).double()
    return auc, n, rank


def popularity(train_targets: torch.Tensor, n_items: int) -> torch.Tensor:
    """The logging-policy proxy ``μ [N + 1]`` (float64): add-one smoothed training-target frequency; ``μ_0 = 0``."""
    counts = torch.bincount(torch.as_tensor(train_targets).long().cpu(), minlength=n_items + 1)[:n_items + 1].double()
    counts[0] = 0.0
    mu = (counts + 1.0) / (counts.sum() + n_items)
    mu[0] = 0.0
    return mu


def trajectory_rows(dataset, users, steps: int, max_len: int) -> dict:
    """The last ``steps`` logged steps of each user (positions ``t ≥ 1``), each with her true prefix.

    Returns numpy arrays: ``row [R]`` (index into ``users``), ``position [R]`` (0-based in her sequence),
    ``flat_index [R]`` (into ``np.concatenate`` of the users' sequences, for per-step meta), ``inputs
    [R, max_len]`` (left-padded prefix), ``targets [R]``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"policy metrics: steps must be a positive integer, got {steps!r}")
    seqs = [np.asarray(dataset.sequences[u], dtype=np.int64) for u in np.asarray(users)]
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    flat = np.concatenate(seqs)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    k = np.minimum(steps, lens - 1)                                                    # (U,) steps per user
    row = np.repeat(np.arange(len(seqs)), k)                                           # (R,)
    j = np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)                       # (R,) 0..k-1
    position = lens[row] - k[row] + j                                                  # (R,)
    at = starts[row] + position                                                        # (R,) in flat
    cols = at[:, None] + np.arange(-max_len, 0)[None, :]                               # (R, L)
    inputs = np.where(cols >= starts[row][:, None], flat[np.clip(cols, 0, None)], 0)
    return {"row": row, "position": position, "flat_index": at, "inputs": inputs, "targets": flat[at]}


def _score(model, inputs: torch.Tensor, users: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
    batch = Batch(inputs=inputs, users=users)
    if context is not None:
        batch["context"] = context                                  # an oracle reads it; others ignore it
    return model.score(batch)


@torch.no_grad()
def trajectory_log_weights(model, traj: dict, users, mu: torch.Tensor, context=None,
                           batch_size: int = 1024) -> np.ndarray:
    """``log w_u = Σ_t [log softmax(scores)_{i_t} − log μ_{i_t}]`` per user (float64 [U]) over ``traj``
    (:func:`trajectory_rows`); ``context [R]`` only for a model that reads it."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    users = torch.as_tensor(np.asarray(users)).long()
    inputs, targets = torch.from_numpy(traj["inputs"]), torch.from_numpy(traj["targets"])
    row = torch.from_numpy(traj["row"])
    parts = []
    try:
        for s in range(0, len(targets), batch_size):
            sl = slice(s, s + batch_size)
            ctx = None if context is None else torch.as_tensor(context[sl]).to(device)
            scores = _score(model, inputs[sl].to(device), users[row[sl]].to(device), ctx).float()
            logp = torch.log_softmax(scores[:, 1:], dim=1)                             # (B, N) over items 1..N
            parts.append(logp.gather(1, (targets[sl].to(device) - 1)[:, None])[:, 0].double().cpu())
    finally:
        model.train(was_training)
    step = torch.cat(parts) - mu.log()[targets]                                        # (R,) log p_t − log μ_t
    return np.bincount(traj["row"], weights=step.numpy(), minlength=len(users))


def capped_weights(log_w, cap: float = NCIS_CAP) -> np.ndarray:
    """``w_u = min(c, exp log w_u)`` (no overflow)."""
    if not cap > 0:
        raise ValueError(f"policy metrics: the NCIS cap must be > 0, got {cap!r}")
    return np.minimum(cap, np.exp(np.minimum(np.asarray(log_w, dtype=np.float64), math.log(cap))))


def ncis(log_w, reward=None, cap: float = NCIS_CAP) -> float:
    """NCIS of one model: ``Σ w R / Σ w`` with a per-user return ``reward``, else the capped mean weight."""
    w = capped_weights(log_w, cap)
    if reward is None:
        return float(w.mean())
    reward = np.asarray(reward, dtype=np.float64)
    return float((w * reward).sum() / w.sum())


def top_k_truth(scores: torch.Tensor, history: torch.Tensor | None, k: int, table: np.ndarray,
                motivation: np.ndarray, clickbait=None):
    """``(satisfaction@k [U], clickbait@k [U] or None)``: the top-``k`` items (padding and, with ``history``,
    seen items left out) looked up in ``table[motivation_u, item]`` and ``clickbait[item]``."""
    s = scores.float().nan_to_num(nan=float("-inf")).clone()
    s[:, 0] = float("-inf")
    if history is not None:
        s.scatter_(1, history.to(s.device).long(), float("-inf"))
    top = s.topk(k, dim=1).indices.cpu().numpy()                                       # (U, k)
    sat = np.asarray(table, dtype=np.float64)[np.asarray(motivation)[:, None], top].mean(axis=1)
    bait = None if clickbait is None else np.asarray(clickbait, dtype=np.float64)[top].mean(axis=1)
    return sat, bait


def _flat_meta(meta: dict, key: str, users) -> np.ndarray | None:
    values = meta.get(key)
    return None if values is None else np.concatenate([np.asarray(values[u]) for u in np.asarray(users)])


@torch.no_grad()
def policy_metrics(model, dataset, split, untrained=None, *, mask_history: bool = True, steps: int = NCIS_STEPS,
                   n_negatives: int = 100, seed: int = 0, k: int = 10, batch_size: int = 1024) -> pd.DataFrame:
    """One row per test user of ``split.test``: ``user``, ``n_candidates``, ``rank`` (0-based, full ranking),
    ``auc``, ``auc_sampled``, ``steps``, ``log_w`` (and ``log_w_untrained`` with ``untrained``, the same
    config at initialisation), ``reward`` where the data carry one, ``satisfaction@k`` and ``clickbait@k``
    where they carry the ground truth (module doc)."""
    meta = dataset.meta if isinstance(getattr(dataset, "meta", None), dict) else {}
    test = split.test
    users = test.users.numpy()
    device = next(model.parameters()).device
    table = meta.get("satisfaction_table")
    flat_motivation = None if table is None else _flat_meta(meta, "motivation", users)
    motivation = None                                                                  # (U,) at her test step
    if flat_motivation is not None:
        motivation = flat_motivation[np.cumsum(dataset.lengths()[users]) - 1]
    gen = torch.Generator().manual_seed(seed)
    cols = {name: [] for name in ("auc", "n", "rank", "sampled", "sat", "bait")}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(test), batch_size):
            part = test.subset(slice(start, start + batch_size))
            ctx = None if part.context is None else part.context.to(device)
            scores = _score(model, part.inputs.to(device), part.users.to(device), ctx).cpu()
            history = part.history if mask_history else None
            auc, n, rank = full_auc(scores, part.targets, history)
            hist = history if history is not None else torch.zeros(len(part), 1, dtype=torch.long)
            for name, value in (("auc", auc), ("n", n), ("rank", rank)):
                cols[name].append(value)
            try:
                sampled = sampled_ranks(scores, part.targets, hist, n_negatives, gen)
            except ValueError as err:                   # a user with fewer unseen items than n_negatives
                raise ValueError(f"policy metrics (sampled AUC): {str(err).removeprefix('cold start: ')}") from None
            cols["sampled"].append(1.0 - sampled.double() / n_negatives)
            if motivation is not None:
                sat, bait = top_k_truth(scores, history, k, table, motivation[start:start + batch_size],
                                        meta.get("clickbait"))
                cols["sat"].append(sat)
                cols["bait"].append(bait)
    finally:
        model.train(was_training)
    out = pd.DataFrame({"user": users, "n_candidates": torch.cat(cols["n"]).numpy(),
                        "rank": torch.cat(cols["rank"]).numpy(), "auc": torch.cat(cols["auc"]).numpy(),
                        "auc_sampled": torch.cat(cols["sampled"]).numpy()})
    traj = trajectory_rows(dataset, users, steps, test.inputs.shape[1])
    mu = popularity(split.train.targets, dataset.n_items)
    switch = _flat_meta(meta, "switch", users)
    context = None if switch is None else switch[traj["flat_index"]].astype(np.int64)
    out["steps"] = np.bincount(traj["row"], minlength=len(users))
    out["log_w"] = trajectory_log_weights(model, traj, users, mu, context, batch_size)
    if untrained is not None:
        out["log_w_untrained"] = trajectory_log_weights(untrained, traj, users, mu, context, batch_size)
    reward = _flat_meta(meta, "satisfaction", users)
    if reward is not None:
        step_reward = reward[traj["flat_index"]].astype(np.float64)
    elif flat_motivation is not None:
        step_reward = np.asarray(table, dtype=np.float64)[flat_motivation[traj["flat_index"]], traj["targets"]]
    else:
        step_reward = None
    if step_reward is not None:
        out["reward"] = np.bincount(traj["row"], weights=step_reward, minlength=len(users)) / out["steps"]
    if motivation is not None:
        out[f"satisfaction@{k}"] = np.concatenate(cols["sat"])
        if meta.get("clickbait") is not None:
            out[f"clickbait@{k}"] = np.concatenate(cols["bait"])
    return out


def policy_summary(table: pd.DataFrame, cap: float = NCIS_CAP) -> dict:
    """One model's figures from :func:`policy_metrics`'s rows: ``users``, ``auc``, ``auc_sampled``, ``ncis``
    (and ``ncis_untrained``, ``ncis_gain`` = trained − untrained, the paper's report), ``weight`` (the
    capped mean weight), ``capped`` (the share of users at the cap), the ``satisfaction@k`` / ``clickbait@k``
    means where present."""
    reward = table["reward"].to_numpy() if "reward" in table else None
    out = {"users": len(table), "auc": float(table["auc"].mean()), "auc_sampled": float(table["auc_sampled"].mean()),
           "weight": float(capped_weights(table["log_w"], cap).mean()),
           "capped": float((table["log_w"] >= math.log(cap)).mean()), "ncis": ncis(table["log_w"], reward, cap)}
    if "log_w_untrained" in table:
        out["ncis_untrained"] = ncis(table["log_w_untrained"], reward, cap)
        out["ncis_gain"] = out["ncis"] - out["ncis_untrained"]
    for name in table.columns:
        if name.startswith(("satisfaction@", "clickbait@")):
            out[name] = float(table[name].mean())
    return out

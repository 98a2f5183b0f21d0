"""Is SRSUPM's mechanism engaged? Five numbers measured every epoch (method.md §5–§9).

A plug-in whose parts do nothing trains like its backbone with a few more layers. Each number
below asks one part whether it does its job, on a fixed sample of validation windows (and one
training batch for the gradients), with the model in evaluation mode and no state changed:

* ``alpha_info`` — nats of the PMSA level that the shift distribution α (Eq. 9) carries beyond
  the level frequencies (:func:`srsupm_lab.analysis.branches.level_information`, which recalibrates α's
  scale and bias first); ``alpha_info_share`` divides it by the level entropy (1 = α determines
  the level). PMSID's job (§5) is to make this large.
* ``beta_entropy`` — the mean entropy of the per-item mixture weights β (Eq. 19) over every
  scored item, divided by log K: 1 means β is uniform and the mixture is mean pooling (the
  "w/o PMI" ablation); lower means the mixture picks branches per item (§8).
* ``branch_cosine`` — the mean cosine between the K shift representations ẑ_k of a window (off
  the diagonal): near 1, the K branches say the same thing (collapse, §3).
* ``pmsim_chance`` — log B, the InfoNCE loss of a model that cannot tell the partner from the
  B−1 in-batch negatives; the epoch's ``loss_pmsim`` beside it says whether PMSIM learns (§7).
  With same-user negatives masked (``same_user_negatives="mask"``, the one-pass default) it is
  the mean over anchors of log(the columns left in the denominator).
* ``grad_<term>`` — the share of each weighted loss term of Eq. 24 in the gradient that reaches
  Ẑ on one training batch, ‖∂(w·L_term)/∂Ẑ‖ / Σ ‖∂(w·L)/∂Ẑ‖: which term actually shapes the
  shift representations (a term with a share near 0 is switched on in name only).

:func:`measure` computes them for a model; the trainer records them in ``history.csv`` as
``eng_*`` columns; :func:`srsupm_lab.analysis.diagnose.diagnose` measures them on a finished run folder
(CLI ``diagnose``).
"""
from __future__ import annotations

import math

import torch

from .branch_stats import branch_similarity, level_information

__all__ = ["measure", "gradient_shares", "beta_entropy", "branch_cosine", "validation_sample", "ENGAGED",
           "is_engaged"]

#: The thresholds at which the package calls the mechanism engaged (used by the screening):
#: α carries at least 5 % of the level entropy, and L_PMSIM sits at least 0.25 nats below log B.
ENGAGED = {"alpha_info_share": 0.05, "pmsim_below_chance": 0.25}


def validation_sample(n_windows: int, size: int = 2048, seed: int = 0) -> torch.Tensor:
    """A fixed random subset (at most ``size``) of ``n_windows`` rows, the same every epoch."""
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_windows, generator=g)[:size].sort().values


def branch_cosine(Z: torch.Tensor) -> float:
    """Mean off-diagonal cosine between the K rows of each window's Ẑ (M, K, d) (:func:`branch_similarity`)."""
    sim = branch_similarity(Z)                                                    # (K, K), float64
    K = sim.shape[0]
    return float((sim.sum() - sim.trace()) / (K * (K - 1)))


def beta_entropy(Z: torch.Tensor, E: torch.Tensor, scale: float, block: int = 128) -> float:
    """Mean entropy of β_{u,i,·} = softmax_k(⟨e_i, ẑ_k⟩·scale) over windows u and all items i, / log K."""
    K = Z.shape[1]
    total, count = 0.0, 0
    for start in range(0, Z.shape[0], block):                                   # blocks bound the (b, K, N) memory
        logits = torch.einsum("bkd,nd->bkn", Z[start:start + block].float(), E.float()) * float(scale)
        logp = torch.log_softmax(logits, dim=1)                                  # (b, K, N)
        total += float(-(logp.exp() * logp).sum(dim=1).sum())
        count += logits.shape[0] * logits.shape[2]
    return total / max(count, 1) / math.log(K)


def gradient_shares(terms: dict, weights: dict, views: torch.Tensor) -> dict[str, float]:
    """Share of each weighted term in the gradient reaching ``views`` (Ẑ): ``{name: share}``, summing to 1."""
    norms = {}
    for name, value in terms.items():
        w = float(weights.get(name, 1.0))
        if w == 0.0 or not value.requires_grad:
            norms[name] = 0.0
            continue
        (g,) = torch.autograd.grad(w * value, views, retain_graph=True, allow_unused=True)
        norms[name] = 0.0 if g is None else float(g.double().norm())
    total = sum(norms.values())
    return {name: (n / total if total > 0 else 0.0) for name, n in norms.items()}


def measure(model, windows, levels: torch.Tensor, batch: dict | None = None, sample: torch.Tensor | None = None,
            batch_size: int = 1024) -> dict[str, float]:
    """The engagement numbers (module doc) of an SRSUPM ``model`` on validation ``windows`` with PMSA ``levels``.

    ``sample`` selects the windows (default :func:`validation_sample`); ``batch`` (a training batch
    as the trainer builds it) adds the ``grad_*`` shares. A batch of one-pass rows (a ``[R, L]``
    target matrix: R rows drawn where a per-window run draws R windows) is cut to its first rows
    holding about R targets (:func:`one_pass_batch`), so that both measure on about as many windows.
    The model's mode, its PMSIM confidence cache and every RNG state are left as they were.
    """
    if sample is None:
        sample = validation_sample(len(windows))
    device = next(model.parameters()).device
    inputs, users = windows.inputs[sample].to(device), windows.users[sample].to(device)
    targets, lv = windows.targets[sample].to(device), torch.as_tensor(levels)[sample].long()
    Z = torch.cat([model.shift_representations(inputs[s:s + batch_size], users[s:s + batch_size])
                   for s in range(0, inputs.shape[0], batch_size)])                # (M, K, d), eval mode
    E_all = model.backbone.item_table().detach()
    scales = model.temperatures.scales()
    alpha = torch.softmax(torch.einsum("mkd,md->mk", Z, E_all[targets]) * scales["alpha"], dim=1)
    info = level_information(alpha.cpu(), lv)
    out = {"alpha_info": info["information"],
           "alpha_info_share": info["information"] / info["entropy"] if info["entropy"] > 0 else 0.0,
           "alpha_own": float(alpha.cpu().gather(1, lv.unsqueeze(1)).mean()),
           "beta_entropy": beta_entropy(Z, E_all[1:], scales["beta"]),
           "branch_cosine": branch_cosine(Z)}
    if batch is not None:
        was_training = model.training
        model.eval()                                       # no dropout: the gradient of the model itself
        try:
            with torch.random.fork_rng(devices=[]):        # PMSIM's partner draw must not move the RNG
                batch = one_pass_batch(batch)
                terms, views = model.loss_terms(batch, refresh=False)
                out.update({f"grad_{k}": v for k, v in gradient_shares(terms, model.weights, views).items()})
                if "pmsim" in terms:
                    out["pmsim_chance"] = pmsim_chance(model, batch)
        finally:
            model.train(was_training)
    return out


def one_pass_batch(batch: dict) -> dict:
    """A batch of one-pass rows (``targets [R, L]``) cut to its first rows holding at least R targets
    (R = its number of rows: the trainer draws ``batch_size`` of them); a per-window batch as it is."""
    if batch["targets"].dim() != 2:
        return batch
    R = batch["targets"].shape[0]
    counts = (batch["targets"] != 0).sum(dim=1).cumsum(dim=0)                   # (R,)
    n = min(int(torch.searchsorted(counts, torch.tensor(R, device=counts.device))) + 1, R)
    return {name: t[:n] for name, t in batch.items()}


def pmsim_chance(model, batch: dict) -> float:
    """The chance value of L_PMSIM on ``batch``: the mean over its anchors of log(the columns of the
    InfoNCE denominator): log B per window; less where same-user negatives are masked."""
    if batch["targets"].dim() == 2:                                             # one-pass rows: the target cells
        index = model.batch_windows(batch)
    else:
        index = batch.get("index")
        if index is None or model.matching.same_user_negatives == "keep":
            return math.log(batch["inputs"].shape[0])
    return float(model.matching.candidates(index).double().log().mean())


def is_engaged(row: dict) -> bool:
    """True when α informs about the level and L_PMSIM is clearly below chance (``ENGAGED``)."""
    share = row.get("eng_alpha_info_share", row.get("alpha_info_share"))
    pmsim, chance = row.get("loss_pmsim"), row.get("eng_pmsim_chance", row.get("pmsim_chance"))
    if share is None or pmsim is None or chance is None or any(map(_nan, (share, pmsim, chance))):
        return False
    return share >= ENGAGED["alpha_info_share"] and chance - pmsim >= ENGAGED["pmsim_below_chance"]


def _nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)

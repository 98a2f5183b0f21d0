"""The mental reward network Q_λ, its rewards r* and its stage-1 fit (MTRec Algorithms 1–2; mtrec_method.md §1, §3, §5).

**The network.** ``Q_λ`` is built over its *own* backbone (the recommender's architecture, separate
weights): the backbone encodes the history, the candidate item joins it (option ``state``), and an
MLP on ``[h, e_i, h ⊙ e_i]`` outputs ``|A| × N`` atoms ``λ_j(s, a)``, ``A = {a_P, a_N}`` (index
:data:`A_P` = 0, :data:`A_N` = 1). ``Q(s, a) = mean_j λ_j(s, a)``, ``V*(s) = T · logsumexp_a
Q(s, a) / T`` (``T = 1``: the paper's formulas), ``r*(s, a) = Q(s, a) − γ V*(s')``.

``state`` (how ``s = (h, i)`` is fed; the paper does not say):

* ``"pair"`` (default): ``h = Enc(history)`` once per window, ``e_i`` = the network's own embedding
  of the candidate; one encoder pass serves every candidate of a window.
* ``"append"``: ``h = Enc(history + [i])``, the candidate appended as the newest item (the oldest
  dropped when the window is full); one encoder pass per (window, candidate).

**Transitions in a next-item log** (the paper does not say; mtrec_method.md §1). A training window
``m`` (history ``h_t``, target ``i_t``) with candidates ``[i_t, j_1..j_K]`` (the target, then K
negatives: items the user did not take) gives ``1 + K`` logged transitions:

* the target: ``s = (h_t, i_t)``, ``a = a_P``, ``s' = (h_{t+1}, i_{t+1})`` = the same user's next
  window (:func:`next_window_index`); terminal when there is none (her last training window).
  ``terminal="zero"`` (default, IQ-Learn) sets ``V*(s') = 0`` there; ``"self"`` treats the split's
  end as a truncation and uses ``V*(s)`` instead.
* a negative ``j``: ``s = (h_t, j)``, ``a = a_N``. ``negative_next`` picks ``s'``:
  ``"positive"`` (default): ``s' = (h_t, i_t)``: a window holds only taken items, so a skip leaves
  the history as it was, and the next thing the log shows is the user taking ``i_t``;
  ``"logged_next"``: the target's ``s'`` (the log's next state, the action ignored);
  ``"terminal"``: ``V*(s') = 0`` (a one-step episode).

The counterfactual reward of a state uses that state's ``s'`` for both actions, so
``r*(s, a_P) − r*(s, a_N) = Q(s, a_P) − Q(s, a_N)`` whatever the reading of ``s'``.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from ...backbones.base import Backbone
from .iql import GAMMA, iq_learn_loss, qr_iql_loss

A_P, A_N = 0, 1
STATES = ("pair", "append")
NEGATIVE_NEXT = ("positive", "logged_next", "terminal")
TERMINALS = ("zero", "self")
OBJECTIVES = ("qr_iql", "iq_learn")
BATCHES = ("windows", "users")


class RewardModel(nn.Module):
    """``Q_λ``: a backbone of its own + an MLP head with ``2 × n_quantiles`` outputs (see module doc).

    ``monotone=True`` makes the heads ascend in ``j`` (first atom + cumulative softplus steps); the
    paper does not say whether they are constrained (default False, as in QR-DQN).
    """

    def __init__(self, backbone: Backbone, n_quantiles: int = 10, hidden: int | None = None,
                 gamma: float = GAMMA, temperature: float = 1.0, state: str = "pair",
                 negative_next: str = "positive", terminal: str = "zero", monotone: bool = False):
        super().__init__()
        if not isinstance(backbone, Backbone):
            raise TypeError(f"RewardModel needs its own Backbone instance, got {type(backbone).__name__}")
        for value, allowed, name in ((state, STATES, "state"), (negative_next, NEGATIVE_NEXT, "negative_next"),
                                     (terminal, TERMINALS, "terminal")):
            if value not in allowed:
                raise ValueError(f"RewardModel: {name} must be one of {allowed}, got {value!r}")
        if not (0 <= gamma <= 1) or temperature <= 0 or int(n_quantiles) < 1:
            raise ValueError("RewardModel: need 0 <= gamma <= 1, temperature > 0, n_quantiles >= 1")
        self.backbone = backbone
        self.n_quantiles = int(n_quantiles)
        self.gamma, self.temperature = float(gamma), float(temperature)
        self.state, self.negative_next, self.terminal = state, negative_next, terminal
        self.monotone = bool(monotone)
        d = backbone.dim
        hidden = d if hidden is None else int(hidden)
        self.head = nn.Sequential(nn.Linear(3 * d, hidden), nn.ReLU(), nn.Linear(hidden, 2 * self.n_quantiles))

    def forward(self, inputs: torch.Tensor, items: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """Atoms ``λ [B, C, 2, N]`` of the states ``(window b, candidate items[b, c])``; ``items [B, C]``."""
        B, C = items.shape
        if self.state == "pair":
            h = self.backbone.encode(inputs, users)[:, None].expand(B, C, -1)       # (B, C, d)
        else:
            seq = torch.cat([inputs[:, None, 1:].expand(B, C, -1), items[..., None]], dim=2)  # (B, C, L)
            rep = None if users is None else users.repeat_interleave(C)              # (B*C,)
            h = self.backbone.encode(seq.reshape(B * C, -1), rep).view(B, C, -1)      # (B, C, d)
        e = self.backbone.item_table()[items]                                        # (B, C, d)
        raw = self.head(torch.cat([h, e, h * e], dim=-1)).view(B, C, 2, self.n_quantiles)  # (B, C, 2, N)
        if not self.monotone:
            return raw
        steps = F.softplus(raw[..., 1:]).cumsum(dim=-1)                              # (B, C, 2, N-1)
        return torch.cat([raw[..., :1], raw[..., :1] + steps], dim=-1)               # (B, C, 2, N)

    @staticmethod
    def q_values(atoms: torch.Tensor) -> torch.Tensor:
        """``Q(s, a) = mean_j λ_j(s, a)``: ``[..., 2, N] -> [..., 2]`` (uniform mass 1/N per atom)."""
        return atoms.mean(dim=-1)

    def soft_value(self, q: torch.Tensor) -> torch.Tensor:
        """``V*(s) = T · logsumexp_a Q(s, a) / T``: ``[..., 2] -> [...]``."""
        return self.temperature * torch.logsumexp(q / self.temperature, dim=-1)

    def transition_values(self, v: torch.Tensor, v_next_pos: torch.Tensor, has_next: torch.Tensor):
        """``(V*(s') [b, C], terminal [b, C])`` for the candidates of ``b`` windows (readings: module doc).

        ``v [b, C]``: ``V*`` of the windows' states (column 0 = the target); ``v_next_pos [b]``: ``V*``
        of each window's next window's target state (any value where ``has_next [b]`` is False).
        """
        b, C = v.shape
        if self.terminal == "self":
            pos_next = torch.where(has_next, v_next_pos, v[:, 0])                    # (b,)
            pos_term = torch.zeros_like(has_next)                                    # (b,)
        else:
            pos_next, pos_term = v_next_pos, ~has_next                               # (b,), (b,)
        if self.negative_next == "positive":
            neg_next = v[:, :1].expand(b, C - 1)                                     # (b, K)
            neg_term = torch.zeros(b, C - 1, dtype=torch.bool, device=v.device)      # (b, K)
        elif self.negative_next == "logged_next":
            neg_next, neg_term = pos_next[:, None].expand(b, C - 1), pos_term[:, None].expand(b, C - 1)
        else:
            neg_next = torch.zeros(b, C - 1, dtype=v.dtype, device=v.device)         # (b, K)
            neg_term = torch.ones(b, C - 1, dtype=torch.bool, device=v.device)       # (b, K)
        return (torch.cat([pos_next[:, None], neg_next], dim=1),                     # (b, C)
                torch.cat([pos_term[:, None], neg_term], dim=1))                     # (b, C)

    def _next_target_values(self, data: dict, nxt: torch.Tensor) -> torch.Tensor:
        """``V*`` of the target states of windows ``nxt [b]`` (clamped; masked later): ``[b]``."""
        nxt = nxt.clamp(min=0)
        users = None if data["users"] is None else data["users"][nxt]
        atoms = self(data["inputs"][nxt], data["targets"][nxt][:, None], users)      # (b, 1, 2, N)
        return self.soft_value(self.q_values(atoms))[:, 0]                           # (b,)

    @torch.no_grad()
    def rewards(self, windows, next_index: torch.Tensor | None = None, negatives: torch.Tensor | None = None,
                batch_size: int = 1024) -> torch.Tensor:
        """``r*(s, a)`` for every window's target and negatives: ``[M, 1 + K, 2]`` (Algorithm 2, line 3).

        Column 0 of axis 1 is the state ``(h_t, i_t)``, columns ``1..K`` the states ``(h_t, j_k)`` of
        ``negatives [M, K]``; the last axis is ``[a_P, a_N]``. Batched passes in eval mode, no grad.
        """
        data = _window_tensors(windows, next_index)
        items = data["targets"][:, None] if negatives is None else torch.cat([data["targets"][:, None], negatives], 1)
        was_training = self.training
        self.eval()
        try:
            M = items.shape[0]
            q = torch.cat([self.q_values(self(data["inputs"][i:i + batch_size], items[i:i + batch_size],
                                              None if data["users"] is None else data["users"][i:i + batch_size]))
                           for i in range(0, M, batch_size)])                        # (M, C, 2)
            v = self.soft_value(q)                                                   # (M, C)
            nxt = data["next_index"]
            v_next, term = self.transition_values(v, v[nxt.clamp(min=0), 0], nxt >= 0)  # (M, C), (M, C)
            v_next = torch.where(term, torch.zeros_like(v_next), v_next)             # (M, C)
            return q - self.gamma * v_next[..., None]                                # (M, C, 2)
        finally:
            self.train(was_training)


def next_window_index(inputs: torch.Tensor, targets: torch.Tensor, users: torch.Tensor,
                      check: bool = True) -> torch.Tensor:
    """Index of each window's next window (same user, one step later), −1 where none: ``[M]``.

    Assumes the order of :func:`srsupm_lab.data.windows.leave_one_out`: a user's windows are
    contiguous and in time order. ``check`` verifies that the next window's newest item is this
    window's target (a ValueError otherwise).
    """
    M = users.shape[0]
    idx = torch.arange(M, device=users.device)                                       # (M,)
    same = torch.zeros(M, dtype=torch.bool, device=users.device)                     # (M,)
    same[:-1] = users[1:] == users[:-1]
    nxt = torch.where(same, idx + 1, torch.full_like(idx, -1))                       # (M,)
    if check and bool((inputs[nxt[same], -1] != targets[same]).any()):
        raise ValueError("next_window_index: a user's consecutive windows do not follow each other "
                         "(windows must be grouped by user, in time order, as leave_one_out makes them)")
    return nxt


def sample_negatives(targets: torch.Tensor, n_items: int, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` items per row drawn uniformly from the items other than the target: ``[M, k]``."""
    if n_items < 2:
        raise ValueError("sample_negatives: need at least 2 items")
    offset = torch.randint(1, n_items, (targets.shape[0], k), generator=generator)   # (M, k) in 1..n-1
    return (targets[:, None] - 1 + offset.to(targets.device)) % n_items + 1           # (M, k), never the target


def _window_tensors(windows, next_index=None) -> dict:
    """``inputs, targets, users, next_index`` of a ``Windows`` (or a mapping with those keys)."""
    get = windows.get if isinstance(windows, Mapping) else (lambda k: getattr(windows, k, None))
    data = {"inputs": get("inputs"), "targets": get("targets"), "users": get("users")}
    if next_index is None:
        next_index = get("next_index")
    if next_index is None:
        next_index = next_window_index(data["inputs"], data["targets"], data["users"])
    data["next_index"] = next_index
    return data


def user_batches(users: torch.Tensor, batch_size: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Window indices in batches of whole users: ``[idx_b]``, each a user's windows kept together and in order.

    The users (contiguous runs of ``users [M]``, as :func:`srsupm_lab.data.windows.leave_one_out` makes
    them) are shuffled by ``generator``; a user joins the batch in which her first window would fall
    when the shuffled windows are cut every ``batch_size``, so a batch holds about ``batch_size``
    windows (at most one user's windows more) and a user is never split. Every window of a batch but
    her last one then has its next window in the same batch, right after it.
    """
    M = users.shape[0]
    change = torch.ones(M, dtype=torch.bool, device=users.device)                    # (M,)
    change[1:] = users[1:] != users[:-1]
    starts = change.nonzero().squeeze(1)                                             # (U,)
    lengths = torch.diff(starts, append=starts.new_tensor([M]))                      # (U,)
    order = torch.randperm(starts.shape[0], generator=generator).to(users.device)    # (U,)
    s, n = starts[order], lengths[order]                                             # (U,), (U,)
    offsets = torch.cumsum(n, 0) - n                                                 # (U,) first slot of each user
    idx = torch.repeat_interleave(s - offsets, n) + torch.arange(M, device=users.device)  # (M,) shuffled windows
    batch_of = torch.repeat_interleave(torch.div(offsets, batch_size, rounding_mode="floor"), n)  # (M,)
    counts = torch.unique_consecutive(batch_of, return_counts=True)[1]
    return list(torch.split(idx, counts.tolist()))


def stage1_loss(model: RewardModel, data: dict, idx: torch.Tensor, negatives: torch.Tensor,
                objective: str = "qr_iql", next_values: str = "encode", **loss_options) -> torch.Tensor:
    """The stage-1 loss (Algorithm 1) of the windows ``idx [b]`` with their skipped items ``negatives [b, K]``.

    ``next_values`` says where ``V*(s')`` of each target comes from: ``"encode"`` encodes the next
    windows in a second pass (any batch); ``"in_batch"`` reads it from the batch's own values, which
    needs every next window in the batch right after its window (:func:`user_batches`): one encoder
    pass then serves ``V*(s)`` and ``V*(s')``. Both compute the same function of the weights.
    """
    tgt = data["targets"][idx]                                                       # (b,)
    users = None if data["users"] is None else data["users"][idx]
    atoms = model(data["inputs"][idx], torch.cat([tgt[:, None], negatives], 1), users)  # (b, C, 2, N)
    v = model.soft_value(model.q_values(atoms))                                      # (b, C)
    nxt = data["next_index"][idx]                                                    # (b,)
    has_next = nxt >= 0
    if next_values == "in_batch":
        if bool((idx[1:] != nxt[:-1])[has_next[:-1]].any()) or bool(has_next[-1]):
            raise ValueError("stage1_loss: next_values='in_batch' needs each window's next window right after it "
                             "in the batch (batches of whole users, user_batches)")
        v_next_pos = torch.cat([v[1:, 0], v.new_zeros(1)])                           # (b,) masked where no next
    elif next_values == "encode":
        v_next_pos = model._next_target_values(data, nxt)                            # (b,)
    else:
        raise ValueError(f"stage1_loss: next_values must be 'encode' or 'in_batch', got {next_values!r}")
    v_next, term = model.transition_values(v, v_next_pos, has_next)                  # (b, C), (b, C)
    taken = torch.cat([atoms[:, :1, A_P], atoms[:, 1:, A_N]], dim=1)                 # (b, C, N)
    rows = (taken.flatten(0, 1), v.flatten(), v_next.flatten(), term.flatten())      # (b*C, N), 3 x (b*C,)
    if objective == "qr_iql":
        return qr_iql_loss(*rows, gamma=model.gamma, **loss_options)
    return iq_learn_loss(rows[0].mean(-1), *rows[1:], gamma=model.gamma, **loss_options)


def train_reward_model(model: RewardModel, windows, epochs: int = 1, batch_size: int = 256, lr: float = 1e-3,
                       *, next_index: torch.Tensor | None = None, negatives: torch.Tensor | None = None,
                       n_negatives: int = 1, objective: str = "qr_iql", seed: int = 0,
                       weight_decay: float = 0.0, batches: str = "windows", **loss_options) -> list[float]:
    """Stage 1 (Algorithm 1): fit ``Q_λ`` on the logged transitions with Adam; the loss of each epoch.

    ``windows``: a ``Windows`` or a mapping of ``inputs [M, L]``, ``targets [M]``, ``users [M]``
    (and optionally ``next_index [M]``, else :func:`next_window_index`). ``negatives [M, K]``: fixed
    skipped items per window (a log's negatives); None draws ``n_negatives`` fresh uniform ones per
    batch. ``objective``: ``"qr_iql"`` (MTRec) or ``"iq_learn"`` (the "IRL" ablation, on
    ``Q = mean_j λ_j``); ``loss_options`` go to :func:`.iql.qr_iql_loss` / :func:`.iql.iq_learn_loss`
    (``alpha``, ``sign``, ``u2_form``, ``u2_weight``, ``stop_grad``). ``batches``: ``"windows"``
    (index slices of a seeded permutation of the windows; ``V*(s')`` in a second encoder pass) or
    ``"users"`` (:func:`user_batches`: whole users per batch, one encoder pass; the paper does not
    say). The global RNG (dropout) is seeded inside and restored afterwards.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"train_reward_model: objective must be one of {OBJECTIVES}, got {objective!r}")
    if batches not in BATCHES:
        raise ValueError(f"train_reward_model: batches must be one of {BATCHES}, got {batches!r}")
    data = _window_tensors(windows, next_index)
    if batches == "users" and data["users"] is None:
        raise ValueError("train_reward_model: batches='users' needs the windows' users")
    M = data["targets"].shape[0]
    gen = torch.Generator().manual_seed(seed)
    losses = []
    cuda = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        model.train()
        for _ in range(epochs):
            if batches == "users":
                order = user_batches(data["users"], batch_size, gen)
            else:
                perm = torch.randperm(M, generator=gen).to(data["targets"].device)   # (M,)
                order = [perm[start:start + batch_size] for start in range(0, M, batch_size)]
            total = 0.0
            for idx in order:                                                         # (b,)
                neg = (negatives[idx] if negatives is not None
                       else sample_negatives(data["targets"][idx], model.backbone.n_items, n_negatives, gen))
                loss = stage1_loss(model, data, idx, neg, objective,
                                   "in_batch" if batches == "users" else "encode", **loss_options)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.shape[0]
            losses.append(total / M)
    return losses

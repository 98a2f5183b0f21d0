"""The backbone encoder interface, h_u = Enc(S_u) (method.md §2, Eq. 4).

Every backbone owns the shared item table ``E`` (``item_embedding``, row 0 = padding) and maps
a left-padded window of item ids to one user vector: ``encode(item_seq [B, L], user_ids [B]) ->
h [B, d]``. The plug-in (SRSUPM) and the plain recommender both score items with ``h @ E^T``.

Input convention (see ``srsupm_lab/data/windows.py``): windows are **left-padded**, the most
recent item sits in the last column and padding id 0 fills the front. ``L`` may be shorter than
``max_len``; positional backbones number positions from the right by default, so the most
recent item always gets the position id ``max_len - 1`` (SASRec's ``positions="from_start"``
numbers them from the window's first item instead).
"""
from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from torch import nn

from .length_groups import CPU_GROUPS, encode_by_length, groups_for


def check_positive_int(value, name: str, where: str) -> int:
    """``value`` as an int, or a ValueError saying which argument of what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    return int(value)


def check_probability(value, name: str, where: str, *, allow_zero: bool = True) -> float:
    """``value`` as a float in [0, 1) (or (0, 1) when ``allow_zero`` is False)."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_number or not (0 <= value < 1) or (value == 0 and not allow_zero):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{where}: {name} must be a number in {interval}, got {value!r}")
    return float(value)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    """RecBole's transformer initialisation: N(0, std) weights, zero biases, unit LayerNorm."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, mean=0.0, std=std)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class Dropout(nn.Module):
    """Inverted dropout, the same distribution as ``nn.Dropout``, faster on the CPU.

    On the CPU torch draws dropout masks with ``bernoulli_``, several times slower than drawing
    uniforms and comparing them with ``p``, and a SASRec training step draws masks over whole
    attention maps (``benchmarks/bench_train.py`` times the step). On other devices it defers to
    ``F.dropout`` (fused kernels). Each element is kept with probability ``1 - p`` and scaled
    by ``1 / (1 - p)``; evaluation mode is the identity.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Functional form of :class:`Dropout`."""
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, True)
    keep = torch.rand_like(x) >= p                                          # P(keep) = 1 - p
    return x * keep / (1.0 - p)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None,
              p: float, training: bool, scale: float | None = None) -> torch.Tensor:
    """``softmax(q kᵀ · scale, masked) · v`` with dropout ``p`` on the weights (training only).

    ``q [.., Lq, hs]``, ``k, v [.., Lk, hs]``, ``mask`` bool, True = may attend (broadcast to
    ``[.., Lq, Lk]``). Without dropout, or off the CPU, this is
    ``F.scaled_dot_product_attention``; on the CPU with dropout the weights are formed
    explicitly so that :func:`dropout` (fast sampler) applies to them.
    """
    if not training or p == 0.0 or q.device.type != "cpu":
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p if training else 0.0, scale=scale)
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale                              # (.., Lq, Lk)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = dropout(scores.softmax(dim=-1), p, True)                      # (.., Lq, Lk)
    return weights @ v                                                      # (.., Lq, hs)


class Backbone(nn.Module):
    """Base class: the shared item table, input checks and the default (absent) auxiliary loss.

    Subclasses implement :meth:`encode`. What a family declares, each with its default here (the
    shared layer reads these attributes, never a list of names):

    ``requires``        the batch columns it reads beyond item ids: ``{"users"}`` for a backbone that
                        embeds users (Caser: it receives ``n_users`` and needs ``user_ids`` at every call)
    ``group_by_length`` batches are encoded in groups of similar window length (:mod:`.length_groups`)
    ``causal_prefixes`` column t of ``sequence_output`` encodes the prefix ending at t (one-pass rows)
    ``prefixes_exact``  the same, read from the options before a backbone is built (the config's check)
    ``next_item_loss``  whether the next-item loss is part of the objective beside ``auxiliary_loss``
    ``attention_maps``  whether it holds ``B×heads×L×L`` attention scores (the memory estimate)
    ``memory_shape``    its layers, heads, attention maps and user table for the memory estimate
    """

    #: the batch columns the backbone reads beyond item ids (``srsupm_lab.families.protocol.COLUMNS``)
    requires: frozenset[str] = frozenset()
    #: the encoder's work grows with the window width and leading padding changes nothing, so
    #: batches are encoded in groups of similar length (:mod:`.length_groups`); Caser reads only
    #: its last few columns and keeps this False
    group_by_length: bool = True
    #: column t of ``sequence_output(seq)`` equals the encoding of the prefix ``seq[:t+1]`` (causal,
    #: positions independent of what follows): one pass over a user's sequence then encodes every
    #: training window at once (:mod:`srsupm_lab.data.prefix_rows`). GRU4Rec always; SASRec with
    #: ``positions="from_start"``; the others never.
    causal_prefixes: bool = False
    #: the next-item loss is part of the objective (BERT4Rec as published trains on its cloze loss alone)
    next_item_loss: bool = True
    #: holds ``B×heads×L×L`` attention scores per layer (full self-attention)
    attention_maps: bool = False

    @classmethod
    def prefixes_exact(cls, options: dict) -> bool:
        """Whether this backbone built with keyword ``options`` has ``causal_prefixes`` (read by the
        config before any backbone is built)."""
        return cls.causal_prefixes is True

    @classmethod
    def memory_shape(cls, options: dict) -> dict:
        """``{"layers", "heads", "attention_maps", "user_table"}`` of this backbone built with ``options`` (for
        :mod:`srsupm_lab.memory`): ``n_layers`` / ``n_heads`` as given, else the constructor's default, else 2;
        a value that is no positive integer counts as 1 (the config's checks come later)."""
        defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        shape = {}
        for key, name in (("layers", "n_layers"), ("heads", "n_heads")):
            value = options.get(name, defaults.get(name, 2))
            shape[key] = value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1
        return {**shape, "attention_maps": cls.attention_maps, "user_table": "users" in cls.requires}

    @property
    def needs_users(self) -> bool:
        """Whether the backbone embeds users (``"users"`` in ``requires``)."""
        return "users" in self.requires

    def __init__(self, n_items: int, dim: int, max_len: int, extra_rows: int = 0):
        super().__init__()
        where = type(self).__name__
        self.n_items = check_positive_int(n_items, "n_items", where)
        self.dim = check_positive_int(dim, "dim", where)
        self.max_len = check_positive_int(max_len, "max_len", where)
        # rows 0..n_items: padding + items (the table E); extra rows (BERT4Rec's [MASK]) follow
        self.item_embedding = nn.Embedding(self.n_items + 1 + extra_rows, self.dim, padding_idx=0)
        self.n_users: int | None = None
        self.check_inputs = True  # set False to skip the (GPU-syncing) validation in hot loops
        self.length_groups: int | None = None   # groups per batch; 1 = the padded batch as is,
                                                 # None = 8 on the CPU, 1 elsewhere (length_groups.py)

    # ---------------------------------------------------------------- the contract
    def item_table(self) -> torch.Tensor:
        """The item embedding table E, rows 0..n_items (row 0 = padding): ``[N+1, d]``."""
        return self.item_embedding.weight[: self.n_items + 1]

    def encode(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None = None) -> torch.Tensor:
        """User representation ``h [B, d]`` of the left-padded windows ``item_seq [B, L]``.

        Checks the input, then runs the subclass's :meth:`_encode`, in ``length_groups``
        groups of similar window length when the backbone allows it (an exact speed-up).
        """
        self._check_input(item_seq, user_ids)
        groups = self.groups(item_seq)
        if groups > 1:
            return encode_by_length(self._encode, item_seq, user_ids, groups)
        return self._encode(item_seq, user_ids)

    def groups(self, item_seq: torch.Tensor, cpu_default: int = CPU_GROUPS) -> int:
        """How many length groups a batch ``item_seq`` is encoded in (1 = the padded batch as is)."""
        if not self.group_by_length or item_seq.shape[0] < 2:
            return 1
        return groups_for(item_seq, self.length_groups, cpu_default)

    def _encode(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None) -> torch.Tensor:
        """The encoder proper, on a checked batch (subclasses implement it)."""
        raise NotImplementedError

    def auxiliary_loss(self, item_seq: torch.Tensor, targets: torch.Tensor,
                       user_ids: torch.Tensor | None = None) -> torch.Tensor | None:
        """An extra training loss of the backbone itself; None for all but BERT4Rec."""
        return None

    def forward(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.encode(item_seq, user_ids)

    @classmethod
    def option_names(cls) -> list[str]:
        """The keyword options the constructor accepts beyond n_items / n_users / dim / max_len."""
        params = inspect.signature(cls.__init__).parameters
        return [p for p in params if p not in ("self", "n_items", "n_users", "dim", "max_len")]

    # ---------------------------------------------------------------- helpers
    def _zero_padding_row(self) -> None:
        """Re-zero row 0 of E after a custom initialisation overwrote it."""
        with torch.no_grad():
            self.item_embedding.weight[0].zero_()

    def _position_ids(self, length: int, device) -> torch.Tensor:
        """Right-aligned position ids: the last column always gets ``max_len - 1``."""
        return torch.arange(self.max_len - length, self.max_len, device=device)  # (L,)

    def _check_input(self, item_seq: torch.Tensor, user_ids: torch.Tensor | None = None) -> None:
        """Raise a clear error unless ``item_seq`` is a valid left-padded ``[B, L<=max_len]`` batch."""
        where = f"{type(self).__name__}.encode"
        if not isinstance(item_seq, torch.Tensor):
            raise TypeError(f"{where}: item_seq must be a torch.Tensor, got {type(item_seq).__name__}")
        if item_seq.dtype != torch.long:
            raise TypeError(f"{where}: item_seq must hold int64 item ids, got dtype {item_seq.dtype}")
        if item_seq.dim() != 2 or item_seq.shape[0] == 0 or not 1 <= item_seq.shape[1] <= self.max_len:
            raise ValueError(f"{where}: item_seq must have shape [B>=1, L] with 1 <= L <= max_len="
                             f"{self.max_len}, got {tuple(item_seq.shape)}")
        users = "users" in self.requires
        if users:
            if user_ids is None:
                raise ValueError(f"{where}: this backbone embeds users, pass user_ids [B]")
            if user_ids.dtype != torch.long or tuple(user_ids.shape) != (item_seq.shape[0],):
                raise ValueError(f"{where}: user_ids must be an int64 tensor of shape "
                                 f"({item_seq.shape[0]},), got {user_ids.dtype} {tuple(user_ids.shape)}")
        if not self.check_inputs:
            return
        real = item_seq != 0                                                # (B, L)
        flags = [
            ((item_seq < 0) | (item_seq > self.n_items)).any(),
            ~real[:, -1].all(),                                             # most recent item missing
            (real[:, :-1] & ~real[:, 1:]).any(),                            # padding after an item
        ]
        if users:
            flags.append(((user_ids < 0) | (user_ids >= self.n_users)).any())
        bad = torch.stack(flags).tolist()                                   # one device sync
        if bad[0]:
            top, low = int(item_seq.max()), int(item_seq.min())
            raise ValueError(f"{where}: item ids must lie in 0..n_items={self.n_items} (0 = padding), "
                             f"found values in {low}..{top}")
        if bad[1]:
            row = int((~real[:, -1]).nonzero()[0, 0])
            raise ValueError(f"{where}: row {row} has padding (0) in its last column; windows must be "
                             f"left-padded with at least one item (the most recent item goes last)")
        if bad[2]:
            row = int((real[:, :-1] & ~real[:, 1:]).any(dim=1).nonzero()[0, 0])
            raise ValueError(f"{where}: row {row} has padding after an item; windows must be "
                             f"left-padded (padding only at the front)")
        if users and bad[3]:
            raise ValueError(f"{where}: user ids must lie in 0..n_users-1={self.n_users - 1}, found "
                             f"values in {int(user_ids.min())}..{int(user_ids.max())}")

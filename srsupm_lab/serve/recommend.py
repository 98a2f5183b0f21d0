"""Top-k recommendations from a loaded run, in the dataset's own ids (the map's chapter 06: the two stages).

:class:`ServedRun` (made by :func:`srsupm_lab.serve.load_run`) answers
``recommend(users=None, histories=None, k=10, exclude_seen=True)``:

* ``users``: raw user ids; each is served from the history the run folder stores (plus the events
  added since with :meth:`ServedRun.add_events`, the user's incremental state);
* ``histories``: lists of raw item ids, oldest first (an anonymous session); with ``users`` too, the
  histories of those users (a backbone that embeds users, Caser, needs them);
* unknown users and items are left out and reported in one line (a :class:`UnknownIdWarning`, and
  the table's ``attrs["unknown_users"]`` / ``["unknown_items"]``).

The scores are the model's full-ranking scores (``model.score``, the Recommender protocol, on the
last ``max_len`` items left-padded, as evaluation scores its test windows: :mod:`srsupm_lab.evaluate`),
with the padding column and, by default, every item the user has seen removed; the top ``k`` come
from ``torch.topk`` (the exact first stage). With ``index=`` (a :class:`srsupm_lab.serve.ann.ItemIndex`
over the item table) a dot-product model's top ``k`` come from the approximate index instead.
The result is a DataFrame with ``user``, ``rank`` (1 = best), ``item`` (raw id), ``score`` and, where
the item labels are words, ``name``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterator, NamedTuple

import numpy as np
import pandas as pd
import torch

__all__ = ["ServedRun", "UnknownIdWarning", "padded_rows", "top_k_unseen"]


class UnknownIdWarning(UserWarning):
    """Raw ids the run does not know were left out of a request (one line lists them)."""


def padded_rows(flat: np.ndarray, start: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """The last ``width`` items of CSR rows ``rows`` (``flat[start[r]:start[r+1]]``), left-padded with 0:
    ``[len(rows), width]`` int64, without a Python loop over rows."""
    begin, end = start[rows], start[rows + 1]                                  # (B,), (B,)
    pos = end[:, None] + (np.arange(width, dtype=np.int64) - width)[None, :]  # (B, width) absolute
    inside = pos >= begin[:, None]
    return np.where(inside, flat[np.clip(pos, 0, max(len(flat) - 1, 0))], 0).astype(np.int64)


def top_k_unseen(scores: torch.Tensor, seen: torch.Tensor | None, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(values [B, k], items [B, k])``: the best ``k`` of ``scores [B, N+1]`` outside column 0 (padding)
    and outside ``seen [B, H]`` (0-padded item ids; None keeps every item). A row with fewer than ``k``
    rankable items ends in ``-inf`` values."""
    s = scores.float().nan_to_num(nan=float("-inf"), neginf=float("-inf"))  # (B, N+1), a copy
    s[:, 0] = float("-inf")
    if seen is not None and seen.numel():
        s.scatter_(1, seen.to(s.device), float("-inf"))                        # seen items leave the ranking
    values, items = torch.topk(s, min(k, s.shape[1] - 1), dim=1)              # (B, k), sorted best first
    return values, items


class ServedRun:
    """A trained model with its raw-id maps, ready to recommend (module doc)."""

    def __init__(self, path: Path, config, model: torch.nn.Module, maps, device: torch.device):
        self.path, self.config, self.model, self.maps, self.device = Path(path), config, model, maps, device
        self.max_len = int(config.max_len)
        self.backbone = getattr(model, "backbone", None)
        self.needs_users = bool(getattr(self.backbone, "needs_users", False))
        self._names: list | None | bool = False              # False: not built yet
        self._added: dict[int, np.ndarray] = {}              # user index -> events added since the run

    def __repr__(self) -> str:
        return (f"ServedRun({str(self.path)!r}: {self.config.backbone} + {self.config.method} on "
                f"{self.maps.dataset!r}, {self.n_users} users, {self.n_items} items, device {self.device})")

    @property
    def n_users(self) -> int:
        return self.maps.n_users

    @property
    def n_items(self) -> int:
        return self.maps.n_items

    def item_names(self) -> list[str] | None:
        """Each item's name (index = item index) where the labels are words, else None."""
        if self._names is False:
            self._names = self.maps.item_names()
            self._name_array = None if self._names is None else np.asarray(self._names, dtype=object)
        return self._names

    # ------------------------------------------------------------------ the model's one call
    @torch.no_grad()
    def scores(self, inputs: torch.Tensor, users: torch.Tensor | None) -> torch.Tensor:
        """Full-ranking scores ``[B, N+1]`` of left-padded windows ``inputs [B, max_len]`` (the Recommender
        protocol's ``score``, the one call serving makes to the model)."""
        return self.model.score(inputs.to(self.device), None if users is None else users.to(self.device))

    @torch.no_grad()
    def user_vectors(self, inputs: torch.Tensor, users: torch.Tensor | None) -> torch.Tensor:
        """``h [B, d]`` of a dot-product model (score = h · E), the query of the approximate stage."""
        self._check_dot_product()
        return self.backbone.encode(inputs.to(self.device), None if users is None else users.to(self.device))

    def item_table(self) -> torch.Tensor:
        """The item table ``E [N+1, d]`` of a dot-product model (row 0 = padding)."""
        self._check_dot_product()
        return self.backbone.item_table().detach()

    def _check_dot_product(self) -> None:
        from ..methods.none import BackboneRecommender
        if not isinstance(self.model, BackboneRecommender):
            raise ValueError(f"the approximate stage needs a model that scores h · E (a backbone alone, MTRec); "
                             f"method {self.config.method!r} scores otherwise: use the exact top-k")

    # ------------------------------------------------------------------ incremental state
    def add_events(self, user, items) -> int:
        """Append raw ``items`` (oldest first) to ``user``'s state, as a service does after each click;
        the next ``recommend(users=[user])`` reads them. Returns how many were known and added."""
        index, unknown = self.maps.user_index([user])
        if not len(index):
            raise ValueError(f"add_events: unknown user id {user!r}")
        known, unknown_items = self.maps.item_index(list(items))
        if unknown_items:
            warnings.warn(f"add_events: {len(unknown_items)} unknown item id(s) left out: {_show(unknown_items)}",
                          UnknownIdWarning, stacklevel=2)
        u = int(index[0])
        self._added[u] = np.concatenate([self._added.get(u, np.zeros(0, np.int64)), known])
        return len(known)

    def _has_added(self, index: np.ndarray) -> bool:
        return bool(self._added) and bool(np.isin(index, np.fromiter(self._added, dtype=np.int64)).any())

    # ------------------------------------------------------------------ requests
    def _rows(self, users, histories) -> "_Request":
        """The CSR rows a request is scored from, its user indices and labels, and what it did not know."""
        index, unknown_users = None, []
        if users is not None:
            users = _as_list(users, "users")
            index, unknown_users = self.maps.user_index(users)
            if histories is not None and unknown_users:
                raise ValueError(f"recommend: unknown user id(s) {_show(unknown_users)} given with histories")
        if histories is None:
            if index is None:
                raise ValueError("recommend: give users (raw user ids) or histories (lists of raw item ids)")
            label = self.maps.users[index]
            if not self._has_added(index):                          # the stored state: rows of the maps
                return _Request(self.maps.history_flat, self.maps.history_start, index, index, label,
                                unknown_users, [], 0)
            rows = [np.concatenate([self.maps.history(int(u)), self._added.get(int(u), np.zeros(0, np.int64))])
                    for u in index]
            flat, start = _csr(rows)
            return _Request(flat, start, np.arange(len(index)), index, label, unknown_users, [], 0)
        histories = _as_list(histories, "histories")
        if index is not None and len(index) != len(histories):
            raise ValueError(f"recommend: {len(users)} users but {len(histories)} histories; give one history a user")
        mapped, keep, unknown_items = [], [], []
        for j, h in enumerate(histories):
            known, unknown = self.maps.item_index(_as_list(h, f"histories[{j}]"))
            unknown_items += unknown
            if len(known):
                mapped.append(known)
                keep.append(j)
        flat, start = _csr(mapped)
        keep = np.asarray(keep, dtype=np.int64)
        label = self.maps.users[index[keep]] if index is not None else keep
        return _Request(flat, start, np.arange(len(keep)), None if index is None else index[keep], label,
                        [], unknown_items, len(histories) - len(keep))

    def recommend(self, users=None, histories=None, k: int = 10, exclude_seen: bool = True,
                  batch_size: int = 1024, index=None) -> pd.DataFrame:
        """Top-``k`` items for raw ``users`` and/or raw item ``histories`` (module doc): a DataFrame with
        ``user, rank, item, score`` (+ ``name``)."""
        k = _check_k(k)
        r = self._rows(users, histories)
        note = r.note()
        if not len(r.rows):
            raise ValueError(f"recommend: no known user or item in the request{f' ({note})' if note else ''}")
        if note:
            warnings.warn(f"recommend: left out {note}", UnknownIdWarning, stacklevel=2)
        tables = list(self._chunks(r.flat, r.start, r.rows, r.user_index, r.label, k, exclude_seen, batch_size,
                                   index))
        table = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
        table.attrs.update(unknown_users=r.unknown_users, unknown_items=r.unknown_items)
        return table

    def recommend_all(self, k: int = 10, exclude_seen: bool = True, batch_size: int = 1024,
                      index=None) -> Iterator[pd.DataFrame]:
        """Every user's top ``k``, one DataFrame per ``batch_size`` users (to be written chunk by chunk)."""
        k = _check_k(k)
        every = np.arange(self.n_users, dtype=np.int64)
        for lo in range(0, self.n_users, batch_size):
            part = every[lo:lo + batch_size]
            if self._has_added(part):
                yield self.recommend(users=self.maps.users[part].tolist(), k=k, exclude_seen=exclude_seen,
                                     batch_size=batch_size, index=index)
                continue
            yield from self._chunks(self.maps.history_flat, self.maps.history_start, part, part,
                                    self.maps.users[part], k, exclude_seen, batch_size, index)

    def _chunks(self, flat, start, rows, user_index, label, k, exclude_seen, batch_size, index):
        self.item_names()
        names = self._name_array                                     # (N+1,) object, or None
        for lo in range(0, len(rows), batch_size):
            part = rows[lo:lo + batch_size]
            inputs = torch.from_numpy(padded_rows(flat, start, part, self.max_len))           # (B, L)
            users = None if user_index is None else torch.from_numpy(np.asarray(user_index[lo:lo + batch_size]))
            if users is None and self.needs_users:
                raise ValueError(f"recommend: backbone {self.config.backbone!r} embeds users: give the users "
                                 f"with their histories (users=[...], histories=[...])")
            seen = None
            if exclude_seen:
                longest = int((start[part + 1] - start[part]).max())
                seen = torch.from_numpy(padded_rows(flat, start, part, max(longest, 1)))       # (B, H)
            if index is None:
                values, items = top_k_unseen(self.scores(inputs, users), seen, k)              # (B, k) each
            else:
                values, items = index.search(self.user_vectors(inputs, users), k, seen)
            values, items = values.cpu().numpy(), items.cpu().numpy()
            ok = np.isfinite(values)                                                           # rankable ones
            row, col = np.nonzero(ok)
            item = items[row, col]
            columns = {"user": np.asarray(label)[lo:lo + batch_size][row], "rank": col + 1,
                       "item": self.maps.items[item - 1], "score": values[row, col]}
            if names is not None:
                columns["name"] = names[item]
            yield pd.DataFrame(columns, copy=False)


class _Request(NamedTuple):
    """One request as CSR rows (``flat[start[r]:start[r+1]]`` for each ``r`` of ``rows``) and what it lacked."""
    flat: np.ndarray
    start: np.ndarray
    rows: np.ndarray
    user_index: np.ndarray | None
    label: np.ndarray
    unknown_users: list
    unknown_items: list
    empty_histories: int

    def note(self) -> str:
        """One line of what was left out ("" when nothing was)."""
        parts = [f"{len(self.unknown_users)} unknown user id(s) {_show(self.unknown_users)}"] if self.unknown_users \
            else []
        parts += [f"{len(self.unknown_items)} unknown item id(s) {_show(self.unknown_items)}"] if self.unknown_items \
            else []
        parts += [f"{self.empty_histories} history(ies) with no known item"] if self.empty_histories else []
        return " and ".join(parts)


def _csr(rows) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate(rows).astype(np.int64) if len(rows) else np.zeros(0, np.int64)
    return flat, start


def _as_list(value, what: str) -> list:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"recommend: {what} must be a list, got {type(value).__name__} {value!r:.60}")
    return list(value)


def _check_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"recommend: k must be a positive integer, got {k!r}")
    return int(k)


def _show(ids: list, most: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:most])
    return f"[{shown}{', ...' if len(ids) > most else ''}]"

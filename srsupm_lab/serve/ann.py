"""The approximate stage: top-k inner products through a faiss index, beside exact top-k (the map's chapter 06).

A dot-product recommender scores ``s = h · E[i]`` for every item ``i``; exact top-k costs one
``[B, d] x [d, N]`` product per batch, linear in the catalogue. At millions of items a service
answers from an approximate nearest-neighbour index instead (the retrieval stage of a two-stage
system), trading a little recall for speed. :class:`ItemIndex` wraps two faiss indexes over
``E[1..N]`` with the inner product as similarity:

* ``"hnsw"``: a navigable small-world graph (``IndexHNSWFlat``; ``M`` links a node, ``ef`` the
  breadth of a search);
* ``"ivf"``: an inverted file (``IndexIVFFlat``): k-means cells of the items (``nlist``, fitted on at
  most 64 items a cell), a query scans its ``nprobe`` nearest cells.

Seen items are removed after the search (it fetches ``k`` plus the longest history, then drops
them), so the result is what :func:`srsupm_lab.serve.recommend.top_k_unseen` gives on the exact
scores wherever the index finds the true neighbours. faiss-cpu is an optional dependency (the
``serve`` extra): without it, building an index is one line saying so.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["ItemIndex", "exact_top_k", "recall_at_k", "faiss_available"]

KINDS = ("hnsw", "ivf")


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("the approximate stage needs faiss-cpu: pip install 'srsupm_lab[serve]' "
                          "(or pip install faiss-cpu)") from None
    faiss.omp_set_num_threads(torch.get_num_threads())          # the package's thread policy decides
    return faiss


class ItemIndex:
    """An approximate inner-product index over the items ``1..N`` of an item table ``E [N+1, d]`` (module doc)."""

    def __init__(self, item_table, kind: str = "hnsw", M: int = 32, ef: int = 128, ef_construction: int = 200,
                 nlist: int | None = None, nprobe: int = 16, seed: int = 0):
        if kind not in KINDS:
            raise ValueError(f"ItemIndex: kind must be one of {list(KINDS)}, got {kind!r}")
        faiss = _faiss()
        E = np.ascontiguousarray(torch.as_tensor(item_table).detach().cpu().float().numpy()[1:])   # (N, d)
        n, d = E.shape
        if n < 1:
            raise ValueError("ItemIndex: the item table holds no item (row 0 is padding)")
        self.kind, self.n_items = kind, n
        if kind == "hnsw":
            self.index = faiss.IndexHNSWFlat(d, M, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef
        else:
            nlist = nlist or max(1, int(4 * np.sqrt(n)))                       # the usual 4·sqrt(N) cells
            self.index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
            self.index.cp.seed = seed
            sample = E if n <= 64 * nlist else E[np.random.default_rng(seed).choice(n, 64 * nlist, replace=False)]
            self.index.train(sample)                                            # k-means on 64 items a cell
            self.index.nprobe = nprobe
        self.index.add(E)

    def set_search(self, ef: int | None = None, nprobe: int | None = None) -> None:
        """The search breadth: ``ef`` (hnsw) or ``nprobe`` (ivf); larger is slower and finds more."""
        if ef is not None and self.kind == "hnsw":
            self.index.hnsw.efSearch = int(ef)
        if nprobe is not None and self.kind == "ivf":
            self.index.nprobe = int(nprobe)

    def search(self, h, k: int, seen=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(values [B, k], items [B, k])`` of queries ``h [B, d]``: items ``1..N`` best first, ``seen [B, H]``
        (0-padded item ids) left out; a row with fewer than ``k`` found ends in ``-inf`` values and item 0."""
        q = np.ascontiguousarray(torch.as_tensor(h).detach().cpu().float().numpy())     # (B, d)
        seen_np = None if seen is None else torch.as_tensor(seen).cpu().numpy()
        extra = 0 if seen_np is None else int((seen_np > 0).sum(axis=1).max(initial=0))
        fetch = min(k + extra, self.n_items)
        values, ids = self.index.search(q, fetch)                                       # (B, fetch), -1 = none
        items = ids + 1                                                                 # rows of E[1:] -> ids
        ok = ids >= 0
        if seen_np is not None and seen_np.size:
            ok &= ~(items[:, :, None] == seen_np[:, None, :]).any(axis=2)               # (B, fetch)
        order = np.argsort(~ok, axis=1, kind="stable")[:, :k]                           # kept ones first, in order
        keep = np.take_along_axis(ok, order, axis=1)
        out_v = np.where(keep, np.take_along_axis(values, order, axis=1), -np.inf).astype(np.float32)
        out_i = np.where(keep, np.take_along_axis(items, order, axis=1), 0)
        if out_v.shape[1] < k:                                                          # a tiny catalogue
            pad = k - out_v.shape[1]
            out_v = np.pad(out_v, ((0, 0), (0, pad)), constant_values=-np.inf)
            out_i = np.pad(out_i, ((0, 0), (0, pad)))
        return torch.from_numpy(out_v), torch.from_numpy(out_i.astype(np.int64))


def exact_top_k(h, item_table, k: int, seen=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The exact stage: ``(values, items)`` of ``h @ E.T`` (padding and ``seen`` left out), best first."""
    from .recommend import top_k_unseen
    h, E = torch.as_tensor(h).float(), torch.as_tensor(item_table).float()
    return top_k_unseen(h @ E.T, None if seen is None else torch.as_tensor(seen), k)


def recall_at_k(approx_items: torch.Tensor, exact_items: torch.Tensor) -> float:
    """Share of the exact top-k items the approximate top-k also holds, averaged over queries."""
    a, e = torch.as_tensor(approx_items).numpy(), torch.as_tensor(exact_items).numpy()
    hits = (a[:, :, None] == e[:, None, :]).any(axis=1) & (e > 0)                      # (B, k) per exact item
    return float(hits.sum() / max((e > 0).sum(), 1))

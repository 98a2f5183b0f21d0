"""The model explorer: one user of a trained SRSUPM model, branch by branch (method.md §3–§5, §8; paper §4.3–4.6).

    ex = model_explorer(model, dataset, split.test, levels=test_levels)
    ex.user.value = 17            # the controls are plain ipywidgets; set .value to drive them
    ex.current["topk"]["branch 2"]  # what is shown now: the top-10 of branch 2 alone

For the chosen window (a user's input sequence and its target) it shows

* the history: the input items, oldest first, with their category names (the labels PMSA uses);
* the shift distribution α over the K branches towards the target (Eq. 9), the window's PMSA
  level marked when ``levels`` are given;
* the top-k items of each branch alone, scored ``⟨ẑ_k, e_i⟩``, and of the model's own mixture
  (``model.score``: the mixed prediction of Eqs. 19–22, or mean pooling without PMI), with the
  user's history removed from the ranking as evaluation does (the target itself stays rankable),
  and where the target ranks under each.

One user at a time: the model is run on one window (eval mode, no grad) when the user changes.
Drawing uses a matplotlib ``Figure`` rendered to PNG in an ``ipywidgets.Image`` (no pyplot state),
shown at its own aspect ratio (:func:`srsupm_lab.widgets.static.undistorted_layout`).

A trained run folder works as well as a model in memory (``config.json`` + ``checkpoint.pt``,
as ``notebooks/04_train`` or ``python -m srsupm_lab train --out DIR`` write them)::

    ex = model_explorer("runs/beauty-sasrec-srsupm")            # its best weights, its test windows
    ex = ModelExplorer.from_run(out_dir, split="valid")
"""
from __future__ import annotations

import html
import io
import os

import torch

from .static import png_img, undistorted_layout, with_static_snapshot

__all__ = ["ModelExplorer", "model_explorer"]

#: above this many windows the user control is a slider instead of a dropdown
DROPDOWN_LIMIT = 2000
FIGSIZE, DPI = (4.8, 3.0), 80     # the α chart: inches, dots per inch of its PNG
SPLITS = ("train", "valid", "test")


class ModelExplorer:
    """Interactive view of one user of a trained SRSUPM model (see the module doc).

    Parameters
    ----------
    model : SRSUPM
        A trained model (``shift_representations``, ``score``, ``backbone.item_table``).
    dataset : SequenceDataset
        For the item labels and label names (``item_labels``, ``label_names``).
    windows : Windows
        The windows to browse (e.g. ``split.test``: one per user). Their ``history`` (when
        present) is what gets masked; otherwise the non-padding input items are masked.
    levels : LongTensor (M,) or None
        PMSA level of each window, shown beside α.
    k : int
        Length of the lists (top-k).
    user : int
        Initial row of ``windows``.
    mask_history : bool
        Remove the user's seen items from the ranking (S3-Rec protocol, as :func:`evaluate`).

    Attributes
    ----------
    user : ipywidgets Dropdown (or IntSlider for many windows) whose value is a row of ``windows``.
    mask : ipywidgets Checkbox, the history masking.
    history_html, table_html : ipywidgets HTML (the history; the top-k lists side by side).
    image : ipywidgets Image (α over the branches, PNG); ``figure``/``ax`` the matplotlib objects.
    widget : the VBox that is displayed.
    current : dict of what is shown now: ``row``, ``user`` (dataset user id), ``target``,
        ``level`` (or None), ``history`` (list of ``(item, [category names])``), ``alpha`` (float
        numpy (K,)), ``topk`` (dict ``"branch k"`` / ``"mixture"`` -> int64 numpy (k,) item ids),
        ``top_scores`` (same keys, float numpy (k,)), ``target_rank`` (same keys, 0-based rank of
        the target, ties against the model), ``masked`` (int64 numpy of the masked item ids).
    """

    def __init__(self, model, dataset, windows, levels=None, k: int = 10, user: int = 0, mask_history: bool = True):
        import ipywidgets as w
        from matplotlib.figure import Figure

        for name in ("shift_representations", "score"):
            if not callable(getattr(model, name, None)):
                raise TypeError(f"ModelExplorer: expected an SRSUPM model (with {name}()), got {type(model).__name__}")
        M = len(windows)
        if M == 0:
            raise ValueError("ModelExplorer: the windows are empty")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"ModelExplorer: k must be a positive integer, got {k!r}")
        if not 0 <= int(user) < M:
            raise ValueError(f"ModelExplorer: user must be a row of the windows, 0..{M - 1}, got {user!r}")
        if levels is not None:
            levels = torch.as_tensor(levels).long().cpu()
            if levels.shape != (M,):
                raise ValueError(f"ModelExplorer: levels must have shape ({M},), got {tuple(levels.shape)}")
        self.model, self.dataset, self.levels = model, dataset, levels
        self.windows = windows.to("cpu")
        self.k, self.K = int(k), int(model.K)
        self.n_items = int(model.n_items)
        if self.k > self.n_items:
            raise ValueError(f"ModelExplorer: k={k} exceeds the {self.n_items} items")

        users = self.windows.users.tolist()
        targets = self.windows.targets.tolist()
        if M <= DROPDOWN_LIMIT:
            options = [(f"user {u} → target {t}", i) for i, (u, t) in enumerate(zip(users, targets))]
            self.user = w.Dropdown(options=options, value=int(user), description="window")
        else:
            self.user = w.IntSlider(value=int(user), min=0, max=M - 1, description="window", continuous_update=False)
        self.mask = w.Checkbox(value=bool(mask_history), description="mask seen items")
        self.history_html = w.HTML()
        self.table_html = w.HTML()
        self.image = w.Image(format="png", layout=undistorted_layout(round(FIGSIZE[0] * DPI)))
        self.figure = Figure(figsize=FIGSIZE, layout="constrained")
        self.ax = self.figure.add_subplot()
        self.widget = w.VBox([w.HBox([self.user, self.mask]), self.history_html,
                              w.HBox([self.image, self.table_html], layout=w.Layout(align_items="flex-start"))])
        self.current: dict = {}
        for control in (self.user, self.mask):
            control.observe(self._on_change, names="value")
        self.redraw()

    @classmethod
    def from_run(cls, out_dir, split: str = "test", device="cpu", **options) -> "ModelExplorer":
        """The explorer on a trained run folder: its best weights, its dataset, the windows of ``split``
        and their PMSA levels, rebuilt by :func:`srsupm_lab.experiment.load_trained`."""
        from ..experiment import load_trained

        if split not in SPLITS:
            raise ValueError(f"ModelExplorer.from_run: split must be one of {SPLITS}, got {split!r}")
        run = load_trained(out_dir, device=device)
        if not callable(getattr(run.model, "shift_representations", None)):
            raise TypeError(f"ModelExplorer.from_run: {out_dir} is a run of method {run.config.method!r} over "
                            f"{run.config.backbone}; the explorer needs a model with shift representations (srsupm)")
        return cls(run.model, run.data.dataset, getattr(run.data.split, split),
                   levels=getattr(run.data, f"{split}_levels"), **options)

    # ------------------------------------------------------------------ computing
    def _device(self):
        for p in self.model.parameters():
            return p.device
        return torch.device("cpu")

    def _masked(self, row: int) -> torch.Tensor:
        """Item ids removed from the ranking: the history (or input) items except the target."""
        src = self.windows.history if self.windows.history is not None else self.windows.inputs
        seen = torch.unique(src[row])
        seen = seen[(seen > 0) & (seen != self.windows.targets[row])]
        return seen

    @torch.no_grad()
    def compute(self, row: int, mask: bool = True) -> dict:
        """Everything shown for window ``row`` (see ``current`` in the class doc); no drawing."""
        device = self._device()
        part = self.windows.subset(slice(row, row + 1)).to(device)
        Z = self.model.shift_representations(part.inputs, part.users)[0].float()           # (K, d)
        E = self.model.backbone.item_table().detach().float()                              # (N+1, d)
        was_training = self.model.training
        self.model.eval()
        try:
            mixture = self.model.score(part.inputs, part.users)[0].float()                 # (N+1,)
        finally:
            self.model.train(was_training)
        target = int(part.targets[0])
        branch = Z @ E.t()                                                                 # (K, N+1)
        scores = torch.cat([branch, mixture[None]]).cpu()                                  # (K+1, N+1)
        scores[:, 0] = float("-inf")                                                       # padding
        masked = self._masked(row) if mask else torch.empty(0, dtype=torch.long)
        scores[:, masked] = float("-inf")
        top = torch.topk(scores, self.k, dim=1)
        ranked = torch.isfinite(scores)
        ranked[:, target] = False
        rank = ((scores >= scores[:, target:target + 1]) & ranked).sum(dim=1)              # ties against the model
        alpha = torch.softmax((Z @ E[target]) / Z.shape[1] ** 0.5, dim=0).cpu().numpy()   # (K,) Eq. 9
        names = [f"branch {k}" for k in range(self.K)] + ["mixture"]
        labels = self.dataset.item_labels
        history = [(int(i), sorted(self.dataset.label_names[c] for c in labels[int(i)]))
                   for i in self.windows.inputs[row].tolist() if i > 0]
        return {"row": int(row), "user": int(self.windows.users[row]), "target": target,
                "target_labels": sorted(self.dataset.label_names[c] for c in labels[target]),
                "level": None if self.levels is None else int(self.levels[row]),
                "history": history, "alpha": alpha,
                "topk": {n: top.indices[j].numpy() for j, n in enumerate(names)},
                "top_scores": {n: top.values[j].numpy() for j, n in enumerate(names)},
                "target_rank": {n: int(rank[j]) for j, n in enumerate(names)},
                "masked": masked.numpy()}

    # ------------------------------------------------------------------ drawing
    def _on_change(self, change) -> None:
        self.redraw()

    def redraw(self) -> dict:
        """Recompute for the chosen window, redraw, and return ``current``."""
        c = self.compute(int(self.user.value), bool(self.mask.value))
        self._draw_alpha(c)
        self._write_history(c)
        self._write_table(c)
        self.current = c
        return c

    def _draw_alpha(self, c: dict) -> None:
        ax = self.ax
        ax.clear()
        colors = ["#1f77b4"] * self.K
        if c["level"] is not None:
            colors[c["level"]] = "#d62728"
        ax.bar(range(self.K), c["alpha"], color=colors)
        ax.axhline(1.0 / self.K, color="grey", ls="--", lw=1)
        ax.set_xticks(range(self.K), [str(k) for k in range(self.K)])
        ax.set_xlabel("branch k" + (" (red: the window's PMSA level)" if c["level"] is not None else ""))
        ax.set_ylabel("α_k")
        ax.set_ylim(0, max(1.0 / self.K * 1.5, float(c["alpha"].max()) * 1.15))
        ax.set_title(f"Shift distribution towards target {c['target']} (Eq. 9)", fontsize=9)
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=DPI)
        self.image.value = buf.getvalue()

    def _write_history(self, c: dict) -> None:
        items = ", ".join(f"<b>{i}</b> <span style='color:#666'>({html.escape('; '.join(n)) or '–'})</span>"
                          for i, n in c["history"])
        level = "" if c["level"] is None else f", PMSA level <b>{c['level']}</b>"
        self.history_html.value = (
            f"<div class='srsupm-model-history'>user {c['user']} (window {c['row']}), "
            f"{len(c['history'])} input items, oldest first: {items}<br>"
            f"target <b>{c['target']}</b> ({html.escape('; '.join(c['target_labels'])) or '–'}){level}; "
            f"{len(c['masked'])} seen items masked</div>")

    def _write_table(self, c: dict) -> None:
        names = list(c["topk"])
        head = "".join(f"<th>{n}</th>" for n in names)
        body = []
        for r in range(self.k):
            cells = []
            for n in names:
                item = int(c["topk"][n][r])
                style = " style='background:#fdd;font-weight:bold'" if item == c["target"] else ""
                cells.append(f"<td{style}>{item}</td>")
            body.append(f"<tr><td>{r + 1}</td>{''.join(cells)}</tr>")
        ranks = "".join(f"<td>{c['target_rank'][n] + 1}</td>" for n in names)
        self.table_html.value = (
            f"<table class='srsupm-model-topk' style='font-size:85%'><tr><th>#</th>{head}</tr>{''.join(body)}"
            f"<tr><td>target rank</td>{ranks}</tr></table>")

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a static snapshot (history, α chart, top-k table) for readers without a kernel."""
        chart = png_img(self.image.value, "shift distribution over the branches",
                        round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
        snapshot = (f"<div>{self.history_html.value}</div><div style='display:flex;align-items:flex-start;"
                    f"gap:1em'>{chart}{self.table_html.value}</div>")
        return with_static_snapshot(self.widget._repr_mimebundle_(**kwargs), snapshot, repr(self))

    def __repr__(self) -> str:
        c = self.current
        return f"ModelExplorer(window={c.get('row')}, user={c.get('user')}, target={c.get('target')})"


def model_explorer(model, dataset=None, windows=None, levels=None, **options) -> ModelExplorer:
    """Build a :class:`ModelExplorer` (display it by leaving it last in a cell). Options as the class.

    ``model`` may be a run folder (a path): then the run's own data is used, as
    :meth:`ModelExplorer.from_run` (``split=`` and ``device=`` pass through ``options``).
    """
    if isinstance(model, (str, os.PathLike)):
        if dataset is not None or windows is not None or levels is not None:
            raise TypeError("model_explorer(run_folder): the run brings its own dataset, windows and levels")
        return ModelExplorer.from_run(model, **options)
    if dataset is None or windows is None:
        raise TypeError("model_explorer: pass a model with its dataset and windows, or a run folder")
    return ModelExplorer(model, dataset, windows, levels=levels, **options)

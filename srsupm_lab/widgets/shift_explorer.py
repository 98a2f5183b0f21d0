"""The shift explorer: K, label noise p and the dataset against PMSA (paper §4.1, §5.6.2; method.md §1).

    ex = shift_explorer()          # in a notebook: sliders, a dropdown and three panels
    ex.K.value = 3                 # the controls are plain ipywidgets; set .value to drive them
    ex.current["shares"]           # what is drawn now: level shares, PMSD, the noise table

Panels: (1) the PMSD histogram of the training windows with the exact 0/1 masses apart and the
level boundaries of the current K; (2) the level shares at the current K and p; (3) the level
shares against p over a grid of noise levels, the current p marked.

Speed. A dataset is loaded and windowed once (cached). PMSD does not depend on K, so it is
computed once per (dataset, p) with the vectorised :func:`srsupm_lab.pmsa.assess` and cached;
moving K only re-bins cached values with :func:`srsupm_lab.pmsa.shift_level`. Drawing uses a
matplotlib ``Figure`` (no pyplot state) rendered to PNG in an ``ipywidgets.Image``, which works
the same in JupyterLab, classic Notebook and Voilà.
"""
from __future__ import annotations

import io
import time
from typing import Mapping, Sequence

import numpy as np

from .. import pmsa
from ..analysis import plots
from ..data import SequenceDataset, leave_one_out, load_dataset
from ..data.loaders import REAL_DATASETS, data_roots
from .static import png_img, undistorted_layout, with_static_snapshot

__all__ = ["ShiftExplorer", "shift_explorer", "available_datasets"]

#: the real datasets offered when their folder is found (the paper's three)
EXPLORER_DATASETS = ("beauty", "sports", "yelp")
NOISE_GRID = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
FIGSIZE, DPI = (13, 3.6), 80     # inches, dots per inch of the PNG in the widget


def available_datasets(root=None) -> list[str]:
    """``synthetic`` plus each of beauty/sports/yelp whose folder exists under a data root."""
    roots = data_roots(root)
    found = [name for name in EXPLORER_DATASETS if any((r / REAL_DATASETS[name]).is_dir() for r in roots)]
    return ["synthetic", *found]


class ShiftExplorer:
    """Interactive PMSA view (see the module doc).

    Parameters
    ----------
    datasets : mapping name -> SequenceDataset, optional
        Datasets to offer instead of looking for them (tests, a teacher's own world). By default
        the synthetic world always, plus beauty/sports/yelp when found (``root`` or
        ``SRSUPM_DATA`` or the repository's ``data/``; see :func:`srsupm_lab.data.loaders.data_roots`).
    K, p, dataset : initial control values (K in 3..7, p in 0..0.5).
    split : which windows to assess: ``"train"`` (the PMSID supervision, default), ``"valid"``
        or ``"test"`` (the windows of the per-level evaluation).
    bins : number of histogram bins over (0, 1).
    noise_grid : the p values of the noise panel.
    seed : seed of :func:`srsupm_lab.pmsa.drop_labels`.
    max_len : input length L of the windows.

    Attributes
    ----------
    K, p, dataset : ipywidgets IntSlider, FloatSlider, Dropdown.
    summary : ipywidgets HTML, the numbers behind the figure in words.
    image : ipywidgets Image, the figure as PNG.
    figure : matplotlib Figure with axes ``axes`` (histogram, shares, noise).
    widget : the VBox that is displayed.
    current : dict of what is drawn now: ``dataset``, ``K``, ``p``, ``split``, ``pmsd`` (float64
        [M]), ``levels`` (int64 [M]), ``shares`` (float64 [K]), ``mean_pmsd``, ``noise`` (the
        DataFrame of :func:`srsupm_lab.analysis.plots.noise_effect_table`), ``seconds`` (the redraw time).
    """

    def __init__(self, datasets: Mapping[str, SequenceDataset] | None = None, K: int = 5, p: float = 0.0,
                 dataset: str = "synthetic", split: str = "train", bins: int = 20,
                 noise_grid: Sequence[float] = NOISE_GRID, seed: int = 0, max_len: int = 50, root=None):
        import ipywidgets as w
        from matplotlib.figure import Figure

        if split not in ("train", "valid", "test"):
            raise ValueError(f"split must be 'train', 'valid' or 'test', got {split!r}")
        self._given = dict(datasets) if datasets is not None else {}
        names = list(self._given) if datasets is not None else available_datasets(root)
        if not names:
            raise ValueError("ShiftExplorer: no dataset to explore")
        if dataset not in names:
            raise ValueError(f"ShiftExplorer: dataset {dataset!r} is not available; choose from {names}")
        self.root, self.split_name, self.bins, self.seed, self.max_len = root, split, int(bins), int(seed), int(max_len)
        self.noise_grid = tuple(float(x) for x in noise_grid)
        self._windows: dict[str, tuple] = {}                 # name -> (inputs, targets, item_labels)
        self._pmsd: dict[tuple[str, float], np.ndarray] = {}  # (name, p) -> PMSD of the windows

        self.K = w.IntSlider(value=K, min=3, max=7, step=1, description="levels K", continuous_update=False)
        self.p = w.FloatSlider(value=p, min=0.0, max=0.5, step=0.05, description="noise p", readout_format=".2f",
                               continuous_update=False)
        self.dataset = w.Dropdown(options=names, value=dataset, description="dataset")
        self.summary = w.HTML()
        self.image = w.Image(format="png")
        self.image.add_class("srsupm-shift-figure")
        self.summary.add_class("srsupm-shift-summary")
        self.figure = Figure(figsize=FIGSIZE, layout="constrained")
        self.image.layout = undistorted_layout(round(FIGSIZE[0] * DPI))
        self.axes = self.figure.subplots(1, 3, width_ratios=[1.3, 1, 1])
        self.widget = w.VBox([w.HBox([self.dataset, self.K, self.p]), self.summary, self.image])
        self.current: dict = {}
        for control in (self.K, self.p, self.dataset):
            control.observe(self._on_change, names="value")
        self.redraw()

    # ------------------------------------------------------------------ data, cached
    def _load(self, name: str):
        if name not in self._windows:
            ds = self._given[name] if name in self._given else load_dataset(name, root=self.root)
            split = leave_one_out(ds, max_len=self.max_len, history=False)
            part = getattr(split, self.split_name)
            self._windows[name] = (part.inputs, part.targets, ds.item_labels)
        return self._windows[name]

    def pmsd(self, name: str, p: float) -> np.ndarray:
        """PMSD (Eq. 2) of the dataset's windows with labels after noise ``p`` (cached)."""
        key = (name, round(float(p), 6))
        if key not in self._pmsd:
            inputs, targets, labels = self._load(name)
            noisy = pmsa.drop_labels(labels, key[1], seed=self.seed) if key[1] > 0 else labels
            values, _ = pmsa.assess(inputs, targets, noisy, 3)     # K is irrelevant to PMSD itself
            self._pmsd[key] = values.numpy()
        return self._pmsd[key]

    # ------------------------------------------------------------------ drawing
    def _on_change(self, change) -> None:
        self.redraw()

    def redraw(self) -> dict:
        """Recompute what the controls ask for, redraw the three panels and return ``current``."""
        t0 = time.perf_counter()
        name, K, p = self.dataset.value, int(self.K.value), round(float(self.p.value), 6)
        values = self.pmsd(name, p)
        levels = pmsa.shift_level(values, K)
        shares = np.bincount(levels, minlength=K) / values.size
        grid = sorted(set(self.noise_grid) | {p})
        noise = plots.noise_effect_table({q: self.pmsd(name, q) for q in grid}, K)

        for ax in self.axes:
            ax.clear()
        plots.pmsd_histogram(values, bins=self.bins, ax=self.axes[0], K=K,
                             title=f"{name}: PMSD of {values.size:,} {self.split_name} windows (p={p:.2f})")
        plots.level_shares(levels, K, ax=self.axes[1], title=f"Level shares, K={K}, p={p:.2f}")
        plots.noise_effect(noise, kind="levels", ax=self.axes[2], current_p=p)
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png", dpi=DPI)
        self.image.value = buf.getvalue()

        share_text = " / ".join(f"{s:.3f}" for s in shares)
        self.summary.value = (f"<b>{name}</b>, K={K}, p={p:.2f}: {values.size:,} windows, "
                              f"mean PMSD {values.mean():.3f}; level shares 0..{K - 1}: "
                              f"<span class='srsupm-shares'>{share_text}</span>")
        self.current = {"dataset": name, "K": K, "p": p, "split": self.split_name, "pmsd": values,
                        "levels": levels, "shares": shares, "mean_pmsd": float(values.mean()), "noise": noise,
                        "seconds": time.perf_counter() - t0}
        return self.current

    # ------------------------------------------------------------------ display
    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a static snapshot (summary and figure) for readers without a kernel."""
        width, height = (round(v * DPI) for v in FIGSIZE)
        snapshot = (f"<div>{self.summary.value}</div>"
                    + png_img(self.image.value, "PMSD histogram, level shares and label-noise panels", width, height))
        return with_static_snapshot(self.widget._repr_mimebundle_(**kwargs), snapshot, repr(self))

    def __repr__(self) -> str:
        c = self.current
        return f"ShiftExplorer(dataset={c.get('dataset')!r}, K={c.get('K')}, p={c.get('p')})"


def shift_explorer(datasets: Mapping[str, SequenceDataset] | None = None, **options) -> ShiftExplorer:
    """Build a :class:`ShiftExplorer` (display it by leaving it last in a cell). Options as the class."""
    return ShiftExplorer(datasets, **options)

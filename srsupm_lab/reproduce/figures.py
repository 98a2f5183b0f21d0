"""The paper's Figs. 6, 7 and 8 drawn from finished runs, for the reproduction reports (paper §5.5–5.7).

==================  ============================================================================
Fig. 7 (§5.6)       per PMSA level, test Recall/NDCG of a backbone alone and +SRSUPM (the runs'
                    stored ``test_levels.csv``, same seed): :func:`fig7_table`, :func:`plot_fig7`
Fig. 6 (§5.5)       mean shift distribution α per level (method.md §5, Eq. 9) of the full model,
                    beside the run without PMSID when there is one: :func:`fig6_table`
Fig. 8 (§5.7)       densities of the distances between basic views of training windows sharing
                    a target, same level vs. other level (method.md §7), full model beside the run
                    without PMSIM when there is one: :func:`fig8_table`
==================  ============================================================================

Runs are picked from :func:`.collect.collect`'s frame: K = 5, no label noise, the
lowest seed (Figs. 6 and 8: the lowest seed the full model and its ablation share). Figs. 6 and 8
bring the best checkpoints back (:func:`experiment.load_trained`): Fig. 6 on the test windows
with their clean levels, Fig. 8 on the training windows with the training levels (the PMSIM
groups of Eq. 11). A finished run keeps what they measured in its
folder (``fig6_alpha.json``: the K×K matrix, counts, dominance, information; ``fig8_distances.json``:
pair counts, separation and 1001 quantiles of each distance set), so the figures can be drawn
again from run folders kept without their checkpoints (``reports/runs/``).
:func:`write_figures` writes the CSVs and PNGs.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..analysis import shift as analysis
from ..analysis import shift_plots as analysis_plots
from ..analysis import branches as diagnostics
from ..atomic import atomic_write
from ..experiment import can_measure, load_trained
from ..run_folder import FIG6_FILE, FIG8_FILE, load_results, write_json
from ..methods.srsupm.frame import ablated, plain
from ..methods.srsupm.grids import SWITCHES

__all__ = ["fig7_table", "plot_fig7", "fig6_table", "fig8_table", "write_figures", "write_departure_fig6",
           "QUANTILES"]


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Runs with the default K and no label noise, lowest seed first."""
    return df[plain(df)].sort_values(["seed", "run"], kind="stable")


def _runs(df: pd.DataFrame, dataset: str, backbone: str, srsupm: bool, off: tuple[str, ...] = ()) -> pd.DataFrame:
    """The runs of a model, lowest seed first: ``off`` lists the ablation switches that are off (the others on)."""
    sub = _plain(df)
    sub = sub[(sub["dataset"] == dataset) & (sub["backbone"] == backbone) & (sub["srsupm"].astype(bool) == srsupm)]
    if srsupm:
        for s in SWITCHES:
            sub = sub[sub[s].astype(bool) == (s not in off)]
    return sub


def _with_ablation(df, runs_dir, dataset: str, backbone: str, off: str, label: str, file: str) -> dict:
    """``{"SRSUPM": run, label: run}`` of the lowest seed where the full model and its run without
    ``off`` can both be measured (``file``), else ``{"SRSUPM": run}`` of the full model's lowest
    measurable seed, else {}: the two panels of Fig. 6 or 8 always share a seed."""
    def measurable(runs: pd.DataFrame) -> pd.DataFrame:
        return runs[[can_measure(Path(runs_dir) / r, file) for r in runs["run"]]] if len(runs) else runs

    full = measurable(_runs(df, dataset, backbone, True)).set_index("seed", drop=False)
    ablated = measurable(_runs(df, dataset, backbone, True, (off,))).set_index("seed", drop=False)
    shared = sorted(set(full.index) & set(ablated.index))
    if shared:
        return {"SRSUPM": full.loc[shared[0]], label: ablated.loc[shared[0]]}
    return {"SRSUPM": full.iloc[0]} if len(full) else {}


# ----------------------------------------------------------------------------- Fig. 7
def fig7_table(df: pd.DataFrame, runs_dir) -> pd.DataFrame:
    """Per-level test metrics of every backbone alone and +SRSUPM (lowest seed both have), with the gain.

    One :func:`analysis.level_gain_table` per (dataset, backbone) pair of default-setting runs,
    stacked with ``dataset``, ``backbone``, ``seed`` columns; the two value columns are named
    ``alone`` and ``srsupm``. Empty when no pair exists.
    """
    sub = _plain(df)
    sub = sub[sub[list(SWITCHES)].astype(bool).all(axis=1)]
    parts = []
    for (ds, bb), g in sub.groupby(["dataset", "backbone"], sort=True):
        both = sorted(set(g.loc[g["srsupm"].astype(bool), "seed"]) & set(g.loc[~g["srsupm"].astype(bool), "seed"]))
        if not both:
            continue
        pick = g[g["seed"] == both[0]]
        tables = [load_results(Path(runs_dir) / pick.loc[pick["srsupm"].astype(bool) == plug, "run"].iloc[0])
                  ["test_table"] for plug in (False, True)]
        t = analysis.level_gain_table(*tables, names=("alone", "srsupm"))
        for col, value in (("seed", both[0]), ("backbone", bb), ("dataset", ds)):
            t.insert(0, col, value)
        parts.append(t)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def plot_fig7(table: pd.DataFrame, metric: str = "recall@10"):
    """One panel of per-level bars (:func:`analysis_plots.plot_level_gain`) per (dataset, backbone) of :func:`fig7_table`."""
    from matplotlib.figure import Figure

    pairs = list(table.groupby(["dataset", "backbone"], sort=True))
    if not pairs:
        raise ValueError("plot_fig7: the table is empty (no backbone has runs alone and +SRSUPM)")
    fig = Figure(figsize=(6.5 * min(len(pairs), 2), 3.8 * ((len(pairs) + 1) // 2)), layout="constrained")
    axes = fig.subplots((len(pairs) + 1) // 2, min(len(pairs), 2), squeeze=False).ravel()
    for ax, ((ds, bb), t) in zip(axes, pairs):
        t = t.drop(columns=["dataset", "backbone", "seed"]).rename(columns={"alone": bb, "srsupm": f"{bb}+SRSUPM"})
        analysis_plots.plot_level_gain(t, metric, ax=ax, title=f"{ds}: {metric} per PMSA level (Fig. 7)")
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    return fig


# ----------------------------------------------------------------------------- Fig. 6
QUANTILES = np.linspace(0.0, 1.0, 1001)


def _finished(out: Path) -> bool:
    """A finished run's best weights no longer change, so what is measured on them can be kept."""
    return (out / "results.json").exists()


def _fig6_frame(matrix, windows, dominance, information) -> pd.DataFrame:
    matrix = np.asarray(matrix, dtype=np.float64)
    K = matrix.shape[0]
    table = pd.DataFrame(matrix, index=pd.Index(range(K), name="level"), columns=pd.Index(range(K), name="branch"))
    table.attrs.update(windows=[int(c) for c in windows], dominance=dict(dominance), information=dict(information))
    return table


def fig6_table(runs_dir, run: str, batch_size: int = 1024) -> pd.DataFrame:
    """Mean α per (PMSA level, branch) of one run on its test windows (clean levels): a K×K frame.

    ``table.attrs``: ``windows`` (per level), ``dominance`` (:func:`analysis.diagonal_dominance`)
    and ``information`` (:func:`diagnostics.level_information` on the same windows). Read from the
    run's ``fig6_alpha.json`` when it is there, else measured on the best checkpoint and, for a
    finished run, stored there.
    """
    out = Path(runs_dir) / run
    if (out / FIG6_FILE).exists():
        stored = json.loads((out / FIG6_FILE).read_text(encoding="utf-8"))
        return _fig6_frame(stored["matrix"], stored["windows"], stored["dominance"], stored["information"])
    trained = load_trained(out)
    windows, levels = trained.data.split.test, trained.data.test_levels
    alpha = analysis.shift_distributions(trained.model, windows, batch_size)
    matrix, counts = analysis.mean_shift_matrix(alpha, levels, alpha.shape[1])
    table = _fig6_frame(matrix, counts, analysis.diagonal_dominance(matrix, counts),
                        diagnostics.level_information(alpha, levels))
    if _finished(out):
        write_json(out / FIG6_FILE, {"run": run, "best_epoch": trained.best_epoch, "windows": "test",
                                      "matrix": table.to_numpy().tolist(), **table.attrs})
    return table


# ----------------------------------------------------------------------------- Fig. 8
def fig8_table(runs_dir, run: str, max_pairs: int | None = 200_000, seed: int = 0) -> dict:
    """Fig. 8 of one run: :func:`analysis.view_distances` on its training windows and levels (Eq. 11 groups), summarised.

    Returns a dict that :func:`analysis_plots.plot_view_distances` draws: for ``analysis.SAME_LEVEL`` and
    ``analysis.TARGET_ONLY`` the 1001 quantiles (0, 0.001, …, 1) of the distances (an equally
    weighted summary of up to ``max_pairs`` pairs; empty when the set is), ``pairs`` (the number
    of pairs in each set), ``total_pairs``, ``separation`` (:func:`analysis.separation`, exact) and
    the ``max_pairs``/``seed`` of the sample. Read from the run's ``fig8_distances.json`` when it
    holds the same ``max_pairs`` and ``seed``; else measured on the best checkpoint and, for a
    finished run, stored there.
    """
    out = Path(runs_dir) / run
    if (out / FIG8_FILE).exists():
        stored = json.loads((out / FIG8_FILE).read_text(encoding="utf-8"))
        if stored.get("max_pairs") == max_pairs and stored.get("seed") == seed:
            for name in (analysis.SAME_LEVEL, analysis.TARGET_ONLY):
                stored[name] = np.asarray(stored[name], dtype=np.float64)
            return stored
    trained = load_trained(out)
    d = analysis.view_distances(trained.model, trained.data.split.train, trained.data.train_levels,
                                max_pairs=max_pairs, seed=seed)
    sets = (analysis.SAME_LEVEL, analysis.TARGET_ONLY)
    summary = {name: np.quantile(d[name], QUANTILES) if d[name].size else np.empty(0) for name in sets}
    summary.update(pairs={name: int(d[name].size) for name in sets}, total_pairs=int(d["total_pairs"]),
                   separation=analysis.separation(d), max_pairs=max_pairs, seed=seed)
    if _finished(out):
        write_json(out / FIG8_FILE, {"run": run, "best_epoch": trained.best_epoch, "windows": "train",
                                      **{k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                         for k, v in summary.items()}})
    return summary


# ----------------------------------------------------------------------------- writing
def _savefig(fig, path: Path) -> None:
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))


def _fig6_figure(tables: dict[str, pd.DataFrame]):
    """One mean-α heatmap per titled :func:`fig6_table`, side by side on a shared colour scale."""
    from matplotlib.figure import Figure
    top = max(float(np.nanmax(t.to_numpy())) for t in tables.values())
    fig = Figure(figsize=(6.3 * len(tables), 4.4), layout="constrained")
    for ax, (title, t) in zip(fig.subplots(1, len(tables), squeeze=False).ravel(), tables.items()):
        analysis_plots.plot_alpha_heatmap(t, ax=ax, vmax=top, title=f"{title}: mean α per level")
    return fig


def _fig6_summary(t: pd.DataFrame) -> str:
    return (f"α at own level {t.attrs['dominance']['diagonal_weighted']:.3f} (uniform "
            f"{t.attrs['dominance']['uniform']:.2f}), level information {t.attrs['information']['information']:.3f} nats")


def write_departure_fig6(departures: pd.DataFrame, runs_dir, reports_dir) -> tuple[dict[str, Path], list[str]]:
    """``fig6_departures.png``: Fig. 6 of every run of a departure from the paper (e.g. learned level
    temperatures) that can still be measured, one panel each; returns ({name: path}, markdown parts)."""
    runs = [r for r in departures["run"] if can_measure(Path(runs_dir) / r, FIG6_FILE)] if len(departures) else []
    if not runs:
        return {}, []
    tables = {run: fig6_table(runs_dir, run) for run in runs}
    path = Path(reports_dir) / "fig6_departures.png"
    _savefig(_fig6_figure(tables), path)
    info = "; ".join(f"{run}: {_fig6_summary(t)}" for run, t in tables.items())
    return {"fig6_departures": path}, [f"\nFig. 6 of the departures, test windows: {info}.\n\n"
                                        "![Fig. 6, departures](fig6_departures.png)\n"]


def _figure_backbones(df: pd.DataFrame) -> list[str]:
    """SASRec (the paper's Figs. 6 and 8), then every other backbone with a Table 3 ablation run."""
    plain_runs = _plain(df)
    ablated_runs = plain_runs[ablated(plain_runs)]
    return ["sasrec"] + sorted(set(ablated_runs["backbone"]) - {"sasrec"})


def _suffix(ds: str, backbone: str) -> str:
    """``<dataset>`` for SASRec (the paper's figures), ``<dataset>_<backbone>`` for the others."""
    return ds if backbone == "sasrec" else f"{ds}_{backbone}"


def _fig6_for(df, runs_dir, reports: Path, ds: str, backbone: str):
    """Fig. 6 of ``backbone``+SRSUPM on ``ds`` beside its run without PMSID: (written, markdown, CSV rows)."""
    models = _with_ablation(df, runs_dir, ds, backbone, "pmsid", "w/o PMSID", FIG6_FILE)
    if "SRSUPM" not in models:
        return {}, [], []
    tables = {name: fig6_table(runs_dir, r["run"]) for name, r in models.items()}
    name = f"fig6_{_suffix(ds, backbone)}"
    _savefig(_fig6_figure({f"{ds}, {backbone} {m}": t for m, t in tables.items()}), reports / f"{name}.png")
    rows = []
    for m, t in tables.items():
        long = t.stack().rename("alpha").reset_index()
        for col, value in (("model", m), ("run", models[m]["run"]), ("backbone", backbone), ("dataset", ds)):
            long.insert(0, col, value)
        long["windows"] = [t.attrs["windows"][lvl] for lvl in long["level"]]
        rows.append(long)
    info = "; ".join(f"{m}: {_fig6_summary(t)}" for m, t in tables.items())
    md = (f"## Fig. 6 — mean shift distribution α per PMSA level, {ds}, {backbone}+SRSUPM, test "
          f"windows\n\n{info} (`diagnostics.level_information`).\n\n![Fig. 6, {ds}, {backbone}]({name}.png)\n")
    return {name: reports / f"{name}.png"}, [md], rows


def _fig8_for(df, runs_dir, reports: Path, ds: str, backbone: str, max_pairs: int | None):
    """Fig. 8 of ``backbone``+SRSUPM on ``ds`` beside its run without PMSIM: (written, markdown, CSV rows)."""
    from matplotlib.figure import Figure

    models = _with_ablation(df, runs_dir, ds, backbone, "pmsim", "w/o PMSIM", FIG8_FILE)
    if "SRSUPM" not in models:
        return {}, [], []
    dists = {m: fig8_table(runs_dir, r["run"], max_pairs=max_pairs) for m, r in models.items()}
    dists = {m: d for m, d in dists.items() if d["total_pairs"]}
    if not dists:
        return {}, [], []
    fig = Figure(figsize=(5.5 * len(dists), 3.6), layout="constrained")
    for ax, (m, d) in zip(fig.subplots(1, len(dists), squeeze=False).ravel(), dists.items()):
        analysis_plots.plot_view_distances(d, ax=ax, title=f"{ds}, {backbone} {m}: separation {d['separation']:.3f}")
    name = f"fig8_{_suffix(ds, backbone)}"
    _savefig(fig, reports / f"{name}.png")
    rows = []
    for m, d in dists.items():
        same, other = d[analysis.SAME_LEVEL], d[analysis.TARGET_ONLY]          # quantiles: [500] is the median
        rows.append({"dataset": ds, "backbone": backbone, "run": models[m]["run"], "model": m,
                     "total_pairs": d["total_pairs"], "same_level_pairs": d["pairs"][analysis.SAME_LEVEL],
                     "target_only_pairs": d["pairs"][analysis.TARGET_ONLY],
                     "median_same_level": float(np.median(same)) if same.size else np.nan,
                     "median_target_only": float(np.median(other)) if other.size else np.nan,
                     "separation": d["separation"]})
    sep = "; ".join(f"{r['model']}: {r['separation']:.3f}" for r in rows)
    md = (f"## Fig. 8 — distances between basic views of training windows sharing a target, {ds}, "
          f"{backbone}+SRSUPM\n\nSeparation, P(a same-level pair is closer than a target-only pair): "
          f"{sep} (0.5: no separation).\n\n![Fig. 8, {ds}, {backbone}]({name}.png)\n")
    return {name: reports / f"{name}.png"}, [md], rows


def write_figures(df: pd.DataFrame, runs_dir, reports_dir, backbones=None,
                  max_pairs: int | None = 200_000) -> tuple[dict[str, Path], list[str]]:
    """Write Figs. 7, 6 and 8 for every dataset the runs cover; returns ({name: path}, markdown parts).

    * ``fig7.csv`` + ``fig7_<dataset>.png`` — every backbone with runs alone and +SRSUPM;
    * ``fig6.csv`` + ``fig6_<dataset>[_<backbone>].png`` — each of ``backbones``+SRSUPM, and its run
      without PMSID;
    * ``fig8.csv`` + ``fig8_<dataset>[_<backbone>].png`` — each of ``backbones``+SRSUPM, and its run
      without PMSIM (the CSV gives pair counts, median distances and the separation of each model).

    ``backbones`` defaults to SASRec (the paper's figures; their files carry no backbone name) and
    every other backbone that has a Table 3 ablation run. A run kept with neither its stored
    measurement nor its checkpoint is left out of Figs. 6 and 8.
    """
    reports = Path(reports_dir)
    reports.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    md: list[str] = []
    if not len(df):
        return written, md

    def save_csv(name, table):
        path = reports / f"{name}.csv"
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
        written[name] = path

    f7 = fig7_table(df, runs_dir)
    if not f7.empty:
        save_csv("fig7", f7)
        for ds, t in f7.groupby("dataset", sort=True):
            _savefig(plot_fig7(t), reports / f"fig7_{ds}.png")
            written[f"fig7_{ds}"] = reports / f"fig7_{ds}.png"
            md.append(f"## Fig. 7 — test Recall@10 per PMSA level, {ds}, each backbone alone and +SRSUPM\n\n"
                      f"![Fig. 7, {ds}](fig7_{ds}.png)\n")
    if backbones is None:
        backbones = _figure_backbones(df)
    elif isinstance(backbones, str):
        backbones = [backbones]
    rows6, rows8 = [], []
    for ds in sorted(set(df["dataset"])):
        for bb in backbones:
            drawn, parts, rows = _fig6_for(df, runs_dir, reports, ds, bb)
            written.update(drawn)
            md.extend(parts)
            rows6.extend(rows)
            drawn, parts, rows = _fig8_for(df, runs_dir, reports, ds, bb, max_pairs)
            written.update(drawn)
            md.extend(parts)
            rows8.extend(rows)
    if rows6:
        save_csv("fig6", pd.concat(rows6, ignore_index=True))
    if rows8:
        save_csv("fig8", pd.DataFrame(rows8))
    return written, md

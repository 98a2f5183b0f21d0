"""The report files: tables, paired comparisons and figures of the collected runs, in CSV, PNG and one
markdown file, ``reproduction.md`` (method.md §10–§12).

The last step of the flow grids → engines → run folders → :mod:`.collect` → :mod:`.tables` /
:mod:`.significance` / :mod:`.figures` → here. Every file is written atomically.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..atomic import atomic_write
from ..methods.srsupm.frame import RUNS_COLUMNS, paper_model
from .collect import METRICS
from .figures import write_departure_fig6, write_figures
from .comparisons import (POOLED_NOTE, ablation_backbone_significance_report, ablation_significance_report,
                           departure_significance_report, significance_report, sweep_significance_report)
from .report_folder import check_replace, staged
from .tables import fig3_report, plot_fig3, table1_report, table3_report, table4_report

__all__ = ["write_reports", "markdown_table"]


def _cell(mean, sd) -> str:
    if mean is None or not np.isfinite(mean):
        return ""
    return f"{mean:.4f}" if sd is None or not np.isfinite(sd) else f"{mean:.4f} ± {sd:.4f}"


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a markdown table, every value as ``str`` gives it."""
    cols = list(table.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(str(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _table1_markdown(t: pd.DataFrame) -> str:
    parts = []
    for ds, g in t.groupby("dataset", sort=False):
        rows = []
        for (bb, plug), h in g.groupby(["backbone", "srsupm"], sort=False):
            row = {"model": bb + (" +SRSUPM" if plug else ""), "seeds": int(h["seeds"].iloc[0])}
            for _, r in h.iterrows():
                cell = _cell(r["mean"], r["sd"])
                if np.isfinite(r["paper"]):
                    cell += f" (paper {r['paper']:.4f})"
                if plug and np.isfinite(r["gain"]):
                    cell += f" [{r['gain']:+.1%}" + (f"; paper {r['paper_gain']:+.1%}]" if np.isfinite(r["paper_gain"])
                                                    else "]")
                row[r["metric"]] = cell
            rows.append(row)
        parts.append(f"### {ds}\n\n" + markdown_table(pd.DataFrame(rows)))
    return ("## Table 1 — full ranking, mean ± sd over seeds (paper's value in brackets; "
            "[relative gain of +SRSUPM over the backbone])\n\n" + "\n".join(parts))


def _summary_markdown(title: str, s: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str]) -> str:
    rows = []
    for _, r in s.iterrows():
        row = {k: r[k] for k in keys}
        row["seeds"] = int(r["seeds"])
        for m in metrics:
            cell = _cell(r[f"{m}_mean"], r[f"{m}_sd"])
            p = r.get(f"{m}_paper")
            if p is not None and np.isfinite(p):
                cell += f" (paper {p:.4f})"
            row[m] = cell
        rows.append(row)
    return f"## {title}\n\n" + markdown_table(pd.DataFrame(rows))


def _significance_markdown(sig: pd.DataFrame, keys: Sequence[str]) -> str:
    shown = sig.assign(gain=[f"{g:+.4f} [{lo:+.4f}, {hi:+.4f}]" for g, lo, hi in
                             zip(sig["gain"], sig["ci_low"], sig["ci_high"])],
                       relative=[f"{r:+.1%}" for r in sig["relative"]],
                       p_value=[f"{p:.3f}" for p in sig["p_value"]],
                       a=[f"{v:.4f}" for v in sig["a"]], b=[f"{v:.4f}" for v in sig["b"]])
    cols = [*keys, "metric", "a", "b", "gain", "relative", "p_value"]
    if "seed_ci_low" in sig:                # the interval over seeds and users (analysis.seed_uncertainty)
        shown = shown.assign(over_seeds=[f"[{lo:+.4f}, {hi:+.4f}] p {p:.3f}" for lo, hi, p in
                                         zip(sig["seed_ci_low"], sig["seed_ci_high"], sig["seed_p_value"])])
        cols.append("over_seeds")
    return markdown_table(shown[cols])


def _setting_markdown(df: pd.DataFrame) -> str:
    """The optimisation setting and SRSUPM weights the collected runs used (several values: all listed)."""
    items = []
    for col in ("lr", "batch_size", "epochs", "lambda1", "lambda2", "gamma", "tau"):
        if col in df:
            values = sorted(v for v in df[col].dropna().unique())
            if values:
                items.append(f"{col} {', '.join(f'{v:g}' for v in values)}")
    return ("Setting: " + "; ".join(items) + " (TrainConfig defaults elsewhere; patience 10 unless the epoch "
            "budget ends the run first).\n") if items else ""


#: (file, report, heading, what a positive gain means, key columns) of each paired comparison
PAIRED = (
    ("significance", significance_report,
     "Is the gain more than noise? +SRSUPM against its backbone, same seed, same test users", "",
     ["dataset", "backbone", "seed"]),
    ("significance_ablations", ablation_significance_report,
     "What each part adds: the full SRSUPM (B) against each ablation (A), same seed, same test users",
     ": a positive gain is what the switched-off part contributes", ["dataset", "backbone", "variant", "seed"]),
    ("significance_ablations_vs_backbone", ablation_backbone_significance_report,
     "Does a reduced model still beat the backbone? Each ablation (B) against the backbone alone (A), "
     "same seed, same test users", ": for the control (w/o pmsid+pmsim+pmi), the gain of the added SIC "
     "layers alone", ["dataset", "backbone", "variant", "seed"]),
    ("significance_sweeps", sweep_significance_report,
     "Fig. 3 and Table 4 runs: each setting (B) against K = 5, p = 0 and against the backbone alone (A), "
     "same seed, same test users", "", ["dataset", "backbone", "setting", "against", "seed"]),
)


class _Files:
    """The report's files as they are written: into ``stage`` (:func:`.report_folder.staged`), named by their
    place in ``reports``; earlier files (``previous``, ``table2.md``) are read from ``reports``."""

    def __init__(self, stage: Path, reports: Path):
        self.stage, self.reports, self.written = stage, reports, {}

    def csv(self, name: str, table: pd.DataFrame) -> None:
        atomic_write(self.stage / f"{name}.csv", lambda tmp: table.to_csv(tmp, index=False))
        self.written[name] = self.reports / f"{name}.csv"

    def add(self, drawn: dict[str, Path]) -> None:
        """Files a writer put in the staging folder itself (figures)."""
        self.written.update({name: self.reports / Path(path).name for name, path in drawn.items()})

    def previous(self, name: str) -> pd.DataFrame | None:
        """The last report's table: kept for pairs whose ranks are gone."""
        path = self.reports / f"{name}.csv"
        return pd.read_csv(path) if path.exists() and path.stat().st_size > 1 else None


def write_reports(df: pd.DataFrame, reports_dir, runs_dir=None, n_boot: int = 2000,
                  figures: bool = True, replace: bool = False) -> dict[str, Path]:
    """Write the tables (and Fig. 3) the collected runs cover; returns {name: path} of the files written.

    ``table1.csv``/``table3.csv``/``table4.csv``/``fig3.csv`` (tidy numbers), ``fig3.png``,
    ``runs.csv`` (the collected frame) and ``reproduction.md`` (all tables in markdown, with
    Table 2 from ``table2.md`` when ``reproduce --grid table2`` wrote it). With ``runs_dir`` the
    runs' per-user test ranks go to the paired comparisons of :mod:`.significance` (``PAIRED``:
    ``significance.csv``, ``significance_ablations.csv``, ``significance_ablations_vs_backbone.csv``,
    ``significance_sweeps.csv``, ``significance_departures.csv``), and with ``figures`` the paper's
    Figs. 6–8 are drawn from the runs (:func:`.figures.write_figures`).

    The folder is written as a whole or not at all, and a folder holding the report of other runs is
    refused unless ``replace`` (:mod:`.report_folder`); runs of one table cell must share their settings.
    """
    reports = Path(reports_dir)
    runs_table = df[[c for c in RUNS_COLUMNS if c in df]]               # the paper's layout of runs.csv
    check_replace(reports, runs_table, runs_dir, replace=replace)
    with staged(reports) as stage:
        files = _Files(stage, reports)
        files.csv("runs", runs_table)
        departures = df[~paper_model(df)] if len(df) else df
        paper_df = df[paper_model(df)] if len(df) else df
        md = ["# Reproduction of the paper's experiments\n",
              f"{len(paper_df)} finished runs. Mean ± sample sd (ddof = 1) over seeds; metrics on the test set with "
              "full ranking, seen items masked, ties against the model (see reports/README.md).\n",
              _setting_markdown(paper_df)]
        md += _paper_tables(paper_df, files)
        if runs_dir is not None and len(paper_df):
            md += _paired_comparisons(paper_df, runs_dir, n_boot, files)
        if runs_dir is not None and figures:
            drawn, parts = write_figures(paper_df, runs_dir, stage)   # Figs. 6-8 from the runs' checkpoints
            files.add(drawn)
            md.extend(parts)
        table2 = reports / "table2.md"             # written by `reproduce --grid table2` (srsupm_lab.methods.srsupm.timing)
        if table2.exists():
            md.append(table2.read_text(encoding="utf-8"))
        if len(departures):
            md += _departures(df, departures, runs_dir, n_boot, figures, files)
        text = "\n".join(md)
        atomic_write(stage / "reproduction.md", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
        files.written["markdown"] = reports / "reproduction.md"
    return files.written


def _paper_tables(df: pd.DataFrame, files: _Files) -> list[str]:
    """Tables 1, 3, 4 and Fig. 3 (CSV, PNG) of the paper's model; their markdown parts."""
    md = []
    t1 = table1_report(df) if len(df) else pd.DataFrame()
    if not t1.empty:
        files.csv("table1", t1)
        md.append(_table1_markdown(t1))
    t3 = table3_report(df) if len(df) else pd.DataFrame()
    if not t3.empty:
        files.csv("table3", t3)
        md.append(_summary_markdown("Table 3 — ablations (the paper's are on SASRec; its value in brackets)", t3,
                                    ["dataset", "backbone", "variant"], ("recall@10", "ndcg@10")))
    t4 = table4_report(df) if len(df) else pd.DataFrame()
    if not t4.empty:
        files.csv("table4", t4)
        md.append(_summary_markdown("Table 4 — label noise p, +SRSUPM (the paper's is SASRec's; its value in "
                                    "brackets)", t4, ["dataset", "backbone", "noise_p"], ("recall@10",)))
    f3 = fig3_report(df) if len(df) else pd.DataFrame()
    if not f3.empty:
        files.csv("fig3", f3)
        md.append(_summary_markdown("Fig. 3 — number of shift levels K, +SRSUPM (the paper's is SASRec's)", f3,
                                    ["dataset", "backbone", "K"], METRICS))
        import matplotlib.pyplot as plt
        fig = plot_fig3(f3)
        atomic_write(files.stage / "fig3.png", lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
        plt.close(fig)
        files.written["fig3_png"] = files.reports / "fig3.png"
        md.append("![Fig. 3](fig3.png)\n")
    return md


def _paired_comparisons(df: pd.DataFrame, runs_dir, n_boot: int, files: _Files) -> list[str]:
    """The ``PAIRED`` comparisons of the paper's model (CSV each); their markdown parts."""
    md = []
    for name, report, heading, meaning, keys in PAIRED:
        table = report(df, runs_dir, n_boot=n_boot, previous=files.previous(name))
        if not table.empty:
            files.csv(name, table)
            md.append(f"## {heading}\n\nGain (B − A) with its 95 % paired-bootstrap interval over the test "
                      f"users ({n_boot} resamples) and a two-sided p-value (srsupm_lab.analysis.significance){meaning}. "
                      + POOLED_NOTE + "\n\n" + _significance_markdown(table, keys))
    return md


def _departures(every_run: pd.DataFrame, departures: pd.DataFrame, runs_dir, n_boot: int, figures: bool,
                files: _Files) -> list[str]:
    """The runs of a departure from the paper: their metrics, their comparison with the paper's model, Fig. 6."""
    md = ["## Departures from the paper (not in the tables above)\n\n"
          "Runs with `level_temperature = learned`: the level softmaxes of Eqs. 9 and 19 learn their "
          "scales (srsupm_lab/methods/srsupm/temperature.py). Test metrics:\n\n"
          + markdown_table(departures[["run", *METRICS, "best_epoch", "epochs_run"]].round(4))]
    dep = pd.DataFrame() if runs_dir is None else departure_significance_report(
        every_run, runs_dir, n_boot=n_boot, previous=files.previous("significance_departures"))
    if not dep.empty:
        files.csv("significance_departures", dep)
        md.append("\nEach departure (B) against the paper's model (A), same seed and switches, same test users "
                  f"({n_boot} paired-bootstrap resamples). " + POOLED_NOTE + "\n\n"
                  + _significance_markdown(dep, ["dataset", "backbone", "departure", "seed"]))
    if runs_dir is not None and figures:
        drawn, parts = write_departure_fig6(departures, runs_dir, files.stage)
        files.add(drawn)
        md.extend(parts)
    return md

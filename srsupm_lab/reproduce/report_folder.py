"""A report folder is written as a whole or not at all, and never over the tables of other runs (method.md §11).

:func:`.report.write_reports` writes the paper's tables of a set of runs (``runs.csv`` lists them). Two
things could leave a folder that lies:

* **a partial write** (a failure half way, or tables of an earlier grid left beside the new ones): every
  file is first written into a staging folder inside the reports folder (:func:`staged`); only when all
  of them are written are they moved into place, each by an atomic rename, and the files an earlier
  report wrote that this one does not (:data:`OWNED` patterns, e.g. ``table3.csv`` of a grid that had
  ablations) are removed, so the folder always describes one set of runs. A failure before the moves
  leaves the folder as it was.
* **another grid's runs**: a folder whose ``runs.csv`` lists runs the new report would drop or change
  (another runs folder, fewer seeds, a run trained again) is refused with one line
  (:func:`check_replace`) unless the caller asks to replace it (``reproduce --replace-reports``);
  a report that only adds runs (a grid that grew) goes ahead.

A cell of a table is the mean over seeds of runs that differ in their seed only: :func:`check_cells`
refuses runs of one cell that differ in another setting, naming the keys.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

__all__ = ["OWNED", "owned_files", "check_replace", "expected_runs", "check_cells", "staged"]

#: the files a paper report writes in its folder (others there, e.g. ``table2.md`` or notes, are not its own)
OWNED = ("runs.csv", "reproduction.md", "table1.csv", "table3.csv", "table4.csv", "fig3.csv", "fig3.png",
         "significance*.csv", "fig6.csv", "fig6_*.png", "fig7.csv", "fig7_*.png", "fig8.csv", "fig8_*.png")
#: runs.csv columns that may differ between two writes of the same run's row (none are settings or results)
_VOLATILE = ("seconds_per_epoch", "device")
#: collect()'s columns that are not a setting of the run: its name, seed, results and timings
NOT_SETTINGS = ("run", "seed", "recall@10", "recall@20", "ndcg@10", "ndcg@20", "best_epoch", "epochs_run",
                "seconds_per_epoch", "device")
_STAGE_PREFIX = ".report-staging-"


def owned_files(folder) -> list[Path]:
    """The files of ``folder`` (top level) that a paper report writes (:data:`OWNED`)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in OWNED))


def _reported(folder: Path) -> pd.DataFrame | None:
    path = folder / "runs.csv"
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"{path}: not a runs table ({type(err).__name__}); move the reports folder away or give "
                         f"--replace-reports") from None


def _refuse(reports: Path, what: str) -> None:
    raise FileExistsError(f"reproduce: {reports} holds the report of {what}; nothing was written. Give "
                          f"--replace-reports to replace it, or --reports ANOTHER_FOLDER")


def expected_runs(runs_dir, names: Iterable[str]) -> list[str]:
    """The run names a report of ``runs_dir`` will list once the grid ``names`` has run: its finished runs and
    the grid's."""
    runs = Path(runs_dir)
    done = [p.parent.relative_to(runs).as_posix() for p in runs.rglob("results.json")] if runs.is_dir() else []
    return sorted({*done, *names})


def check_replace(reports, new, runs_dir=None, replace: bool = False) -> None:
    """Refuse (``FileExistsError``, one line) to write a report into ``reports`` over the report of other runs.

    ``new`` is what the new report will list: run names (before training: :func:`expected_runs`), or the
    ``runs.csv`` table itself (at write time; rows are then compared value by value, so a run of the same
    name trained again or read from another runs folder counts as another run). A folder without report
    files, or whose runs the new report keeps unchanged, passes; so does any folder with ``replace``."""
    reports = Path(reports)
    if replace or not owned_files(reports):
        return
    old = _reported(reports)
    where = f" below {runs_dir}" if runs_dir is not None else ""
    if old is None or "run" not in old:
        _refuse(reports, "runs it does not list (no runs.csv)")
    if isinstance(new, pd.DataFrame):
        text = new.to_csv(index=False)
        fresh = pd.read_csv(pd.io.common.StringIO(text), dtype=str, keep_default_na=False)
        cols = [c for c in old.columns if c in fresh.columns and c not in _VOLATILE]
        have = set(map(tuple, fresh[cols].itertuples(index=False)))
        lost = [r for r in old[cols].itertuples(index=False) if tuple(r) not in have]
        names = set(fresh["run"])
        lost_names = [r.run for r in lost]
        changed = [n for n in lost_names if n in names]
        if lost:
            detail = (f"{len(changed)} run(s) that differ now (e.g. {changed[0]})" if changed else "")
            gone = [n for n in lost_names if n not in names]
            parts = ([f"{len(gone)} run(s) the runs{where} do not give (e.g. {gone[0]})"] if gone else []) + \
                    ([detail] if detail else [])
            _refuse(reports, f"{len(old)} runs, " + " and ".join(parts))
        return
    gone = sorted(set(old["run"]) - set(new))
    if gone:
        _refuse(reports, f"{len(old)} runs, {len(gone)} of which the runs{where} do not give (e.g. {gone[0]})")


def check_cells(df: pd.DataFrame, by: Sequence[str], what: str) -> None:
    """Refuse (``ValueError``, one line) a group of ``by`` whose runs differ in a setting other than the seed.

    The settings are every column of :func:`.collect.collect`'s frame but the run's name, seed, results and
    timings; a column empty (NaN) for every run of the group is no difference."""
    settings = [c for c in df.columns if c not in (*NOT_SETTINGS, *by)]
    if df.empty or not settings:
        return
    values = df[settings].astype(object).where(df[settings].notna(), "")
    counts = values.assign(**{k: df[k] for k in by}).groupby(list(by), sort=False, dropna=False).nunique()
    bad = counts[(counts > 1).any(axis=1)]
    if bad.empty:
        return
    cell = bad.index[0] if isinstance(bad.index[0], tuple) else (bad.index[0],)
    keys = [c for c in settings if bad.iloc[0][c] > 1]
    mask = (df[list(by)].astype(object) == pd.Series(cell, index=list(by), dtype=object)).all(axis=1)
    shown = "; ".join(f"{k}: {sorted(map(str, df.loc[mask, k].dropna().unique()))}" for k in keys[:4])
    runs = df.loc[mask, "run"].tolist() if "run" in df else []
    raise ValueError(f"reproduce: {what} would average runs trained with different settings in the cell "
                     f"{dict(zip(by, cell))} ({shown}; runs {runs[:4]}); give each setting its own runs and "
                     f"reports folders")


@contextmanager
def staged(reports):
    """Yield a staging folder inside ``reports``; when the block ends without error, move every file written
    there into ``reports`` (atomic renames) and remove the :data:`OWNED` files that were not written again.
    On an error the staging folder is removed and ``reports`` is left as it was (a folder created here is
    removed too)."""
    reports = Path(reports)
    created = not reports.exists()
    reports.mkdir(parents=True, exist_ok=True)
    for old in reports.glob(_STAGE_PREFIX + "*"):          # left by a process that was killed
        shutil.rmtree(old, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, dir=reports))
    try:
        yield stage
        fresh = sorted(p for p in stage.iterdir() if p.is_file())
        keep = {p.name for p in fresh}
        for p in fresh:
            os.replace(p, reports / p.name)
        for p in owned_files(reports):
            if p.name not in keep:
                p.unlink()
    except BaseException:
        if created:
            shutil.rmtree(reports, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)

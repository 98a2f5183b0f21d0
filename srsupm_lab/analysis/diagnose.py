"""The engagement of a finished run folder, on its best weights (CLI ``diagnose``; issue 22).

Loads the run (:func:`srsupm_lab.experiment.load_trained`), measures the numbers of
:mod:`srsupm_lab.methods.srsupm.engagement` on its validation windows, and reads the per-epoch ``eng_*`` columns
its ``history.csv`` recorded while it trained.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..methods.srsupm.engagement import is_engaged, measure
from ..experiment import load_trained

__all__ = ["diagnose"]


def diagnose(out_dir, device: str = "cpu") -> dict:
    """Engagement of a finished (or checkpointed) run folder, on its best weights, plus its history.

    Returns ``{"now": measure(...) on the validation windows, "history": the eng_* columns per
    epoch (a DataFrame, empty for runs made before they existed), "engaged": is_engaged(last row)}``.
    """
    run = load_trained(out_dir, device=device)
    if not hasattr(run.model, "loss_terms"):
        raise ValueError(f"diagnose: {out_dir} is a backbone-alone run ({run.config.backbone}); engagement "
                         f"measures SRSUPM's mechanism")
    split = run.data.split
    now = measure(run.model, split.valid, run.data.valid_levels)
    hist_path = Path(out_dir) / "history.csv"
    history = pd.read_csv(hist_path) if hist_path.exists() else pd.DataFrame()
    cols = ["epoch"] + [c for c in history.columns if c.startswith("eng_") or c in ("loss_pmsim", "valid_recall@10")]
    history = history[[c for c in cols if c in history.columns]]
    last = history.iloc[-1].to_dict() if len(history) else {}
    return {"now": now, "history": history, "engaged": is_engaged(last) if last else None}

"""A run folder's method diagnostics, on its best weights where they are kept (CLI ``diagnose``).

Reads the run's stored config (:func:`srsupm_lab.run_folder.stored_config`, older shapes read as
they ran) and the per-epoch ``eng_*`` columns its ``history.csv`` recorded while it trained. Where
the folder keeps its ``checkpoint.pt``, it also loads the run
(:func:`srsupm_lab.experiment.load_trained`) and asks its model for the diagnostics it records every
epoch (``model.epoch_diagnostics``, the optional part of the Recommender protocol: SRSUPM's
engagement, :mod:`srsupm_lab.methods.srsupm.engagement`) on the validation windows. The method
gives its verdict on the last epoch (``Method.engaged``). A model without diagnostics (the
backbone alone) gives none, and its history's losses and validation metrics.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..experiment import load_trained
from ..methods import get_method
from ..run_folder import stored_config

__all__ = ["diagnose"]


def diagnose(out_dir, device: str = "cpu") -> dict:
    """Diagnostics of a run folder plus its history.

    Returns ``{"method": the run's method, "now": the model's epoch_diagnostics on the validation
    windows with the best weights ({} for a model without; None when the folder keeps no
    checkpoint.pt), "history": the loss, validation and eng_* columns per epoch (a DataFrame, empty
    when the run has no history.csv), "engaged": the method's verdict on the last epoch, or None}``.
    """
    out = Path(out_dir)
    config = stored_config(out)
    now = None
    if (out / "checkpoint.pt").exists():
        run = load_trained(out, device=device)
        measure = getattr(run.model, "epoch_diagnostics", None)
        now = measure(run.data.split.valid, run.data.valid_levels, None) if callable(measure) else {}
    hist_path = out / "history.csv"
    history = pd.read_csv(hist_path) if hist_path.exists() else pd.DataFrame()
    cols = ["epoch"] + [c for c in history.columns if c.startswith(("eng_", "loss")) or c == "valid_recall@10"]
    history = history[[c for c in cols if c in history.columns]]
    last = history.iloc[-1].to_dict() if len(history) else {}
    return {"method": config.method, "now": now, "history": history,
            "engaged": get_method(config.method).engaged(last) if last else None}

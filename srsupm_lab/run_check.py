"""The one check of a finished run before anything reads it: is its data still the data it was trained on?

Every command that reads a run folder's checkpoint (``diagnose``, ``cold-start``, ``policy-metrics``, a
serving command) rebuilds the run's data from its ``config.json`` (``experiment.prepare_data``) and scores
it with the checkpoint's weights. When the data changed since the training (a dataset file edited or
replaced, a checkpoint copied in from a run on other data with the same shapes), the numbers would be
silently wrong and a measurement cached in the folder would be wrong for good. The checkpoint keeps a
content hash of its training data (:data:`srsupm_lab.checkpoints.DATA_HASH_KEYS`: the training windows
and the training levels, :func:`srsupm_lab.checkpoints.data_sha256`); :func:`check_run` compares it with
the data rebuilt now and refuses a mismatch with one line, before anything is measured or written.

A folder kept without ``checkpoint.pt`` (its measurements stored instead) has no weights to read and
nothing to check; a checkpoint written before the hashes existed cannot be checked and is accepted, as
``--resume`` accepts it.

    from srsupm_lab.run_check import check_run, load_checked
    check_run("runs/beauty-sasrec")              # before reading the folder some other way
    run = load_checked("runs/beauty-sasrec")     # experiment.load_trained, then the check on its data
"""
from __future__ import annotations

from pathlib import Path

__all__ = ["check_run", "load_checked"]


def _short(digest) -> str:
    return f"{str(digest)[:12]}…"


def check_run(out_dir, data=None) -> None:
    """Raise one-line ``ValueError`` unless the data ``out_dir``'s config gives now is the data its
    ``checkpoint.pt`` was trained on (see the module doc); ``data``: the run's ``PreparedData`` when the
    caller has it (else it is rebuilt from ``config.json``). Nothing is written."""
    from .checkpoints import DATA_HASH_KEYS, data_sha256, read_checkpoint
    from .run_folder import stored_config

    out = Path(out_dir)
    if not out.is_dir():
        raise FileNotFoundError(f"{out}: no such run folder")
    checkpoint = out / "checkpoint.pt"
    if not checkpoint.exists():
        return
    if not (out / "config.json").exists():
        raise FileNotFoundError(f"{out / 'config.json'} does not exist: {checkpoint} cannot be matched to its data")
    stored = read_checkpoint(checkpoint).get("fingerprint")
    stored = stored if isinstance(stored, dict) else {}
    if not any(stored.get(k) for k in DATA_HASH_KEYS):
        return                                            # written before the hashes: cannot be checked
    config = stored_config(out)
    if data is None:
        from .experiment import prepare_data
        data = prepare_data(config)
    now = data_sha256(data.split.train, getattr(data, "train_levels", None))
    changed = [f"{what} (sha256 {_short(stored[k])} at training, {_short(now[k])} now)"
               for k, what in DATA_HASH_KEYS.items() if stored.get(k) and now.get(k) and stored[k] != now[k]]
    if "n_train" in stored and stored["n_train"] != len(data.split.train):
        changed.insert(0, f"the number of training windows ({stored['n_train']} at training, "
                          f"{len(data.split.train)} now)")
    if changed:
        raise ValueError(f"{out}: the data its config.json gives now (dataset {config.dataset!r}) is not the data "
                         f"{checkpoint.name} was trained on: {'; '.join(changed)}; restore that data, or train the "
                         f"run again")


def load_checked(out_dir, device="cpu"):
    """:func:`srsupm_lab.experiment.load_trained` (the run with its best weights), after :func:`check_run` on
    the data it rebuilt (built once)."""
    from .experiment import load_trained
    run = load_trained(out_dir, device=device)
    check_run(out_dir, data=run.data)
    return run

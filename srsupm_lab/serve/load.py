"""A run folder brought back for serving: config + checkpoint + raw-id maps -> a model that speaks raw ids.

:func:`load_run` rebuilds the model the run's ``config.json`` describes (any backbone and method,
:func:`srsupm_lab.experiment.build_model`), loads its best weights from ``checkpoint.pt`` and the
raw-id maps from ``id_maps.npz`` (:mod:`srsupm_lab.serve.id_maps`). No dataset file is read and no
PMSA pass runs: the model is built on a dataset made of the stored histories and labels
(:meth:`IdMaps.as_dataset`); a generated world (``synthetic``, ``synthetic-clickbait``) is generated
again instead, as it needs no file. A run folder written before the maps existed has its maps
rebuilt from its dataset, said in one line; without that dataset it is one error naming it.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .id_maps import ID_MAPS_FILE, IdMaps, read_id_maps

__all__ = ["load_run"]


def _maps(out: Path, config) -> IdMaps:
    """The stored maps, or (an older run folder) the maps rebuilt from the dataset, said in one line."""
    maps = read_id_maps(out)
    if maps is not None:
        return maps
    from ..data import load_dataset
    try:
        ds = load_dataset(config.dataset, root=config.data_root, labels=config.labels, **config.dataset_options)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{out}: the run predates its raw-id maps ({ID_MAPS_FILE}) and its dataset "
                                f"{config.dataset!r} is missing, so they cannot be rebuilt ({err})") from None
    print(f"{out}: no {ID_MAPS_FILE} (the run predates it): raw-id maps rebuilt from dataset {config.dataset!r}",
          file=sys.stderr)
    return IdMaps.from_dataset(ds)


def _stored_config(out: Path):
    """The run's config; when its dataset is a file or folder that is gone (a run folder that stands
    alone), read with a generated world in its place for the checks, then given its own values back."""
    from ..data.loaders import KNOWN_DATASETS
    from ..run_folder import read_json_file, stored_config, upgrade_stored_config
    values = upgrade_stored_config(read_json_file(out / "config.json", "stored config"))
    name = str(values.get("dataset", ""))
    if name.lower() in KNOWN_DATASETS or Path(name).expanduser().exists():
        return stored_config(out)
    from ..config import TrainConfig
    config = TrainConfig.from_dict({**values, "dataset": "synthetic", "dataset_options": {}})
    config.dataset, config.dataset_options = name, dict(values.get("dataset_options") or {})
    return config


def _build_dataset(config, maps: IdMaps):
    """What the method builds its model on: a generated world anew (no files), else the stored state."""
    from ..data.satisfaction_world import SYNTHETIC_WORLDS
    if str(config.dataset).lower() in SYNTHETIC_WORLDS:
        from ..data import load_dataset
        return load_dataset(config.dataset, **config.dataset_options)
    return maps.as_dataset()


def load_run(path, device=None):
    """The run folder ``path`` as a :class:`~srsupm_lab.serve.recommend.ServedRun` (module doc).

    ``device``: ``"cpu"``, ``"cuda"``, ... or None (``"auto"``: cuda, then mps, then cpu). A folder
    without ``config.json`` or ``checkpoint.pt`` (a committed run kept without its weights) and weights
    that do not fit the stored config are each one error naming the file.
    """
    from ..checkpoints import check_checkpoint, read_checkpoint
    from ..experiment import build_model
    from ..trainer import resolve_device, seed_everything
    from .recommend import ServedRun

    out = Path(path)
    for name in ("config.json", "checkpoint.pt"):
        if not (out / name).is_file():
            raise FileNotFoundError(f"load_run: {out / name} does not exist (not a run folder, a run kept without "
                                    f"its weights, or one that has not finished its first epoch)")
    config = _stored_config(out)
    maps = _maps(out, config)
    seed_everything(config.seed)                           # what a build draws is overwritten by the weights
    model, _ = build_model(config, _build_dataset(config, maps))
    if getattr(model, "uses_context", False):
        raise ValueError(f"load_run: {out} holds method {config.method!r}, which scores with the generator's true "
                         f"shifts (an upper bound, not a recommender): it cannot serve a user")
    ck = read_checkpoint(out / "checkpoint.pt")
    try:
        check_checkpoint(ck, {}, model, out / "checkpoint.pt")
    except ValueError as err:
        raise ValueError(f"{err}; {out / 'config.json'} does not describe the model this checkpoint holds") from None
    model.load_state_dict(ck["best_state"] if ck.get("best_state") is not None else ck["model"])
    device = resolve_device("auto" if device is None else device)
    model = model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return ServedRun(out, config, model, maps, device)


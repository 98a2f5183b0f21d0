"""Every setting of one run, checked up front, in sections (method.md §9–§11; paper §5.1).

:class:`TrainConfig` holds the data (dataset, labels, label noise, PMSA's K and bins), the model
(backbone and its options; the **method** plugged onto it and its **method_options**, checked by the
method's own options class, :mod:`srsupm_lab.methods`), the optimisation (epochs, batch, lr,
patience, seed) and the bookkeeping (device, out_dir, resume). The paper's protocol (§5.1: Adam
lr 0.01, batch 128, early stopping with patience 10, at most 200 epochs) is the preset ``paper``,
with the method's most literal readings. The defaults are listed with each field; the optimiser's
(Adam lr 0.001, batch 256) are the rate that trains a backbone alone on validation data, where at the
paper's lr 0.01 SASRec (ours and RecBole's) does not (``reports/recbole-lr/``, ``reports/defaults/``).

``TrainConfig.from_dict`` refuses unknown keys (a typo is an error, never silently ignored), and
every field is validated with a message that says which field and what is allowed. A config of
the flat shape stored before methods had sections (``srsupm: true``, ``lambda1``, ... at the top)
reads into the new shape (:func:`sectioned`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .families.options import coerce, kind_problem

__all__ = ["TrainConfig", "BINS", "PRESETS", "PRESET_WARNINGS", "CHOICES", "FIELD_KINDS", "sectioned", "settings_for",
           "method_option_names", "preset_values"]

BINS = ("even", "quantile")

#: open readings of the config's own fields, each with its allowed values (the first is the default);
#: a method's readings are its options' choices (``srsupm_lab.methods``)
CHOICES = {
    "loss": ("ce", "bce"),                                            # methods/none.py (the backbone alone)
}

#: Named sets of settings. ``paper``: the paper's protocol (§5.1: Adam lr 0.01, batch 128, early
#: stopping with patience 10, at most 200 epochs), and each method's own preset of that name (its
#: most literal reading of every open choice: ``Method.presets``). ``teaching``: the quick classroom
#: setting used by the demo and the notebooks (lr 0.001, batch 256, 10 epochs, patience 3).
PRESETS = {
    "paper": {"lr": 0.01, "batch_size": 128, "epochs": 200, "patience": 10, "dim": 64, "max_len": 50, "K": 5},
    "teaching": {"lr": 0.001, "batch_size": 256, "epochs": 10, "patience": 3},
}


def _known_datasets() -> tuple[str, ...]:
    from .data.loaders import KNOWN_DATASETS
    return tuple(KNOWN_DATASETS)


def _interaction_file(name: str) -> bool:
    """Whether ``name`` is a file of interactions ``load_dataset`` reads (``.csv``, ``.tsv``, ``.parquet``)."""
    from .data.loaders import interaction_file
    try:
        return interaction_file(name) is not None
    except FileNotFoundError:
        return False


def _known_labels() -> tuple[str, ...]:
    from .data.loaders import LABEL_KINDS
    return tuple(LABEL_KINDS)


def _backbones() -> dict:
    """name -> backbone class (imported late: the backbones import torch)."""
    from .backbones import BACKBONES
    return BACKBONES


@dataclass
class TrainConfig:
    """One experiment: data → PMSA → backbone (+ method) → training → full-ranking test."""

    # data
    dataset: str = "synthetic"           # a known name (KNOWN_DATASETS), a folder in the S3-Rec layout or a file of
                                         # interactions (user,item,timestamp: .csv, .tsv, .parquet); paths stored absolute
    data_root: str | None = None         # where real datasets live (default: SRSUPM_DATA, else the repository's data/)
    labels: str = "categories"           # "categories" or "attributes" (see data/loaders.py)
    dataset_options: dict = field(default_factory=dict)    # options of make_synthetic, or of read_interactions
    noise_p: float = 0.0                 # label noise on the training supervision only (paper §5.6.2)
    max_len: int = 50                    # L
    # model
    backbone: str = "sasrec"
    backbone_options: dict = field(default_factory=dict)   # extra keyword options of the backbone
    dim: int = 64                        # d
    method: str = "none"                 # plugged onto the backbone: none | srsupm | oracle (srsupm_lab.methods)
    method_options: dict = field(default_factory=dict)     # the method's options (its Options class; resolved)
    K: int = 5                           # PMSA levels, for a method that asks for them (SRSUPM's branches)
    bins: str = "even"                   # PMSA level bins: "even" (paper) or "quantile" (from training windows)
    loss: str = "ce"                     # next-item loss: "ce" (full cross-entropy) | "bce" (one sampled negative)
    one_pass: bool = False               # causal backbones (GRU4Rec; SASRec positions=from_start): one encoder
                                         # pass per user gives every window (data/prefix_rows.py)
    preset: str | None = None            # the named preset the run started from (PRESETS), recorded only
    # optimisation
    epochs: int = 200
    batch_size: int = 256                # of the rates measured on validation for a backbone alone, the one
    lr: float = 0.001                    # that trains (reports/recbole-lr/); the paper's 0.01 / 128: preset "paper"
    weight_decay: float = 0.0
    patience: int = 10
    seed: int = 42
    # evaluation and bookkeeping
    eval_batch_size: int = 1024
    length_groups: int | None = None     # encode each batch in this many groups of similar window length
                                         # (exact; skips work on padding, see backbones/length_groups.py);
                                         # None: 8 on the CPU, 1 (off) on other devices
    mask_history: bool = True            # remove seen items from the ranking (S3-Rec protocol)
    device: str = "auto"                 # "auto" (cuda > mps > cpu), "cpu", "cuda", "cuda:1", "mps"
    out_dir: str | None = None           # where config/history/results/checkpoint go; None = write nothing
    resume: bool = False                 # continue from out_dir/checkpoint.pt (or return finished results)
    progress: bool = True                # tqdm progress bars

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> "TrainConfig":
        """Raise ValueError/TypeError naming the first bad field; return self when all are fine."""
        def fail(name, what):
            raise ValueError(f"TrainConfig.{name}: {what}, got {getattr(self, name)!r}")

        for f in fields(self):
            problem = kind_problem(getattr(self, f.name), FIELD_KINDS[f.name])
            if problem:
                fail(f.name, problem)
            setattr(self, f.name, coerce(getattr(self, f.name), FIELD_KINDS[f.name]))

        known = _known_datasets()
        if self.dataset.lower() not in known:
            path = Path(self.dataset).expanduser()
            if not (path.is_dir() or _interaction_file(self.dataset)):
                fail("dataset", f"must be one of {list(known)}, an existing folder in the S3-Rec layout or a file of "
                                f"interactions (.csv, .tsv, .parquet)")
            self.dataset = str(path.resolve())                # a path stored as given breaks a resume elsewhere
        if self.labels not in _known_labels():
            fail("labels", f"must be one of {list(_known_labels())}")
        backbones = tuple(_backbones())
        if self.backbone not in backbones:
            fail("backbone", f"must be one of {list(backbones)}")
        from .data.satisfaction_world import SYNTHETIC_WORLDS
        if self.dataset_options and self.dataset.lower() not in SYNTHETIC_WORLDS and not _interaction_file(self.dataset):
            fail("dataset_options", f"only apply to the generated worlds (synthetic, synthetic-clickbait) and to "
                                    f"files of interactions (dataset is {self.dataset!r})")
        if self.bins not in BINS:
            fail("bins", f"must be one of {list(BINS)}")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                fail(name, f"must be one of {list(allowed)}")
        if self.preset is not None and self.preset not in PRESETS:
            fail("preset", f"must be one of {list(PRESETS)} or None")
        if not 0.0 <= self.noise_p <= 1.0:
            fail("noise_p", "must lie in [0, 1]")
        if self.weight_decay < 0:
            fail("weight_decay", "must be >= 0")
        if self.lr <= 0:
            fail("lr", "must be > 0")
        if self.seed < 0:
            fail("seed", "must be >= 0")
        method = _methods().get_method(self.method)                   # an unknown name: one line
        if method.wants_levels and self.K < 3:                        # PMSA runs for this method only
            fail("K", f"must be at least 3 for method {self.method!r}, which trains on PMSA levels (no-shift, "
                      f"complete-shift and at least one partial level)")
        self.method_options = method.options(self.method_options).to_dict()   # checked, defaults filled
        method.check(self)
        if self.device != "auto" and self.device.split(":")[0] not in ("cpu", "cuda", "mps"):
            fail("device", "must be 'auto', 'cpu', 'cuda', 'cuda:<i>' or 'mps'")
        _check_trainable_ranges(self)
        return self

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build from a dict (:func:`sectioned` first: the flat shape, and a method's options given at the
        top, read into sections); unknown keys raise (with the list of valid ones)."""
        if not isinstance(values, dict):
            raise TypeError(f"TrainConfig.from_dict needs a dict, got {type(values).__name__}")
        values = sectioned(values)
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise KeyError(f"TrainConfig: unknown key(s) {unknown}; valid keys are {names} and the options of "
                           f"the method (method_options)")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, path) -> "TrainConfig":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    @classmethod
    def from_preset(cls, name: str, **changes) -> "TrainConfig":
        """The preset ``name`` (one of ``PRESETS``) with ``changes`` on top; the name is recorded. The
        method's own preset of that name (``Method.presets``) sets its options under ``changes``'."""
        return cls.from_dict(preset_values(name, sectioned(changes)))

    def replace(self, **changes) -> "TrainConfig":
        """A validated copy with some fields changed (unknown names raise). Another ``method`` without
        ``method_options`` starts from that method's defaults."""
        base = self.to_dict()
        if "method" in changes and changes["method"] != self.method and "method_options" not in changes:
            base["method_options"] = {}
        return TrainConfig.from_dict({**base, **changes})


# ranges that can train, with the measurement behind each (a 300-user synthetic world, GRU4Rec
# d=16 + SRSUPM K=3, 4 epochs, batch 128, CPU; valid Recall@10 after 4 epochs)
LR_MAX = 1.0         # Adam moves every weight by about lr per step: lr=1 drove the loss from 45 up to 95
                     # (lr=0.1: 7.0 down to 6.1), lr=10 to 1.6e4


def _check_trainable_ranges(config: "TrainConfig") -> None:
    """Numeric settings that pass the type checks but cannot train: an error with the reason."""
    if config.lr >= LR_MAX:
        raise ValueError(f"TrainConfig.lr: must be below {LR_MAX:g}, got {config.lr!r}: Adam moves every weight by "
                         f"about lr per step, and at lr=1 the loss diverges (the paper uses 0.01)")


# ------------------------------------------------------------------ sections
def method_option_names() -> dict[str, str]:
    """``{option: method}`` for every option of every known method (an option two methods share maps to the first)."""
    m = _methods()
    out = {}
    for name in m.method_names():
        for opt in m.get_method(name).Options.names():
            out.setdefault(opt, name)
    return out


def sectioned(values: dict) -> dict:
    """``values`` in the sectioned shape: ``method`` and its ``method_options``.

    * The flat shape (a method's switch, ``srsupm: true`` / ``oracle: true``, and its options at the top, as
      every config stored before methods had sections; ``Method.flat_switch``): the method is named from its switch, its
      options move into ``method_options`` and the other methods' options, which that run never
      read, are dropped.
    * Otherwise, an option of the config's method given at the top moves into ``method_options``
      (``{"method": "srsupm", "lambda1": 0.3}``); an option of another method is an error naming it.
    """
    values = dict(values)
    fields_ = {f.name for f in fields(TrainConfig)}
    owners = method_option_names()
    switches = _methods().flat_switches()                           # {"srsupm": "srsupm", ...}
    if any(k in values for k in switches):
        on = [switches[k] for k in switches if values.pop(k, False)]
        if len(on) > 1:
            raise ValueError(f"TrainConfig: the flat switches of methods {on} are all true; choose one method")
        name = on[0] if on else "none"
        if values.get("method", name) != name:
            raise ValueError(f"TrainConfig: method {values['method']!r} contradicts the flat switch(es) of "
                             f"method {name!r}")
        values["method"] = name
        own = set(_methods().get_method(name).Options.names())
        flat = [k for k in values if k in owners and k not in fields_]
        moved = {k: values.pop(k) for k in flat if k in own}
        for k in flat:
            values.pop(k, None)                                     # an option this run's method never read
        values["method_options"] = {**moved, **dict(values.get("method_options") or {})}
        return values
    flat = [k for k in values if k in owners and k not in fields_]
    if flat:
        name = values.get("method", "none")
        own = set(_methods().get_method(name).Options.names())
        alien = [k for k in flat if k not in own]
        if alien:
            raise KeyError(f"TrainConfig: {alien} are option(s) of method(s) {sorted({owners[k] for k in alien})}, "
                           f"not of method {name!r} (set method=..., or leave them out)")
        options = dict(values.get("method_options") or {})
        clash = sorted(set(flat) & set(options))
        if clash:
            raise ValueError(f"TrainConfig: {clash} given both at the top and in method_options; give each once")
        values["method_options"] = {**options, **{k: values.pop(k) for k in flat}}
    return values


def settings_for(method: str, settings: dict) -> dict:
    """``settings`` for a run of ``method``: the config's fields, and the options of that method given at
    the top; the options of other methods dropped (a plan's shared settings apply to the runs they fit)."""
    fields_ = {f.name for f in fields(TrainConfig)}
    own = set(_methods().get_method(method).Options.names())
    owners = method_option_names()
    return {k: v for k, v in settings.items() if k in fields_ or k in own or k not in owners}


#: what the paper's protocol does to a backbone, with the evidence: said when the preset is chosen with it
PRESET_WARNINGS = {("paper", "sasrec"): "at the paper's lr 0.01 SASRec does not train (validation Recall@10 stalls "
                                        "near .02, ours and RecBole's alike, against .09 at lr 0.001: "
                                        "reports/recbole-lr/README.md); lr 0.001 is the default"}


def preset_values(name: str, changes: dict) -> dict:
    """The values of preset ``name`` with ``changes`` (sectioned) on top, the method's preset options under the
    options ``changes`` gives; the name is recorded. A preset known to stall the backbone (``PRESET_WARNINGS``)
    says so in one warning line, unless ``changes`` sets the learning rate."""
    if name not in PRESETS:
        raise ValueError(f"TrainConfig: unknown preset {name!r}; presets are {list(PRESETS)}")
    warning = PRESET_WARNINGS.get((name, changes.get("backbone", "sasrec")))
    if warning and "lr" not in changes:
        import warnings
        warnings.warn(f"preset {name!r}: {warning}", stacklevel=3)
    method = changes.get("method", "none")
    options = {**_methods().get_method(method).presets.get(name, {}), **dict(changes.get("method_options") or {})}
    return {**PRESETS[name], "preset": name, **changes, "method": method, "method_options": options}


def _methods():
    """The method registry (:mod:`srsupm_lab.families.registry`, below the methods: a method loads on first use)."""
    from .families import registry
    return registry


# the type class of every field, used by validate() and by the CLI
FIELD_KINDS = {
    "dataset": "str", "data_root": "opt_str", "labels": "str", "dataset_options": "dict", "noise_p": "float",
    "max_len": "pos_int",
    "backbone": "str", "backbone_options": "dict", "dim": "pos_int", "method": "str", "method_options": "dict",
    "K": "int", "bins": "str", "loss": "str", "one_pass": "bool", "preset": "opt_str",
    "epochs": "pos_int", "batch_size": "pos_int", "lr": "float", "weight_decay": "float", "patience": "pos_int",
    "seed": "int", "eval_batch_size": "pos_int", "length_groups": "opt_pos_int",
    "mask_history": "bool", "device": "str", "out_dir": "opt_str",
    "resume": "bool", "progress": "bool",
}
assert set(FIELD_KINDS) == {f.name for f in fields(TrainConfig)}, "every TrainConfig field needs a kind"

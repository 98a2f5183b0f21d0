"""Every hyper-parameter of one run, checked up front (method.md §9–§11; paper §5.1).

:class:`TrainConfig` is a flat dataclass: the data (dataset, labels, label noise), the model
(backbone and its options, the SRSUPM switch, K, λ1, λ2, γ, τ, ablations), the optimisation
(epochs, batch, lr, patience, seed) and the bookkeeping (device, out_dir, resume). Defaults are
the paper's setting (§11: Adam lr 0.01, batch 128, d 64, L 50, K 5, λ1 0.4, patience 10).

``TrainConfig.from_dict`` refuses unknown keys (a typo is an error, never silently ignored),
and every field is validated with a message that says which field and what is allowed.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["TrainConfig", "BINS", "PRESETS", "CHOICES", "FIELD_KINDS", "MECHANISM_DEFAULTS"]

BINS = ("even", "quantile")

#: The readings the paper leaves open (method.md, "choice"), each a setting with its allowed values;
#: the first value of each is the package's default. See the module of each for the paper's words.
CHOICES = {
    "loss": ("ce", "bce"),                                            # recommender.py (backbone alone)
    "pmsim_similarity": ("cosine", "dot"),                            # pmsim.py, Eqs. 16-18
    "reg_form": ("raw_mean", "raw_sum", "normalised_mean", "normalised_sum"),   # pmsid.py, Eq. 10
    "augmentation": ("view_dropout", "encoder_dropout"),              # srsupm.py, Eq. 15
    "singletons": ("self", "drop"),                                   # pmsim.py, Eq. 14
    "false_negatives": ("keep", "mask"),                              # pmsim.py, Eqs. 16-18
}

#: SRSUPM's mechanism settings in force, one place for TrainConfig and the SRSUPM class alike. Chosen
#: on validation data only by the screening of 2026-12-01 (srsupm_lab/reproduce/screening.py,
#: reports/screening_*.md): the best validation Recall@10 among the settings where the mechanism is
#: engaged. PRESETS["paper"] keeps the most literal reading one option away.
MECHANISM_DEFAULTS = {"lambda1": 0.4, "lambda2": 0.3, "gamma": 0.1, "tau": 0.5, "level_temperature": "unit",
                      "pmsim_similarity": "cosine", "reg_form": "normalised_mean", "augmentation": "view_dropout",
                      "singletons": "self", "false_negatives": "keep"}

#: Named sets of settings. ``paper``: the paper's protocol (§5.1: Adam lr 0.01, batch 128, early
#: stopping with patience 10, at most 200 epochs) and its most literal reading of every open
#: choice (1/√d level scale, cosine InfoNCE at τ = 1, raw L_reg, the "lightweight" augmentation as
#: a dropout on the basic view). ``teaching``: the quick classroom setting used by the demo and the
#: notebooks (lr 0.001, batch 256, 10 epochs, patience 3), which trains in minutes on a laptop CPU.
PRESETS = {
    "paper": {"lr": 0.01, "batch_size": 128, "epochs": 200, "patience": 10, "dim": 64, "max_len": 50, "K": 5,
              "lambda1": 0.4, "lambda2": 0.1, "gamma": 0.1, "tau": 1.0, "level_temperature": "fixed",
              "pmsim_similarity": "cosine", "reg_form": "raw_mean", "augmentation": "view_dropout",
              "singletons": "self", "false_negatives": "keep"},
    "teaching": {"lr": 0.001, "batch_size": 256, "epochs": 10, "patience": 3},
}


def _known_datasets() -> tuple[str, ...]:
    from .data.loaders import KNOWN_DATASETS
    return tuple(KNOWN_DATASETS)


def _known_labels() -> tuple[str, ...]:
    from .data.loaders import LABEL_KINDS
    return tuple(LABEL_KINDS)


def _temperature_modes() -> tuple[str, ...]:
    from .methods.srsupm.temperature import TEMPERATURE_MODES
    return TEMPERATURE_MODES


def _backbones() -> dict:
    """name -> backbone class (imported late: the backbones import torch)."""
    from .backbones import BACKBONES
    return BACKBONES


@dataclass
class TrainConfig:
    """One experiment: data → PMSA → backbone (+ SRSUPM) → training → full-ranking test."""

    # data
    dataset: str = "synthetic"           # a known name (see KNOWN_DATASETS) or a folder in the S3-Rec layout
    data_root: str | None = None         # where real datasets live (default: SRSUPM_DATA, else the repository's data/)
    labels: str = "categories"           # "categories" or "attributes" (see data/loaders.py)
    dataset_options: dict = field(default_factory=dict)    # options of make_synthetic (synthetic data only)
    noise_p: float = 0.0                 # label noise on the training supervision only (paper §5.6.2)
    max_len: int = 50                    # L
    # model
    backbone: str = "sasrec"
    backbone_options: dict = field(default_factory=dict)   # extra keyword options of the backbone
    dim: int = 64                        # d
    srsupm: bool = False                 # plug SRSUPM onto the backbone
    oracle: bool = False                 # the backbone told the true shift (synthetic world only; oracle.py)
    K: int = 5                           # number of shift levels
    bins: str = "even"                   # PMSA level bins: "even" (paper) or "quantile" (from training windows)
    lambda1: float = MECHANISM_DEFAULTS["lambda1"]   # weight of L_PMSID
    lambda2: float = MECHANISM_DEFAULTS["lambda2"]   # weight of L_PMSIM
    gamma: float = MECHANISM_DEFAULTS["gamma"]       # weight of L_reg
    tau: float = MECHANISM_DEFAULTS["tau"]           # InfoNCE temperature
    dropout: float = 0.1                 # dropout inside the SIC branches
    pmsid: bool = True
    pmsim: bool = True
    pmi: bool = True
    priors: bool = True
    # scale of the level softmaxes (Eqs. 9, 19): "fixed" 1/√d, "unit" 1, or "learned" (temperature.py)
    level_temperature: str = MECHANISM_DEFAULTS["level_temperature"]
    pmsim_similarity: str = MECHANISM_DEFAULTS["pmsim_similarity"]   # InfoNCE similarity: "cosine" | "dot"
    reg_form: str = MECHANISM_DEFAULTS["reg_form"]   # L_reg (Eq. 10): raw/normalised ẑ, gaps averaged/summed
    # augmented view (Eq. 15): "view_dropout" (dropout on the basic view, the paper's "lightweight") |
    # "encoder_dropout" (a second encoder pass)
    augmentation: str = MECHANISM_DEFAULTS["augmentation"]
    singletons: str = MECHANISM_DEFAULTS["singletons"]     # a window alone in its group: "self" pair | "drop"
    false_negatives: str = MECHANISM_DEFAULTS["false_negatives"]   # same-group in-batch negatives: keep | mask
    loss: str = "ce"                     # backbone alone: "ce" (full cross-entropy) | "bce" (one sampled negative)
    one_pass: bool = False               # backbone alone, causal (GRU4Rec; SASRec positions=from_start): one
                                         # encoder pass per user gives every window (data/prefix_rows.py)
    preset: str | None = None            # the named preset the run started from (PRESETS), recorded only
    # optimisation
    epochs: int = 200
    batch_size: int = 128
    lr: float = 0.01
    weight_decay: float = 0.0
    patience: int = 10
    seed: int = 42
    # evaluation and bookkeeping
    eval_batch_size: int = 1024
    length_groups: int | None = None     # encode each batch in this many groups of similar window length
                                         # (exact; skips work on padding, see backbones/length_groups.py);
                                         # None: 8 on the CPU, 1 (off) on other devices
    mask_history: bool = True            # remove seen items from the ranking (S3-Rec protocol)
    fused_mixture: bool = False          # evaluate with the compiled (fused) mixture of Eqs. 19-22; speed
                                         # only (prediction.mixed_scores, fused=True); needs torch.compile
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
            value = getattr(self, f.name)
            kind = FIELD_KINDS[f.name]
            if kind == "opt_str" and isinstance(value, os.PathLike):
                value = os.fspath(value)
                setattr(self, f.name, value)
            if kind == "bool" and not isinstance(value, bool):
                fail(f.name, "must be True or False")
            if kind in ("int", "pos_int") and (isinstance(value, bool) or not isinstance(value, int)):
                fail(f.name, "must be an integer")
            if kind == "pos_int" and value < 1:
                fail(f.name, "must be a positive integer")
            if kind == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    fail(f.name, "must be a finite number")
                setattr(self, f.name, float(value))
            if kind == "str" and not isinstance(value, str):
                fail(f.name, "must be a string")
            if kind == "opt_pos_int" and value is not None and (
                    isinstance(value, bool) or not isinstance(value, int) or value < 1):
                fail(f.name, "must be a positive integer or None")
            if kind == "opt_str" and value is not None and not isinstance(value, str):
                fail(f.name, "must be a string or None")

        known = _known_datasets()
        if self.dataset.lower() not in known and not Path(self.dataset).expanduser().is_dir():
            fail("dataset", f"must be one of {list(known)} or an existing folder in the S3-Rec layout")
        if self.labels not in _known_labels():
            fail("labels", f"must be one of {list(_known_labels())}")
        backbones = tuple(_backbones())
        if self.backbone not in backbones:
            fail("backbone", f"must be one of {list(backbones)}")
        if not isinstance(self.backbone_options, dict) or not all(isinstance(k, str) for k in self.backbone_options):
            fail("backbone_options", "must be a dict of option name -> value")
        if not isinstance(self.dataset_options, dict) or not all(isinstance(k, str) for k in self.dataset_options):
            fail("dataset_options", "must be a dict of option name -> value")
        if self.dataset_options and self.dataset.lower() != "synthetic":
            fail("dataset_options", f"only apply to the synthetic dataset (dataset is {self.dataset!r})")
        if self.bins not in BINS:
            fail("bins", f"must be one of {list(BINS)}")
        if self.level_temperature not in _temperature_modes():
            fail("level_temperature", f"must be one of {list(_temperature_modes())}")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                fail(name, f"must be one of {list(allowed)}")
        if self.preset is not None and self.preset not in PRESETS:
            fail("preset", f"must be one of {list(PRESETS)} or None")
        if self.oracle and (self.srsupm or self.dataset.lower() != "synthetic"):
            fail("oracle", "is the backbone told the synthetic world's true shifts: it needs dataset='synthetic' "
                           "and srsupm=False")
        if self.one_pass and (self.srsupm or self.oracle):
            fail("one_pass", "applies to a backbone trained alone (SRSUPM and the oracle batch windows: "
                             "PMSIM's in-batch negatives would all come from a few users)")
        if self.one_pass and not _backbones()[self.backbone].prefixes_exact(self.backbone_options):
            fail("one_pass", f"needs a backbone whose outputs are its prefixes' encodings: gru4rec, or sasrec with "
                             f"backbone_options positions='from_start' (backbone is {self.backbone!r})")
        if self.srsupm and self.loss != "ce":
            fail("loss", "applies to the backbone alone; SRSUPM's L_rec is the cross-entropy of its mixture (Eq. 23)")
        if self.K < 3:
            fail("K", "must be at least 3 (no-shift, complete-shift and at least one partial level)")
        if not 0.0 <= self.noise_p <= 1.0:
            fail("noise_p", "must lie in [0, 1]")
        if not 0.0 <= self.dropout < 1.0:
            fail("dropout", "must lie in [0, 1)")
        for name in ("lambda1", "lambda2", "gamma", "weight_decay"):
            if getattr(self, name) < 0:
                fail(name, "must be >= 0")
        for name in ("tau", "lr"):
            if getattr(self, name) <= 0:
                fail(name, "must be > 0")
        if self.seed < 0:
            fail("seed", "must be >= 0")
        if not self.srsupm and not (self.pmsid and self.pmsim and self.pmi and self.priors):
            off = [n for n in ("pmsid", "pmsim", "pmi", "priors") if not getattr(self, n)]
            raise ValueError(f"TrainConfig: ablation switches {off} are off but srsupm=False; they only apply to "
                             f"SRSUPM (set srsupm=True)")
        if self.device != "auto" and self.device.split(":")[0] not in ("cpu", "cuda", "mps"):
            fail("device", "must be 'auto', 'cpu', 'cuda', 'cuda:<i>' or 'mps'")
        _check_trainable_ranges(self)
        return self

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Build from a dict; unknown keys raise (with the list of valid ones)."""
        if not isinstance(values, dict):
            raise TypeError(f"TrainConfig.from_dict needs a dict, got {type(values).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise KeyError(f"TrainConfig: unknown key(s) {unknown}; valid keys are {names}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, path) -> "TrainConfig":
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(json.load(fh))

    @classmethod
    def from_preset(cls, name: str, **changes) -> "TrainConfig":
        """The preset ``name`` (one of ``PRESETS``) with ``changes`` on top; the name is recorded."""
        if name not in PRESETS:
            raise ValueError(f"TrainConfig: unknown preset {name!r}; presets are {list(PRESETS)}")
        return cls.from_dict({**PRESETS[name], "preset": name, **changes})

    def replace(self, **changes) -> "TrainConfig":
        """A validated copy with some fields changed (unknown names raise)."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})


# ranges that can train, with the measurement behind each (a 300-user synthetic world, GRU4Rec
# d=16 + SRSUPM K=3, 4 epochs, batch 128, CPU; valid Recall@10 after 4 epochs)
TAU_MIN = 1e-3       # L_PMSIM = InfoNCE on sim/τ (Eqs. 16-18, cosine) grows like 1/τ: τ=1e-3 still trains (.117, τ=1: .140),
                     # τ=1e-4 hardly (.043; L_PMSIM ≈ 200), τ=1e-30 not at all (loss ≈ 3e27, metrics frozen)
TAU_WARN = 100.0     # τ=1000: the logits lie within ±1/τ, L_PMSIM stays at log(batch) (4.83): no signal
LR_MAX = 1.0         # Adam moves every weight by about lr per step: lr=1 drove the loss from 45 up to 95
                     # (lr=0.1: 7.0 down to 6.1), lr=10 to 1.6e4


def _check_trainable_ranges(config: "TrainConfig") -> None:
    """Numeric settings that pass the type checks but cannot train: an error (or a warning) with the reason."""
    if config.tau < TAU_MIN:
        raise ValueError(f"TrainConfig.tau: must be >= {TAU_MIN:g}, got {config.tau!r}: L_PMSIM is InfoNCE on "
                         f"similarity/τ, so it grows like 1/τ and swamps the other losses (τ=1e-4 hardly trains, "
                         f"τ=1e-30 gives a loss of ~1e27 and frozen metrics)")
    if config.lr >= LR_MAX:
        raise ValueError(f"TrainConfig.lr: must be below {LR_MAX:g}, got {config.lr!r}: Adam moves every weight by "
                         f"about lr per step, and at lr=1 the loss diverges (the paper uses 0.01)")
    if config.tau > TAU_WARN and config.srsupm and config.pmsim:
        import warnings
        warnings.warn(f"TrainConfig.tau={config.tau:g} > {TAU_WARN:g}: the InfoNCE logits lie within ±1/τ, so "
                      f"L_PMSIM stays near log(batch size) and gives almost no gradient", stacklevel=4)


# the type class of every field, used by validate() and by the CLI
FIELD_KINDS = {
    "dataset": "str", "data_root": "opt_str", "labels": "str", "dataset_options": "dict", "noise_p": "float",
    "max_len": "pos_int",
    "backbone": "str", "backbone_options": "dict", "dim": "pos_int", "srsupm": "bool", "oracle": "bool", "K": "int", "bins": "str",
    "lambda1": "float", "lambda2": "float", "gamma": "float", "tau": "float", "dropout": "float",
    "pmsid": "bool", "pmsim": "bool", "pmi": "bool", "priors": "bool", "level_temperature": "str",
    "pmsim_similarity": "str", "reg_form": "str", "augmentation": "str", "singletons": "str",
    "false_negatives": "str", "loss": "str", "one_pass": "bool", "preset": "opt_str",
    "epochs": "pos_int", "batch_size": "pos_int", "lr": "float", "weight_decay": "float", "patience": "pos_int",
    "seed": "int", "eval_batch_size": "pos_int", "length_groups": "opt_pos_int",
    "mask_history": "bool", "fused_mixture": "bool", "device": "str", "out_dir": "opt_str",
    "resume": "bool", "progress": "bool",
}
assert set(FIELD_KINDS) == {f.name for f in fields(TrainConfig)}, "every TrainConfig field needs a kind"

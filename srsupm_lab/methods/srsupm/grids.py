"""What runs, and how it is named: the grids of Tables 1, 3, 4 and Fig. 3 (paper §5; method.md §10–§12).

Run names are ``<dataset>/<model>/seed<s>``, e.g. ``beauty/sasrec+srsupm/seed1``; ``<model>`` is
the backbone, ``+srsupm``, then the changes from the default setting in a fixed order:
``-wo-pmsid-pmsim`` (ablation switches off), ``-K3``, ``-noise0.1``. The grids therefore share
runs: Table 1's ``sasrec+srsupm`` is also Table 3's "SRSUPM" row, Table 4's p = 0 and Fig. 3's
K = 5. A departure from the paper's model (``level_temperature="learned"``) gets a suffix of its
own (:func:`departure_names`).

This module knows nothing of how a run is executed (:mod:`srsupm_lab.reproduce.engines`) or reported.
:func:`report_columns` gives the columns the SRSUPM paper's reports read from any run's config.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ...run_folder import RunSpec, slug
from . import paper

__all__ = ["RunSpec", "SWITCHES", "DEFAULT_K", "PAPER_DATASETS", "GRID_KEYS", "slug", "run_name", "run_spec",
           "table1", "TABLE1_VARIANTS", "TABLE3_ROWS", "PAPER_TABLE3_ROWS", "CONTROL_ABLATIONS", "ABLATIONS",
           "table3", "table4", "fig3", "SWEEP_BACKBONES", "TABLE4_PS", "FIG3_KS", "GRIDS", "TABLE1_BACKBONES",
           "build_grid", "departure_names"]

#: the ablation switches of a +SRSUPM run (TrainConfig fields), in the order run names list them
SWITCHES = ("pmsid", "pmsim", "pmi", "priors")
#: the paper's number of shift levels (TrainConfig's default K): a run name mentions K only when it differs
DEFAULT_K = 5
PAPER_DATASETS = ("beauty", "sports", "yelp")
#: keys a grid sets in its specs; the settings shared by a grid's runs (``common``) may not set them
GRID_KEYS = ("dataset", "backbone", "method", "seed", "K", "noise_p", *SWITCHES)


def _check_datasets(datasets) -> list[str]:
    from ...data.loaders import KNOWN_DATASETS, interaction_file
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    if not datasets:
        raise ValueError("reproduce: give at least one dataset")
    out = []
    for ds in datasets:
        if not isinstance(ds, str):
            raise ValueError(f"reproduce: dataset names are strings, got {ds!r}")
        if ds.lower() in KNOWN_DATASETS:
            out.append(ds.lower())
        elif Path(ds).expanduser().is_dir() or interaction_file(ds) is not None:
            out.append(ds)                                   # a folder, or a table train reads (CSV, Parquet, ...)
        else:
            raise ValueError(f"reproduce: unknown dataset {ds!r}; known datasets are {list(KNOWN_DATASETS)} "
                             f"(or an existing folder in the S3-Rec layout, or a user,item,timestamp table)")
    return out


def _check_backbones(backbones) -> list[str]:
    from ...backbones import BACKBONES
    backbones = [backbones] if isinstance(backbones, str) else list(backbones)
    if not backbones:
        raise ValueError("reproduce: give at least one backbone")
    bad = [b for b in backbones if not isinstance(b, str) or b.lower() not in BACKBONES]
    if bad:
        raise ValueError(f"reproduce: unknown backbone(s) {bad}; known backbones are {list(BACKBONES)}")
    return [b.lower() for b in backbones]


def _check_seeds(seeds) -> list[int]:
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in seeds):
        raise ValueError(f"reproduce: seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    return [int(s) for s in seeds]


def run_name(dataset: str, backbone: str, srsupm: bool, seed: int, K: int = DEFAULT_K, noise_p: float = 0.0,
             off: Sequence[str] = ()) -> str:
    """``<dataset>/<backbone>[+srsupm][-wo-...][-K<k>][-noise<p>]/seed<s>`` (see the module doc)."""
    model = backbone + ("+srsupm" if srsupm else "")
    off = [s for s in SWITCHES if s in set(off)]
    if off:
        model += "-wo-" + "-".join(off)
    if K != DEFAULT_K:
        model += f"-K{K}"
    if noise_p:
        model += f"-noise{noise_p:g}"
    return f"{slug(dataset)}/{model}/seed{seed}"


def run_spec(dataset: str, backbone: str, srsupm: bool, seed: int, **extra) -> RunSpec:
    """The :class:`RunSpec` of one run: its :func:`run_name` and overrides (``extra``: K, noise_p,
    switches set to False, any other TrainConfig field)."""
    off = [s for s in SWITCHES if extra.get(s) is False]
    name = run_name(dataset, backbone, srsupm, seed, K=extra.get("K", DEFAULT_K), noise_p=extra.get("noise_p", 0.0),
                    off=off)
    return RunSpec(name, {"dataset": dataset, "backbone": backbone, "method": "srsupm" if srsupm else "none",
                          "seed": seed, **extra})


TABLE1_VARIANTS = ("backbone", "srsupm")
#: Table 1's backbones, in the paper's order
TABLE1_BACKBONES = ("gru4rec", "sasrec", "caser", "bert4rec", "lightsans")


def table1(datasets, backbones, seeds, variants: Sequence[str] = TABLE1_VARIANTS) -> list[RunSpec]:
    """Table 1: every backbone alone and with SRSUPM, on every dataset, for every seed.

    ``variants`` picks the halves of the grid: ``("backbone",)`` trains the backbones alone only,
    ``("srsupm",)`` only their +SRSUPM counterparts.
    """
    datasets, backbones, seeds = _check_datasets(datasets), _check_backbones(backbones), _check_seeds(seeds)
    variants = list(variants)
    unknown = sorted(set(variants) - set(TABLE1_VARIANTS))
    if unknown or not variants:
        raise ValueError(f"reproduce: table1 variants must be among {list(TABLE1_VARIANTS)}, got {variants}")
    plugs = [plug for plug, name in zip((False, True), TABLE1_VARIANTS) if name in variants]
    return [run_spec(ds, bb, plug, s) for ds in datasets for bb in backbones for plug in plugs for s in seeds]


#: A control the paper does not run: the K SIC branches and their priors with mean pooling, no
#: shift supervision (PMSID, PMSIM) and no per-item mixture (PMI): what the added layers alone do.
CONTROL_ABLATIONS = {"w/o PMSID & PMSIM & PMI": {"pmsid": False, "pmsim": False, "pmi": False}}
#: Table 3's rows by their command-line name, in the paper's order, then the control (values:
#: ``paper.ABLATIONS`` and ``CONTROL_ABLATIONS`` keys). The row ``sasrec`` is the backbone alone
#: (the paper's backbone); ``backbone`` is accepted for it too.
TABLE3_ROWS = {"sasrec": "SASRec", "wo-pmsid-pmsim": "w/o PMSID & PMSIM", "wo-pmsim": "w/o PMSIM",
               "wo-pmsid": "w/o PMSID", "wo-pmi": "w/o PMI", "srsupm": "SRSUPM",
               "wo-pmsid-pmsim-pmi": "w/o PMSID & PMSIM & PMI"}
#: the rows a table3 grid runs by default: the paper's six
PAPER_TABLE3_ROWS = tuple(r for r, name in TABLE3_ROWS.items() if name in paper.ABLATIONS)
ABLATIONS = {**paper.ABLATIONS, **CONTROL_ABLATIONS}

#: The paper runs Tables 3 and 4 and Fig. 3 on SASRec; ``backbones`` runs them on others too.
SWEEP_BACKBONES = ("sasrec",)
#: The paper's label-noise levels (Table 4) and numbers of shift levels (Fig. 3)
TABLE4_PS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
FIG3_KS = (3, 4, 5, 6, 7)


def table3(datasets, seeds, rows: Sequence[str] = PAPER_TABLE3_ROWS,
           backbones: Sequence[str] = SWEEP_BACKBONES) -> list[RunSpec]:
    """Table 3: the ablation rows of ``paper.ABLATIONS`` (None = the backbone alone), on SASRec
    as in the paper, or on each of ``backbones``; the row ``wo-pmsid-pmsim-pmi`` adds our control
    (``CONTROL_ABLATIONS``).

    ``rows`` picks rows by their ``TABLE3_ROWS`` name and runs them in the order given, e.g.
    ``("wo-pmi", "wo-pmsim")`` runs the two cheaper ablations first; ``backbone`` names the row
    ``sasrec`` (the backbone alone) whatever the backbone.
    """
    datasets, seeds, backbones = _check_datasets(datasets), _check_seeds(seeds), _check_backbones(backbones)
    rows = ["sasrec" if r == "backbone" else r for r in rows]
    unknown = [r for r in rows if r not in TABLE3_ROWS]
    if unknown or not rows or len(set(rows)) != len(rows):
        raise ValueError(f"reproduce: table3 rows must be distinct names among {list(TABLE3_ROWS)} "
                         f"('backbone' for 'sasrec'), got {rows}")
    specs = []
    for ds in datasets:
        for bb in backbones:
            for row in rows:
                switches = ABLATIONS[TABLE3_ROWS[row]]
                for s in seeds:
                    specs.append(run_spec(ds, bb, False, s) if switches is None
                                 else run_spec(ds, bb, True, s, **switches))
    return specs


def table4(datasets, seeds, ps: Iterable[float] = TABLE4_PS,
           backbones: Sequence[str] = SWEEP_BACKBONES) -> list[RunSpec]:
    """Table 4: SASRec+SRSUPM (or each of ``backbones`` +SRSUPM) with label noise p on the training supervision."""
    datasets, seeds, backbones = _check_datasets(datasets), _check_seeds(seeds), _check_backbones(backbones)
    ps = [float(p) for p in ps]
    bad = [p for p in ps if not 0.0 <= p <= 1.0]
    if bad or not ps:
        raise ValueError(f"reproduce: noise levels must lie in [0, 1], got {ps}")
    return [run_spec(ds, bb, True, s, noise_p=p) for ds in datasets for bb in backbones for p in ps for s in seeds]


def fig3(datasets, seeds, Ks: Iterable[int] = FIG3_KS,
         backbones: Sequence[str] = SWEEP_BACKBONES) -> list[RunSpec]:
    """Fig. 3: SASRec+SRSUPM (or each of ``backbones`` +SRSUPM) for each number of shift levels K."""
    datasets, seeds, backbones = _check_datasets(datasets), _check_seeds(seeds), _check_backbones(backbones)
    Ks = list(Ks)
    if not Ks or any(isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 3 for k in Ks):
        raise ValueError(f"reproduce: K values must be integers >= 3, got {Ks}")
    return [run_spec(ds, bb, True, s, K=int(k)) for ds in datasets for bb in backbones for k in Ks for s in seeds]


GRIDS = {"table1": table1, "table3": table3, "table4": table4, "fig3": fig3}


def build_grid(grid: str, datasets, seeds, backbones=None, ps=None, Ks=None, variants=None,
               rows=None) -> list[RunSpec]:
    """The specs of one named grid (the CLI's ``--grid``); unknown names raise with the list."""
    if grid not in GRIDS:
        raise ValueError(f"reproduce: unknown grid {grid!r}; choose one of {list(GRIDS)} (or table2, the inference timings)")
    if variants and grid != "table1":
        raise ValueError(f"reproduce: variants choose the halves of table1 only, not of {grid}")
    if rows and grid != "table3":
        raise ValueError(f"reproduce: ablation rows choose the rows of table3 only, not of {grid}")
    if ps and grid != "table4":
        raise ValueError(f"reproduce: noise levels (ps) belong to table4 only, not to {grid}")
    if Ks and grid != "fig3":
        raise ValueError(f"reproduce: values of K (Ks) belong to fig3 only, not to {grid}")
    if grid == "table1":
        return table1(datasets, backbones or TABLE1_BACKBONES, seeds, variants or TABLE1_VARIANTS)
    backbones = backbones or SWEEP_BACKBONES
    if grid == "table3":
        return table3(datasets, seeds, rows or PAPER_TABLE3_ROWS, backbones)
    if grid == "table4":
        return table4(datasets, seeds, ps or TABLE4_PS, backbones)
    return fig3(datasets, seeds, Ks or FIG3_KS, backbones)


def departure_names(specs: Sequence[RunSpec], common: dict | None) -> list[RunSpec]:
    """The specs, with SRSUPM runs renamed when ``common`` departs from the paper's model.

    ``level_temperature="learned"`` turns ``beauty/sasrec+srsupm/seed1`` into
    ``beauty/sasrec+srsupm-temperature-learned/seed1``, so the departure and the paper's model
    live side by side in one ``runs_dir`` (backbone-alone runs are the same run for both and keep
    their name). Applying it twice changes nothing.
    """
    mode = (common or {}).get("level_temperature", "fixed")
    if mode != "learned":                              # a fixed scale (1/√d or 1) is the paper's model
        return list(specs)
    suffix = f"-temperature-{mode}"
    renamed = []
    for spec in specs:
        dataset, model, seed = spec.name.split("/")
        if spec.overrides.get("method") == "srsupm" and not model.endswith(suffix):
            spec = RunSpec(f"{dataset}/{model}{suffix}/{seed}", spec.overrides)
        renamed.append(spec)
    return renamed

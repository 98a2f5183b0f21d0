"""The paper's published numbers (method.md §12), as tidy tables for side-by-side comparison.

Every figure here is copied from the paper's Tables 1–4 (as restated in method.md §12); nothing
is computed. Notebooks, tutorials and the reproduction reports put a run's metrics next to
these with :func:`table1`, :func:`table3`, :func:`table4` and :func:`table2`.

Dataset keys are the loader names (``"beauty"``, ``"sports"``, ``"yelp"``); backbone keys are
the registry names (``"sasrec"`` ...); ``srsupm`` is False for the backbone alone.
"""
from __future__ import annotations

import pandas as pd

__all__ = ["table1", "table2", "table3", "table4", "paper_value", "METRICS"]

METRICS = ("recall@10", "recall@20", "ndcg@10", "ndcg@20")

# Table 1, full ranking: R@10 R@20 N@10 N@20 per dataset; rows: backbone, then +SRSUPM.
_TABLE1 = {
    ("gru4rec", False): {"yelp": (.0401, .0672, .0197, .0266), "beauty": (.0604, .0867, .0345, .0411),
                         "sports": (.0320, .0475, .0172, .0214)},
    ("gru4rec", True): {"yelp": (.0520, .0841, .0238, .0339), "beauty": (.0772, .1009, .0452, .0524),
                        "sports": (.0388, .0673, .0211, .0273)},
    ("sasrec", False): {"yelp": (.0640, .0908, .0402, .0474), "beauty": (.0860, .1204, .0419, .0513),
                        "sports": (.0501, .0706, .0234, .0278)},
    ("sasrec", True): {"yelp": (.0781, .1132, .0469, .0572), "beauty": (.1042, .1385, .0517, .0625),
                       "sports": (.0583, .0845, .0292, .0380)},
    ("caser", False): {"yelp": (.0372, .0557, .0186, .0235), "beauty": (.0503, .0778, .0254, .0342),
                       "sports": (.0292, .0451, .0136, .0176)},
    ("caser", True): {"yelp": (.0407, .0636, .0231, .0276), "beauty": (.0591, .0895, .0313, .0394),
                      "sports": (.0307, .0520, .0159, .0207)},
    ("bert4rec", False): {"yelp": (.0368, .0554, .0191, .0247), "beauty": (.0524, .0791, .0322, .0381),
                          "sports": (.0304, .0468, .0147, .0185)},
    ("bert4rec", True): {"yelp": (.0411, .0633, .0236, .0285), "beauty": (.0614, .0915, .0359, .0428),
                         "sports": (.0327, .0539, .0171, .0216)},
    ("lightsans", False): {"yelp": (.0645, .0914, .0405, .0479), "beauty": (.0872, .1217, .0443, .0526),
                           "sports": (.0518, .0720, .0249, .0292)},
    ("lightsans", True): {"yelp": (.0774, .1095, .0472, .0574), "beauty": (.1035, .1388, .0512, .0619),
                          "sports": (.0575, .0834, .0282, .0369)},
}

# Table 3, ablations on SASRec: R@10, N@10.
_TABLE3 = {
    "SASRec": {"yelp": (.0640, .0402), "beauty": (.0860, .0419), "sports": (.0501, .0234)},
    "w/o PMSID & PMSIM": {"yelp": (.0727, .0438), "beauty": (.0962, .0477), "sports": (.0546, .0275)},
    "w/o PMSIM": {"yelp": (.0732, .0441), "beauty": (.0983, .0487), "sports": (.0553, .0278)},
    "w/o PMSID": {"yelp": (.0756, .0455), "beauty": (.1010, .0501), "sports": (.0576, .0289)},
    "w/o PMI": {"yelp": (.0755, .0453), "beauty": (.0984, .0489), "sports": (.0573, .0284)},
    "SRSUPM": {"yelp": (.0781, .0469), "beauty": (.1042, .0517), "sports": (.0583, .0292)},
}

# Table 4, label noise p on SASRec+SRSUPM: R@10.
_NOISE_P = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
_TABLE4 = {
    "yelp": (.0781, .0769, .0752, .0734, .0710, .0686),
    "beauty": (.1042, .1026, .1008, .0981, .0954, .0921),
    "sports": (.0583, .0575, .0563, .0547, .0531, .0510),
}

# Table 2, inference cost on Beauty (the paper gives no unit; same unit within a row).
_TABLE2 = {"gru4rec": (1.061, 1.216), "sasrec": (1.283, 1.462), "caser": (1.214, 1.386),
           "bert4rec": (1.731, 1.972), "lightsans": (1.342, 1.535)}

#: Backbone names as the paper writes them (keys: ``srsupm_lab.backbones.BACKBONES``)
BACKBONE_NAMES = {"gru4rec": "GRU4Rec", "sasrec": "SASRec", "caser": "Caser", "bert4rec": "BERT4Rec",
                  "lightsans": "LightSANs"}

#: The ablation switches (TrainConfig fields) of each Table 3 row; None = the backbone alone.
ABLATIONS = {
    "SASRec": None,
    "w/o PMSID & PMSIM": {"pmsid": False, "pmsim": False},
    "w/o PMSIM": {"pmsim": False},
    "w/o PMSID": {"pmsid": False},
    "w/o PMI": {"pmi": False},
    "SRSUPM": {},
}


def table1() -> pd.DataFrame:
    """Table 1 as a long table: dataset, backbone, srsupm, metric, value."""
    rows = [{"dataset": ds, "backbone": bb, "srsupm": plug, "metric": m, "value": v}
            for (bb, plug), per_ds in _TABLE1.items() for ds, vals in per_ds.items()
            for m, v in zip(METRICS, vals)]
    return pd.DataFrame(rows)


def table2() -> pd.DataFrame:
    """Table 2: inference cost per backbone on Beauty, alone and with SRSUPM, and their ratio."""
    rows = [{"backbone": bb, "backbone_alone": a, "with_srsupm": b, "ratio": b / a} for bb, (a, b) in _TABLE2.items()]
    return pd.DataFrame(rows)


def table3() -> pd.DataFrame:
    """Table 3 (ablations, SASRec backbone) as a long table: dataset, variant, metric, value."""
    rows = [{"dataset": ds, "variant": var, "metric": m, "value": v}
            for var, per_ds in _TABLE3.items() for ds, vals in per_ds.items()
            for m, v in zip(("recall@10", "ndcg@10"), vals)]
    return pd.DataFrame(rows)


def table4() -> pd.DataFrame:
    """Table 4 (label noise, SASRec+SRSUPM): dataset, noise_p, recall@10."""
    rows = [{"dataset": ds, "noise_p": p, "recall@10": v} for ds, vals in _TABLE4.items()
            for p, v in zip(_NOISE_P, vals)]
    return pd.DataFrame(rows)


def paper_value(dataset: str, backbone: str, srsupm: bool, metric: str) -> float | None:
    """One Table 1 cell, or None when the paper has no such cell (e.g. the synthetic world)."""
    per_ds = _TABLE1.get((backbone.lower(), bool(srsupm)), {})
    vals = per_ds.get(dataset.lower())
    if vals is None or metric not in METRICS:
        return None
    return vals[METRICS.index(metric)]

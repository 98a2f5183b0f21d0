"""The ``stats`` command: a dataset's statistics and the PMSA assessment of its training windows (paper Eq. 2-3)."""
from __future__ import annotations

import numpy as np

__all__ = ["add_command", "level_report"]


def level_report(ds, K: int, bins: str, max_len: int = 50) -> tuple:
    """Print the PMSD histogram (Eq. 2) and the level shares (Eq. 3) of ``ds``'s training windows; return
    ``(shares table, PMSD array)``."""
    import pandas as pd

    from .. import pmsa
    from ..data import leave_one_out

    split = leave_one_out(ds, max_len=max_len)
    p, lev = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K, bins)
    p = p.numpy()
    hist = {"PMSD = 0": (p == 0).mean(), "0 < PMSD ≤ .2": ((p > 0) & (p <= .2)).mean(),
            ".2 < PMSD ≤ .4": ((p > .2) & (p <= .4)).mean(), ".4 < PMSD ≤ .6": ((p > .4) & (p <= .6)).mean(),
            ".6 < PMSD ≤ .8": ((p > .6) & (p <= .8)).mean(), ".8 < PMSD < 1": ((p > .8) & (p < 1)).mean(),
            "PMSD = 1": (p == 1).mean()}
    shares = np.bincount(lev.numpy(), minlength=K) / len(lev)
    print(f"\nPMSA on {len(p)} training windows (K={K}, {bins} bins): mean PMSD {p.mean():.3f}")
    for name, v in hist.items():
        print(f"  {name:<16}{v:7.2%}  {'█' * int(round(v * 50))}")
    print("  level shares: " + "  ".join(f"{k}: {s:.1%}" for k, s in enumerate(shares)))
    return pd.DataFrame({"level": np.arange(K), "share": shares}), p


def cmd_stats(args) -> int:
    from ..data import load_dataset
    from ..data.kcore import kcore_lines

    ds = load_dataset(args.dataset, root=args.root, labels=args.labels)
    print(ds.stats().to_string())
    for line in kcore_lines(ds.meta.get("kcore_counts")):
        print(line)
    level_report(ds, args.K, args.bins)
    return 0


def add_command(sub) -> None:
    """Add ``stats`` to the ``python -m srsupm_lab`` subparsers ``sub``."""
    from ..config import BINS
    from ..data.loaders import KNOWN_DATASETS, LABEL_KINDS
    stats = sub.add_parser(
        "stats", help="dataset statistics and the PMSD/level distribution",
        description="Statistics of a dataset (users, items, interactions, labels; what its k-core filter kept) "
                    "and the PMSA assessment of its training windows: the PMSD histogram (paper Eq. 2) and the "
                    "share of each shift level (Eq. 3).")
    stats.add_argument("--dataset", default="synthetic",
                       help=f"{' | '.join(KNOWN_DATASETS)}, or a folder in the S3-Rec layout")
    stats.add_argument("--root", default=None,
                       help="folder holding the real datasets (default: the SRSUPM_DATA environment variable, "
                            "then the package's search path; see README, Data)")
    stats.add_argument("--labels", default="categories", choices=LABEL_KINDS,
                       help="item labels PMSA compares: category names or S3-Rec attribute ids")
    stats.add_argument("--K", type=int, default=5, help="number of shift levels (3 or more)")
    stats.add_argument("--bins", default="even", choices=BINS,
                       help="level bins: even splits of (0, 1) (the paper, Eq. 3) or quantiles of the training "
                            "windows' PMSD")
    stats.set_defaults(func=cmd_stats)

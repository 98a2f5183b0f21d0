"""srsupm_lab — motivation-aware sequential recommendation for teaching and research.

The map from the paper to the code (method.md section in brackets), layer by layer:

=========================  ======================================================================
``data``                   datasets, leave-one-out windows (Split)
``pmsa``                   shift degree, levels, label noise (§1; paper §4.1)
``backbones``              GRU4Rec, SASRec, Caser, BERT4Rec, LightSANs (§2; paper §4.2)
``methods``                what is plugged onto a backbone, by name: the registry, the Method API,
                           ``none`` (the backbone alone)
``methods.srsupm``         SRSUPM: SIC + priors, PMSID, PMSIM, the mixture, the objective, its
                           oracle (§3–§9; paper §4.3–4.8)
``methods.mtrec``          MTRec's mental reward: quantile heads, QR-IQL, alignment (mtrec_method.md)
``methods.profiles``       motivation profiles from item text: MOPE, MOTE, MAR
``config``                 every setting of one run, in sections (the method and its options)
``trainer``                device, batches, early stopping, checkpoints
``checkpoints``            what a checkpoint holds: states, RNGs, caches (exact resume)
``atomic``                 atomic file writes (a crash leaves the old file or the new one)
``evaluate``               full-ranking Recall/NDCG, per-level breakdown (§10)
``experiment``             one call from a config to saved results; a finished run brought back
``run_folder``             a run folder's files, its stored config, load_results
``run_lock``               one writer per run folder (a second is refused in one line)
``threads``                the package's one thread policy
``distributed``            data-parallel training under torchrun (DDP)
``analysis``               shift representations, branch collapse, figures, the paired bootstrap,
                           a run folder's diagnostics
``reproduce``              every experiment: grids, the one engine and collector, the reports (§12)
``cli``                    the command line's parts (``python -m srsupm_lab``)
``widgets``                explorers for K, p and a trained model
=========================  ======================================================================
"""
from importlib import import_module

from . import pmsa
from .data import KNOWN_DATASETS, SequenceDataset, Split, Windows, leave_one_out, load_dataset, make_synthetic

__version__ = "0.1.0"

# Heavier parts load on first use, so `import srsupm_lab` stays quick in a notebook.
_LAZY = {
    "SRSUPM": "srsupm_lab.methods.srsupm.model",
    "mixed_scores": "srsupm_lab.methods.srsupm.prediction",
    "build_backbone": "srsupm_lab.backbones",
    "BACKBONES": "srsupm_lab.backbones",
    "BackboneRecommender": "srsupm_lab.methods.none",
    "rank_metrics": "srsupm_lab.evaluate",
    "evaluate": "srsupm_lab.evaluate",
    "Trainer": "srsupm_lab.trainer",
    "TrainConfig": "srsupm_lab.config",
    "run_experiment": "srsupm_lab.experiment",
    "load_trained": "srsupm_lab.experiment",
    "paired_bootstrap": "srsupm_lab.analysis.significance",
    "compare_runs": "srsupm_lab.analysis.significance",
}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'srsupm_lab' has no attribute {name!r}")


__all__ = ["pmsa", "SequenceDataset", "Split", "Windows", "leave_one_out", "load_dataset", "make_synthetic",
           "KNOWN_DATASETS", *_LAZY]

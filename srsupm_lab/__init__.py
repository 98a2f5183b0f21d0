"""srsupm_lab — motivation-aware sequential recommendation (SRSUPM) for teaching and research.

The map from the paper to the code (method.md section in brackets):

=====================  ==========================================================
``data``               datasets, leave-one-out windows (Split)
``pmsa``               shift degree, levels, label noise (§1; paper §4.1)
``backbones``          GRU4Rec, SASRec, Caser, BERT4Rec, LightSANs (§2; paper §4.2)
``sic``                shift information construction + level priors (§3–4)
``pmsid``              decomposition loss + shift-consistency regulariser (§5–6)
``pmsim``              similar-window matching, confidence sampling, InfoNCE (§7)
``prediction``         the per-item mixture of shift representations (§8)
``srsupm``             the plug-in model and its multi-task objective (§9)
``evaluate``           full-ranking Recall/NDCG, per-level breakdown (§10)
``trainer``            device, batches, early stopping, checkpoints
``checkpoints``        what a checkpoint holds: states, RNGs, caches (exact resume)
``atomic``             atomic file writes (a crash leaves the old file or the new one)
``experiment``         one call from a config to saved results; a finished run brought back
``run_folder``         a run folder's files, its stored config, load_results
``train_cli``          the CLI ``train`` command's options
``significance``       paired bootstrap: is B's gain over A more than noise?
``timing``             inference cost alone and with SRSUPM (Table 2)
``distributed``        data-parallel training under torchrun (DDP)
=====================  ==========================================================
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

"""Benchmark: one stage-1 epoch of MTRec's reward model against one epoch of the backbone alone (MTRec Algorithms 1–2).

    python benchmarks/bench_mtrec_stage1.py                       # Beauty, SASRec and GRU4Rec, median of 3
    python benchmarks/bench_mtrec_stage1.py --windows 30000       # the first 30,000 windows: the same ratios, sooner
    python benchmarks/bench_mtrec_stage1.py --quick               # a slice of Beauty: checks that it runs

For each backbone, three figures, each the median of ``--repeats`` runs (alternating):

* **stage 1**: one epoch of :func:`srsupm_lab.methods.mtrec.reward_model.train_reward_model` (QR-IQL,
  N = 10 atoms, α = 0.5, the function's defaults) over every training window, with one fixed sampled
  negative per window as the method ``mtrec`` draws them (docs/mtrec_method.md §5, §8), in both batch
  forms (option ``reward_batches``): ``windows`` (shuffled windows, the next windows encoded again for
  ``V*(s')``) and ``users`` (whole users per batch: one encoder pass);
* **backbone**: one epoch of the backbone alone (cross-entropy over all items) through the package's
  trainer (:class:`srsupm_lab.trainer.Trainer`'s epoch), at the same batch size;
* **r\\***: the one batched pass computing ``r*`` for every training window (``RewardModel.rewards``).

The target (issue 31): a stage-1 epoch at most 1.5× a backbone epoch. A ``windows`` stage-1 step encodes the
batch's windows and, for ``V*(s')``, the windows that follow them (two encoder passes); a ``users`` step encodes
once, as a backbone step does (which then scores all N items); the ratios are printed per backbone with the
machine, its load and torch's threads.
"""
import argparse
import os
import platform
import statistics
import time
import warnings

import torch

from srsupm_lab.backbones import build_backbone
from srsupm_lab.data import leave_one_out, load_dataset
from srsupm_lab.methods.mtrec.reward_model import (RewardModel, next_window_index, sample_negatives,
                                                   train_reward_model)
from srsupm_lab.methods.none import BackboneRecommender
from srsupm_lab.threads import apply_thread_policy
from srsupm_lab.trainer import Trainer


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--root", default=None, help="folder of the real datasets (default: the search path, data/)")
    ap.add_argument("--backbones", nargs="+", default=["sasrec", "gru4rec"])
    ap.add_argument("--batch-size", type=int, default=256, help="both loops (train_reward_model's default 256)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="torch CPU threads (default: the package's thread policy for large work)")
    ap.add_argument("--windows", type=int, default=None,
                    help="time the first N training windows only (default: all); the ratios are per window")
    ap.add_argument("--quick", action="store_true",
                    help="only the first 3,000 training windows and one repeat: checks the script, times nothing "
                         "worth reporting")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)                          # explicit: the policy keeps it
    apply_thread_policy("large")
    repeats = 1 if args.quick else args.repeats
    ds = load_dataset(args.dataset, root=args.root)
    split = leave_one_out(ds, max_len=args.max_len)
    limit = 3000 if args.quick else args.windows
    train = split.train if limit is None else split.train.subset(slice(0, limit))
    valid = split.valid.subset(slice(0, 200)) if args.quick else split.valid
    nxt = next_window_index(train.inputs, train.targets, train.users)
    negatives = sample_negatives(train.targets, ds.n_items, 1, generator=torch.Generator().manual_seed(0))
    n_batches = -(-len(train) // args.batch_size)
    print(f"dataset {args.dataset}{'' if limit is None else ' (the first windows only)'}: {len(train)} training windows "
          f"({n_batches} batches of {args.batch_size}), {ds.n_items} items; d {args.dim}, L {args.max_len}")
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s); wall clock, median of {repeats}; "
          f"load average {os.getloadavg()[0]:.2f}")

    def build(name):
        return build_backbone(name, ds.n_items, n_users=ds.n_users, dim=args.dim, max_len=args.max_len)

    def stage1(name, batches):
        torch.manual_seed(0)
        model = RewardModel(build(name))
        t0 = time.perf_counter()
        train_reward_model(model, train, epochs=1, batch_size=args.batch_size, next_index=nxt, negatives=negatives,
                           batches=batches)
        t1 = time.perf_counter()
        model.rewards(train, next_index=nxt, negatives=negatives)
        return t1 - t0, time.perf_counter() - t1

    def backbone(name):
        torch.manual_seed(0)
        trainer = Trainer(BackboneRecommender(build(name)), train, valid, batch_size=args.batch_size, lr=1e-3,
                          device="cpu", progress=False)
        trainer.optimizer = torch.optim.Adam(trainer.model.parameters(), lr=1e-3)
        data = trainer._training_data()
        t0 = time.perf_counter()
        trainer._train_epoch(data, 1)
        return time.perf_counter() - t0

    header = (f"{'backbone':<10}{'batches':>9}{'stage-1 s':>11}{'backbone s':>12}{'ratio':>8}{'r* pass s':>11}"
              f"  target ratio <= 1.5")
    print(header)
    print("-" * len(header))
    for name in args.backbones:
        s1 = {"windows": [], "users": []}
        base, rstar = [], []
        for _ in range(repeats):                                      # alternating: the load hits every figure alike
            for batches in s1:
                a, r = stage1(name, batches)
                s1[batches].append(a)
                rstar.append(r)
            base.append(backbone(name))
        mb, mr = statistics.median(base), statistics.median(rstar)
        for batches, times in s1.items():
            m1 = statistics.median(times)
            print(f"{name:<10}{batches:>9}{m1:>11.2f}{mb:>12.2f}{m1 / mb:>8.2f}{mr:>11.2f}  "
                  f"{'met' if m1 <= 1.5 * mb else 'NOT met'}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Benchmark: load a dataset, build all leave-one-out windows, assess all training windows (PMSA).

    python benchmarks/bench_data.py --dataset yelp --repeats 5

Prints a table of the median (and min/max) seconds of each step over the repeats. Target
(foundation issue): Yelp load + windows + assess under 3 s together on a 2-core machine,
``assess`` alone under 1 s.
"""
import argparse
import os
import platform
import statistics
import time
import warnings

import torch

from srsupm_lab import pmsa
from srsupm_lab.data import leave_one_out, load_dataset


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="yelp")
    ap.add_argument("--root", default=None)
    ap.add_argument("--K", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows = {"load": [], "leave_one_out": [], "assess": [], "total": []}
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ds = load_dataset(args.dataset, root=args.root)
        t1 = time.perf_counter()
        split = leave_one_out(ds)
        t2 = time.perf_counter()
        pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, args.K)
        t3 = time.perf_counter()
        for k, v in zip(rows, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            rows[k].append(v)
    print(f"dataset {args.dataset}: {ds.n_users} users, {ds.n_items} items, {len(split.train)} training windows")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.repeats} repeats")
    print(f"{'step':<15}{'median s':>10}{'min s':>10}{'max s':>10}")
    for k, v in rows.items():
        print(f"{k:<15}{statistics.median(v):>10.3f}{min(v):>10.3f}{max(v):>10.3f}")


if __name__ == "__main__":
    main()

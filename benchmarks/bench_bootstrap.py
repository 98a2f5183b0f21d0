"""The paired bootstrap on the reports' sizes: srsupm_lab.analysis.significance.paired_bootstrap (torch) against
scipy.stats.bootstrap (percentile interval; one sample of the per-user differences, and paired=True on
the two models' per-user metrics), both vectorised: Beauty's 22,363 test users of SASRec and
SASRec+SRSUPM (reports/runs, seed 1), 4 metrics. Interleaved repeats, median seconds, one thread.

    OMP_NUM_THREADS=1 python benchmarks/bench_bootstrap.py 1000 2000 10000
"""
import statistics
import sys
import time

import numpy as np
import pandas as pd
import torch
from scipy import stats

from srsupm_lab.evaluate import metrics_from_ranks
from srsupm_lab.analysis.significance import paired_bootstrap

torch.set_num_threads(1)
a = pd.read_csv("reports/runs/beauty/sasrec/seed1/test_ranks.csv")["rank"].to_numpy().copy()
b = pd.read_csv("reports/runs/beauty/sasrec+srsupm/seed1/test_ranks.csv")["rank"].to_numpy().copy()
U = len(a)


def per_user(r):
    m = metrics_from_ranks(torch.as_tensor(r), (10, 20))
    return np.stack([m[k].double().numpy() for k in m])


def hand(n):
    paired_bootstrap(a, b, n_boot=n)


def sp_diff(n):
    D = per_user(b) - per_user(a)
    stats.bootstrap((D,), lambda x, axis: x.mean(axis=axis), n_resamples=n, vectorized=True, axis=-1,
                    method="percentile", batch=100, random_state=np.random.default_rng(0))


def sp_paired(n):
    A, B = per_user(a), per_user(b)
    stats.bootstrap((A, B), lambda x, y, axis: y.mean(axis=axis) - x.mean(axis=axis), paired=True, n_resamples=n,
                    vectorized=True, axis=-1, method="percentile", batch=100, random_state=np.random.default_rng(0))


for n in map(int, sys.argv[1:]):
    times = {f.__name__: [] for f in (hand, sp_diff, sp_paired)}
    for _ in range(3):
        for f in (hand, sp_diff, sp_paired):
            t0 = time.perf_counter()
            f(n)
            times[f.__name__].append(time.perf_counter() - t0)
    print(f"U={U} n_boot={n}: " + ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in times.items()), flush=True)

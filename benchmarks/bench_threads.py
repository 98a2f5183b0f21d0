"""Benchmark: the thread policy (srsupm_lab.threads) against torch's default threads on a fixed workload.

    python benchmarks/bench_threads.py --workload demo --threads policy      # one measurement per process
    python benchmarks/bench_threads.py --workload demo --threads default

Workloads (wall-clock seconds; each run in a fresh process so that torch's thread pool starts clean):

* ``demo``: ``--steps`` training steps (forward, loss, backward, Adam) of SASRec+SRSUPM with the demo's
  settings (``python -m srsupm_lab demo``: the synthetic world, L 20, d 64, K 5, batch 256), after 3
  warm-up steps. With the policy the threads are those :func:`apply_thread_policy` picks for the
  step's :func:`step_work` (large: the free cores).
* ``nb02``: one training epoch of GRU4Rec alone with notebook 02's settings (500 synthetic users,
  L 20, d 32, batch 256); the policy's pick for it is one thread (small work).

``--threads default`` leaves torch's own default (one thread per core); ``policy`` applies the
package's policy; a number sets it. Run ``bench_threads_table.sh`` for the alternating repeats.
"""
import argparse
import os
import time
import warnings

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=("demo", "nb02"), default="demo")
    ap.add_argument("--threads", default="policy", help="policy | default | a number")
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    from srsupm_lab import pmsa
    from srsupm_lab.backbones import build_backbone
    from srsupm_lab.data import leave_one_out, load_dataset
    from srsupm_lab.methods.none import BackboneRecommender
    from srsupm_lab.methods.srsupm.model import SRSUPM
    from srsupm_lab.threads import apply_thread_policy, step_work

    demo = args.workload == "demo"
    dim, max_len, batch_size, K = (64, 20, 256, 5) if demo else (32, 20, 256, 5)
    ds = load_dataset("synthetic", **({} if demo else {"n_users": 500}))
    split = leave_one_out(ds, max_len=max_len)
    _, levels = pmsa.assess(split.train.inputs, split.train.targets, ds.item_labels, K)
    if args.threads == "policy":
        apply_thread_policy(step_work(batch_size, ds.n_items, dim, max_len, K if demo else 1))
    elif args.threads != "default":
        torch.set_num_threads(int(args.threads))
    torch.manual_seed(0)
    bb = build_backbone("sasrec" if demo else "gru4rec", ds.n_items, n_users=ds.n_users, dim=dim, max_len=max_len)
    model = SRSUPM(bb, K=K) if demo else BackboneRecommender(bb)
    if demo:
        model.prepare(split.train, levels)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    m = len(split.train)
    perm = torch.randperm(m)
    n_steps = args.steps if demo else -(-m // batch_size)

    def step(i):
        idx = perm[(i * batch_size) % m:][:batch_size]
        batch = {"inputs": split.train.inputs[idx], "targets": split.train.targets[idx],
                 "users": split.train.users[idx], "levels": levels[idx], "index": idx}
        loss, _ = model.loss(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    t0 = time.perf_counter()
    for i in range(n_steps):
        step(i)
    wall = time.perf_counter() - t0
    print(f"RESULT workload={args.workload} threads={args.threads}->{torch.get_num_threads()} steps={n_steps} "
          f"seconds={wall:.2f} load={os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()

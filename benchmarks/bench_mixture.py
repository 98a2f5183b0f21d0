"""Benchmark: the per-item mixture (srsupm_lab.methods.srsupm.prediction, Eqs. 19–22) against its matmul floors.

    python benchmarks/bench_mixture.py --threads 1 --repeats 7            # Beauty's sizes, CPU seconds

Inference, for a batch of ``B`` users over ``N`` items (K levels, d dims): the backbone's scoring
(one (B, d) x (d, N) matmul), the floor of any exact mixture (the bare (B·K, d) x (d, N) matmul:
the K dot products per item and nothing else), the eager mixture (mixed_scores) and, with
``--fused``, the torch.compile'd one. Training: the forward and backward of the mixture plus the
cross-entropy over it, against its three matmuls alone (forward, ∂Ẑ, ∂E). Each figure is the median of
``--repeats`` alternating calls, in CPU seconds of this process (``time.process_time``; with one thread
that is steady on a loaded machine) or wall seconds (``--clock wall``).
"""
import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--K", type=int, default=5)
    ap.add_argument("--items", type=int, default=12101, help="N (Beauty: 12,101)")
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    ap.add_argument("--fused", action="store_true", help="also the torch.compile'd mixture (compiles first)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from srsupm_lab.methods.srsupm.prediction import mixed_scores
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    K, N, d = args.K, args.items, args.dim
    print(f"K {K}, N {N}, d {d}; {torch.get_num_threads()} thread(s), {os.cpu_count()} cores, torch {torch.__version__}; "
          f"{args.clock} clock, median of {args.repeats}; load average {os.getloadavg()[0]:.2f}")

    def timed(fns):
        out = {k: [] for k in fns}
        for f in fns.values():
            f()                                                    # warm-up (and compilation)
        for _ in range(args.repeats):
            for k, f in fns.items():
                t0 = clock()
                f()
                out[k].append(clock() - t0)
        return {k: statistics.median(v) * 1e3 for k, v in out.items()}

    gen = torch.Generator().manual_seed(0)
    for B in args.batches:
        Z = torch.randn(B, K, d, generator=gen)
        E = torch.randn(N, d, generator=gen) * 0.1
        h, Zf = Z[:, 0].contiguous(), Z.reshape(B * K, d)
        fns = {"backbone (B,d)x(d,N)": lambda: h @ E.t(),
               "floor (B,d)x(d,K*N)": lambda: Zf @ E.t(),
               "mixture": lambda: mixed_scores(Z, E, 0.125)}
        if args.fused:
            fns["fused mixture"] = lambda: mixed_scores(Z, E, 0.125, fused=True)
        with torch.no_grad():
            inf = timed(fns)
        print(f"inference B={B}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in inf.items())
              + f"; mixture / floor {inf['mixture'] / inf['floor (B,d)x(d,K*N)']:.2f}, "
                f"mixture / backbone {inf['mixture'] / inf['backbone (B,d)x(d,N)']:.2f}")
        Zg, Eg = Z.clone().requires_grad_(), E.clone().requires_grad_()
        y = torch.randint(0, N, (B,), generator=gen)
        dl = torch.randn(B * K, N, generator=gen)

        def train():
            Zg.grad = Eg.grad = None
            F.cross_entropy(mixed_scores(Zg, Eg, 0.125), y).backward()

        def gemms():
            Zf @ E.t()
            dl @ E
            dl.t() @ Zf
        tr = timed({"mixture + CE fwd+bwd": train, "its 3 matmuls": gemms})
        print(f"training  B={B}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in tr.items()))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

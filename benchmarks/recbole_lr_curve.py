"""Cross-check: RecBole 1.2.1's SASRec trained a few epochs at a given learning rate, valid Recall@10 per epoch.

    python benchmarks/recbole_lr_curve.py --recbole-python /tmp/rbvenv/bin/python --dataset beauty \\
        --lr 0.01 0.001 --batch-size 128 --epochs 6 --ours reports/decisive/runs/beauty/sasrec/seed1

Why: at the paper's protocol (Adam lr 0.01, batch 128; paper §5.1.4) every arm of the decisive
experiment (``reports/decisive/``) stops early near valid Recall@10 .02-.03, against ~.09 test for
the same SASRec at lr 0.001. This script asks an independent implementation whether that is
SASRec at lr 0.01 or something of ours: RecBole's own SASRec, data loader and full-ranking
evaluation (history masked, as ours), on the same leave-one-out split of the same sequences, the
same model sizes as ``bench_recbole.py`` (d 64, L 50, 2 layers, 2 heads, inner 256, dropout 0.5,
cross-entropy over all items). No early stopping: a fixed number of epochs per learning rate.

RecBole runs in its own venv (see ``bench_recbole.py``), in a child process, one learning rate after
the other. ``--ours`` puts the valid Recall@10 of srsupm_lab run folders (their ``history.csv``)
beside, epoch by epoch. Prints one table; ``--json`` also writes the curves.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recbole import recbole_setup, write_inter  # noqa: E402  (a sibling script, stdlib imports only)


def child(args) -> None:
    """In RecBole's venv: train ``args.epochs`` epochs at ``args.lr[0]``, one RESULT line per epoch."""
    trainer, train_data, valid_data = recbole_setup(args.name, args.inter_dir, args.threads, lr=args.lr[0],
                                                    batch_size=args.batch_size, seed=args.seed)
    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        loss = trainer._train_epoch(train_data, epoch - 1)
        result = trainer.evaluate(valid_data, load_best_model=False, show_progress=False)
        print("RESULT " + json.dumps({"epoch": epoch, "loss": float(loss) / len(train_data),
                                      "valid_recall@10": float(result["recall@10"]),
                                      "valid_ndcg@10": float(result["ndcg@10"]),
                                      "seconds": time.perf_counter() - t0}), flush=True)


def run_child(args, folder: Path, name: str, lr: float) -> list[dict]:
    cmd = [args.recbole_python, __file__, "--child", "--inter-dir", str(folder), "--name", name,
           "--threads", str(args.threads), "--lr", str(lr), "--batch-size", str(args.batch_size),
           "--epochs", str(args.epochs), "--seed", str(args.seed)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    rows, last = [], "no output"        # one merged stream: a full stderr pipe cannot stall the child
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                          cwd=folder) as proc:
        for line in proc.stdout:
            if line.startswith("RESULT "):
                rows.append(json.loads(line[len("RESULT "):]))
                print(f"RecBole lr {lr}: {rows[-1]}", file=sys.stderr, flush=True)
            elif line.strip():
                last = line.rstrip()
    if proc.returncode != 0 or not rows:
        raise SystemExit(f"RecBole child (lr {lr}) failed with exit status {proc.returncode}: {last}")
    return rows


def our_curve(run_dir: Path) -> dict[int, float]:
    """Valid Recall@10 by epoch from a srsupm_lab run folder's ``history.csv``."""
    import csv
    path = run_dir / "history.csv"
    if not path.is_file():
        raise SystemExit(f"{path}: no history.csv (not a finished or started srsupm_lab run folder)")
    with open(path) as fh:
        return {int(r["epoch"]): float(r["valid_recall@10"]) for r in csv.DictReader(fh)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recbole-python", default=None, help="python of a venv with recbole==1.2.1")
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--root", default=None)
    ap.add_argument("--lr", type=float, nargs="+", default=[0.01, 0.001])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the thread policy: 1 on a shared machine)")
    ap.add_argument("--ours", type=Path, nargs="*", default=[], help="srsupm_lab run folders to print beside")
    ap.add_argument("--json", default=None, help="also write the curves to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--inter-dir", help=argparse.SUPPRESS)
    ap.add_argument("--name", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)
    if not args.recbole_python:
        raise SystemExit("give --recbole-python, the python of a venv with recbole==1.2.1 (see bench_recbole.py)")
    ours = {str(d): our_curve(d) for d in args.ours}

    curves = {}
    with tempfile.TemporaryDirectory() as tmp:
        name = write_inter(args.dataset, args.root, Path(tmp))
        for lr in args.lr:
            curves[f"RecBole lr {lr:g}"] = run_child(args, Path(tmp), name, lr)

    print(f"\nSASRec on {args.dataset}: valid Recall@10 by epoch, batch {args.batch_size}, seed {args.seed}; "
          f"{platform.machine()}, {os.cpu_count()} cores, {args.threads} torch thread(s), "
          f"load average {os.getloadavg()[0]:.2f}")
    columns = list(curves) + [f"ours {d}" for d in ours]
    print(f"{'epoch':>5}  " + "  ".join(f"{c:>{max(len(c), 8)}}" for c in columns))
    for epoch in range(1, args.epochs + 1):
        cells = [rows[epoch - 1]["valid_recall@10"] if epoch <= len(rows) else float("nan") for rows in curves.values()]
        cells += [curve.get(epoch, float("nan")) for curve in ours.values()]
        print(f"{epoch:>5}  " + "  ".join(f"{v:>{max(len(c), 8)}.4f}" for c, v in zip(columns, cells)))
    print("RecBole training loss by epoch: " + "; ".join(
        f"{label}: " + " ".join(f"{r['loss']:.3f}" for r in rows) for label, rows in curves.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"recbole": curves, "ours": ours}, indent=2))


if __name__ == "__main__":
    main()

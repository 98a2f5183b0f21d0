"""Benchmark: one SASRec training epoch and one validation pass, srsupm_lab beside RecBole 1.2.1.

    python -m venv /tmp/rbvenv && /tmp/rbvenv/bin/pip install torch==2.13.0 recbole==1.2.1 "numpy<2" "pandas<2.3" "scipy<1.14"
    python benchmarks/bench_recbole.py --recbole-python /tmp/rbvenv/bin/python --dataset beauty

RecBole is never a dependency of srsupm_lab: it runs in its own virtual environment, in a child
process started by this script, on the same machine, right after (or before, ``--order``) our
own measurement, with the same number of torch threads. The setting is the issue's: SASRec,
d 64, L 50, 2 layers, 2 heads, inner size 256, dropout 0.5, cross-entropy over all items,
batch 256, Adam lr 0.001, leave-one-out with every prefix of the training part as a window.

Timed for each library: one whole training epoch through the library's own trainer
(RecBole: ``Trainer._train_epoch``, with the autograd anomaly detection that importing
``recbole.model`` switches on turned off again, and also as shipped with ``--anomaly``;
srsupm_lab: ``Trainer._train_epoch``, batches encoded in ``--length-groups`` groups of similar
window length, which is exact: see ``srsupm_lab/backbones/length_groups.py``; with ``--one-pass``
also SASRec with positions from the start trained on one encoder pass per user,
``srsupm_lab/data/prefix_rows.py``) and one full-ranking
validation pass (RecBole: ``Trainer.evaluate``; srsupm_lab: ``evaluate``). Prints one table;
``--json`` also writes it.
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


# ----------------------------------------------------------------------------- RecBole side (child)
def recbole_config(name: str, inter_dir, lr: float = 0.001, batch_size: int = 256, seed: int = 1):
    """RecBole's ``Config`` for the issue's SASRec on ``<inter_dir>/<name>/<name>.inter`` (runs in RecBole's venv)."""
    from recbole.config import Config
    return Config(model="SASRec", dataset=name, config_dict={
        "data_path": inter_dir, "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id",
        "TIME_FIELD": "timestamp", "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        "MAX_ITEM_LIST_LENGTH": 50, "train_batch_size": batch_size, "eval_batch_size": 1024, "learning_rate": lr,
        "loss_type": "CE", "train_neg_sample_args": None, "hidden_size": 64, "inner_size": 256, "n_layers": 2,
        "n_heads": 2, "hidden_dropout_prob": 0.5, "attn_dropout_prob": 0.5, "epochs": 1, "topk": [10, 20],
        "metrics": ["Recall", "NDCG"], "valid_metric": "Recall@10", "show_progress": False, "worker": 0,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full", "group_by": "user"},
        "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)", "device": "cpu",
        "use_gpu": False, "seed": seed, "checkpoint_dir": inter_dir, "log_wandb": False,
        "state": "ERROR"})


def recbole_setup(name: str, inter_dir, threads: int, anomaly: bool = False, **config):
    """(trainer, train_data, valid_data) of RecBole's SASRec, built as RecBole's own quick start does."""
    import torch
    torch.set_num_threads(threads)
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed
    torch.autograd.set_detect_anomaly(anomaly)        # recbole.model's import switched it on

    config = recbole_config(name, inter_dir, **config)
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    train_data, valid_data, _ = data_preparation(config, dataset)
    model = SASRec(config, train_data.dataset).to(config["device"])
    return Trainer(config, model), train_data, valid_data


def recbole_child(args) -> None:
    trainer, train_data, valid_data = recbole_setup(args.name, args.inter_dir, args.threads, bool(args.anomaly))
    t0 = time.perf_counter()
    loss = trainer._train_epoch(train_data, 0)
    t1 = time.perf_counter()
    result = trainer.evaluate(valid_data, load_best_model=False, show_progress=False)
    t2 = time.perf_counter()
    print("RESULT " + json.dumps({"train_s": t1 - t0, "eval_s": t2 - t1, "windows": len(train_data.dataset),
                                  "loss": float(loss) / len(train_data), "valid_recall@10": float(result["recall@10"])}))


# ----------------------------------------------------------------------------- our side
def ours(dataset: str, root, threads: int, length_groups: int | None, one_pass: bool = False) -> dict:
    import torch
    torch.set_num_threads(threads)          # both sides on the same --threads: explicit, the thread policy keeps it
    from srsupm_lab.backbones import build_backbone
    from srsupm_lab.data import leave_one_out, load_dataset
    from srsupm_lab.evaluate import evaluate
    from srsupm_lab.methods.none import BackboneRecommender
    from srsupm_lab.trainer import Trainer, seed_everything

    ds = load_dataset(dataset, root=root)
    split = leave_one_out(ds, max_len=50)
    seed_everything(1)
    # one pass per user needs positions counted from the window's start: RecBole's own convention
    options = {"positions": "from_start"} if one_pass else {}
    backbone = build_backbone("sasrec", ds.n_items, dim=64, max_len=50, **options)
    backbone.length_groups = length_groups          # exact: the same model and loss, padding skipped
    model = BackboneRecommender(backbone, one_pass=one_pass)
    trainer = Trainer(model, split.train, split.valid, batch_size=256, lr=0.001, device="cpu", progress=False)
    trainer.optimizer = torch.optim.Adam(model.parameters(), lr=0.001)        # what fit() would create
    data = trainer._training_data()                 # windows, or one-pass rows of prefixes
    t0 = time.perf_counter()
    row = trainer._train_epoch(data, 1)
    t1 = time.perf_counter()
    table = evaluate(model, split.valid, batch_size=1024)
    t2 = time.perf_counter()
    return {"train_s": t1 - t0, "eval_s": t2 - t1, "windows": len(split.train), "loss": row["loss"],
            "valid_recall@10": float(table.iloc[0]["recall@10"])}


def write_inter(dataset: str, root, folder: Path) -> str:
    """RecBole's atomic file ``<name>.inter`` from the S3-Rec layout (timestamp = position in the sequence)."""
    from srsupm_lab.data import load_dataset
    ds = load_dataset(dataset, root=root)
    name = f"{dataset}-bench"
    (folder / name).mkdir(parents=True, exist_ok=True)
    with open(folder / name / f"{name}.inter", "w") as fh:
        fh.write("user_id:token\titem_id:token\ttimestamp:float\n")
        for u, seq in enumerate(ds.sequences):
            for t, item in enumerate(seq):
                fh.write(f"{u + 1}\t{int(item)}\t{t}\n")
    return name


def run_recbole(args, folder: Path, name: str, anomaly: bool) -> dict:
    cmd = [args.recbole_python, __file__, "--child", "--inter-dir", str(folder), "--name", name,
           "--threads", str(args.threads)] + (["--anomaly"] if anomaly else [])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=folder)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"RecBole child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recbole-python", default=None, help="python of a venv with recbole==1.2.1")
    ap.add_argument("--dataset", default="beauty")
    ap.add_argument("--root", default=None)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for both (default: all cores)")
    ap.add_argument("--anomaly", action="store_true", help="also time RecBole as shipped (anomaly detection on)")
    ap.add_argument("--order", choices=("ours-first", "recbole-first"), default="ours-first")
    ap.add_argument("--length-groups", type=int, default=None,
                    help="srsupm_lab: length groups per batch (1 = the padded batch as is; default 8 on the CPU)")
    ap.add_argument("--one-pass", action="store_true",
                    help="srsupm_lab: also time SASRec (positions from the start) trained one encoder pass per user")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--inter-dir", help=argparse.SUPPRESS)
    ap.add_argument("--name", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.threads = args.threads or os.cpu_count()
    if args.child:
        return recbole_child(args)
    if not args.recbole_python:
        raise SystemExit("give --recbole-python, the python of a venv with recbole==1.2.1 (see the module doc)")

    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        name = write_inter(args.dataset, args.root, folder)
        jobs = [("srsupm_lab", lambda: ours(args.dataset, args.root, args.threads, args.length_groups)),
                ("RecBole 1.2.1", lambda: run_recbole(args, folder, name, anomaly=False))]
        if args.one_pass:
            jobs.insert(1, ("srsupm_lab one pass", lambda: ours(args.dataset, args.root, args.threads,
                                                                args.length_groups, one_pass=True)))
        if args.order == "recbole-first":
            jobs.reverse()
        if args.anomaly:
            jobs.append(("RecBole 1.2.1 as shipped", lambda: run_recbole(args, folder, name, anomaly=True)))
        for label, job in jobs:
            rows[label] = job()
            print(f"{label}: {rows[label]}", file=sys.stderr, flush=True)

    base = rows["RecBole 1.2.1"]["train_s"]
    print(f"\nSASRec on {args.dataset}, one epoch + one validation pass; {platform.machine()}, {os.cpu_count()} cores, "
          f"{args.threads} torch threads, srsupm_lab length groups {args.length_groups or 'auto'}, "
          f"load average {os.getloadavg()[0]:.2f}")
    header = f"{'library':<26}{'windows':>9}{'epoch s':>10}{'valid s':>9}{'speed-up':>10}{'loss':>8}{'R@10':>8}"
    print(header)
    print("-" * len(header))
    for label, r in rows.items():
        print(f"{label:<26}{r['windows']:>9}{r['train_s']:>10.1f}{r['eval_s']:>9.2f}{base / r['train_s']:>9.2f}x"
              f"{r['loss']:>8.3f}{r['valid_recall@10']:>8.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

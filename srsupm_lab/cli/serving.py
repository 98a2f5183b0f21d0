"""The serving commands: ``recommend``, ``export`` and ``serve`` a run folder (docs/serving.md; srsupm_lab.serve).

    python -m srsupm_lab recommend RUN --user U [--k 10]
    python -m srsupm_lab recommend RUN --history "i1 i2 i3"
    python -m srsupm_lab recommend RUN --all --out recs.parquet     (or .csv)
    python -m srsupm_lab export RUN --out model.onnx
    python -m srsupm_lab serve RUN --port 8000
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

__all__ = ["add_serving_commands", "write_all", "TABLE_SUFFIXES"]

TABLE_SUFFIXES = (".csv", ".parquet")


def _load(args):
    from ..serve import load_run
    return load_run(args.run, device=args.device)


def _notes(caught) -> None:
    """Warnings a command caught (unknown ids left out, ...), one line each on stderr."""
    for w in caught:
        print(f"note: {w.message}", file=sys.stderr)


def _index(run, kind):
    if kind is None:
        return None
    from ..serve.ann import ItemIndex
    return ItemIndex(run.item_table(), kind=kind)


def write_all(run, out, k: int = 10, exclude_seen: bool = True, batch_size: int = 1024, progress: bool = True,
              index=None) -> int:
    """Every user's top ``k`` into ``out`` (``.csv`` or ``.parquet`` by its suffix), chunk by chunk into a
    temporary file moved into place at the end (:mod:`srsupm_lab.atomic`); returns the rows written."""
    from tqdm.auto import tqdm

    from ..atomic import atomic_write
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(f"recommend --out {out}: the suffix must be one of {list(TABLE_SUFFIXES)} (CSV or Parquet)")
    written = [0]

    def write(tmp):
        bar = tqdm(total=run.n_users, desc="recommend", unit="user", disable=not progress, file=sys.stderr)
        writer = None
        try:
            for lo, table in enumerate(run.recommend_all(k=k, exclude_seen=exclude_seen, batch_size=batch_size,
                                                         index=index)):
                if suffix == ".csv":
                    table.to_csv(tmp, mode="w" if lo == 0 else "a", header=lo == 0, index=False)
                else:
                    import pyarrow as pa
                    import pyarrow.parquet as pq
                    chunk = pa.Table.from_pandas(table, preserve_index=False)
                    writer = writer or pq.ParquetWriter(tmp, chunk.schema)
                    writer.write_table(chunk.cast(writer.schema))
                written[0] += len(table)
                bar.update(min(batch_size, run.n_users - bar.n))
        finally:
            if writer is not None:
                writer.close()
            bar.close()
    atomic_write(out, write)
    return written[0]


def cmd_recommend(args) -> int:
    given = sum(x is not None and x is not False and x != [] for x in (args.user, args.history, args.all))
    if given != 1:
        raise ValueError("recommend: give exactly one of --user, --history or --all")
    if args.all and not args.out:
        raise ValueError("recommend --all: name the output file with --out (.csv or .parquet)")
    run = _load(args)
    index = _index(run, args.index)
    if args.all:
        n = write_all(run, args.out, k=args.k, exclude_seen=not args.include_seen, batch_size=args.batch_size,
                      progress=not args.quiet, index=index)
        print(f"wrote {n} recommendations for {run.n_users} users to {args.out}")
        return 0
    histories = None if args.history is None else [h.replace(",", " ").split() for h in args.history]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = run.recommend(users=args.user, histories=histories, k=args.k, exclude_seen=not args.include_seen,
                              index=index)
    _notes(caught)
    if args.out:
        from ..atomic import atomic_write
        suffix = Path(args.out).suffix.lower()
        if suffix not in TABLE_SUFFIXES:
            raise ValueError(f"recommend --out {args.out}: the suffix must be one of {list(TABLE_SUFFIXES)}")
        atomic_write(Path(args.out), (lambda tmp: table.to_csv(tmp, index=False)) if suffix == ".csv"
                     else (lambda tmp: table.to_parquet(tmp, index=False)))
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


def cmd_export(args) -> int:
    import numpy as np
    import torch

    from ..serve.export import OnnxScorer, export_onnx
    from ..serve.recommend import padded_rows
    run = _load(args)
    path = export_onnx(run, args.out)
    rows = np.arange(min(64, run.n_users))                  # the check: scores of stored users, both ways
    inputs = padded_rows(run.maps.history_flat, run.maps.history_start, rows, run.max_len)
    users = torch.from_numpy(rows) if run.needs_users else None
    eager = run.scores(torch.from_numpy(inputs), users).cpu().numpy()
    onnx = OnnxScorer(path).scores(inputs, None if users is None else rows)
    finite = np.isfinite(eager)
    gap = float(np.abs(onnx[finite] - eager[finite]).max())
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB): scores [B, {run.n_items + 1}] of inputs "
          f"[B, {run.max_len}]{' and users [B]' if run.needs_users else ''}; on {len(rows)} users the largest "
          f"difference from the eager model is {gap:.2e}")
    return 0


def cmd_serve(args) -> int:
    from ..serve.http import make_server
    run = _load(args)
    server = make_server(run, host=args.host, port=args.port, quiet=args.quiet)
    host, port = server.server_address[:2]
    print(f"serving {args.run} ({run.config.backbone} + {run.config.method}, {run.n_users} users, {run.n_items} "
          f"items) on http://{host}:{port}: GET /health, GET or POST /recommend; Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _one_line_missing(cmd):
    """A missing optional dependency (faiss-cpu, onnx, onnxruntime) as the CLI's one-line error."""
    def run(args) -> int:
        try:
            return cmd(args)
        except ImportError as err:
            raise OSError(str(err)) from None
    return run


def add_serving_commands(sub) -> None:
    """Add ``recommend``, ``export`` and ``serve`` to the ``python -m srsupm_lab`` subparsers ``sub``."""
    rec = sub.add_parser("recommend", help="top-k items from a run folder, in the dataset's own ids (one user, "
                                           "a history, or every user into a CSV/Parquet file)",
                         description="Top-k recommendations of a trained run folder (config.json, checkpoint.pt, "
                                     "id_maps.npz; no dataset file needed), seen items excluded; scores are "
                                     "evaluation's full-ranking scores. Unknown ids are left out and named in one "
                                     "line.")
    rec.add_argument("run", help="a run folder (config.json + checkpoint.pt)")
    rec.add_argument("--user", nargs="+", default=None, metavar="U", help="raw user id(s): from their stored history")
    rec.add_argument("--history", nargs="+", default=None, metavar="ITEMS",
                     help='raw item ids of one history, oldest first, as one quoted string ("i1 i2 i3"); several '
                          'strings give several histories')
    rec.add_argument("--all", action="store_true", help="every user of the run, written to --out in chunks")
    rec.add_argument("--out", default=None, help="write the table to this .csv or .parquet file (atomically)")
    rec.add_argument("--k", type=int, default=10, help="items per user")
    rec.add_argument("--include-seen", action="store_true", help="keep the items the user has seen (default: excluded)")
    rec.add_argument("--index", choices=("hnsw", "ivf"), default=None,
                     help="take the top k from an approximate faiss index over the items (dot-product models; "
                          "default: exact top-k)")
    rec.add_argument("--batch-size", type=int, default=1024, help="users scored at once")
    rec.add_argument("--device", default="cpu", help="cpu | cuda | cuda:1 | mps | auto")
    rec.add_argument("--quiet", action="store_true", help="no progress bar for --all")
    rec.set_defaults(func=_one_line_missing(cmd_recommend))
    exp = sub.add_parser("export", help="a run folder's scorer as ONNX (run by onnxruntime), checked against the "
                                        "eager model",
                         description="Writes the run's scorer as an ONNX graph (inputs [B, max_len] int64 item "
                                     "indices, users [B] for Caser -> scores [B, N+1]), then scores stored users "
                                     "with onnxruntime and with PyTorch and prints the largest difference.")
    exp.add_argument("run", help="a run folder (config.json + checkpoint.pt)")
    exp.add_argument("--out", required=True, help="the .onnx file to write")
    exp.add_argument("--device", default="cpu", help="where the check's eager scores are computed")
    exp.set_defaults(func=_one_line_missing(cmd_export))
    srv = sub.add_parser("serve", help="a small HTTP service for a run folder: /recommend and /health",
                         description="Answers GET /health and GET or POST /recommend (JSON; docs/serving.md) for a "
                                     "run folder, on the standard library's threading HTTP server. Bad requests "
                                     "get a one-line JSON error.")
    srv.add_argument("run", help="a run folder (config.json + checkpoint.pt)")
    srv.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port)")
    srv.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    srv.add_argument("--device", default="cpu", help="cpu | cuda | cuda:1 | mps | auto")
    srv.add_argument("--quiet", action="store_true", help="no line per request")
    srv.set_defaults(func=_one_line_missing(cmd_serve))

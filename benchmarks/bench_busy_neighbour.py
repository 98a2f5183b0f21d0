"""Benchmark: the demo and a notebook, quiet and beside one busy neighbour, in wall-clock seconds.

    python benchmarks/bench_busy_neighbour.py                          # both workloads, 3 repeats
    python benchmarks/bench_busy_neighbour.py --repeats 1 --only notebook --out busy.md

Workloads, each a fresh process timed from start to exit (interpreter and kernel start included):

* ``demo``: ``python -m srsupm_lab demo --quiet --out <a fresh temporary folder>``;
* ``notebook``: ``notebooks/02_backbones.ipynb`` executed headlessly with nbclient, as
  ``tools/execute_notebook.py`` does (a fresh ``python3`` kernel whose working directory is the
  notebook's folder), its ``out_dir`` parameter pointed at a fresh temporary folder; the notebook
  file itself is not written.

Conditions: ``quiet`` (nothing started beside it) and ``busy``: one ``yes > /dev/null`` (a Python
busy loop where there is no ``yes``) started one second before the workload and killed after it.
Each repeat runs the quiet runs first, then the busy ones; before a repeat's quiet runs that follow
busy ones it waits ``--settle`` seconds, so that the 1-minute load average the thread policy reads
has forgotten the killed neighbour. The workloads run without ``OMP_NUM_THREADS`` and
``MKL_NUM_THREADS`` (so the package's thread policy decides, which is what is measured) unless
``--keep-thread-env``. Prints a markdown table (median of ``--repeats``, the ratio busy/quiet), the
machine, the 1-minute load at the start and the date, then every run with the load before it;
``--out FILE`` writes the same text there too.
"""
import argparse
import datetime
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "02_backbones.ipynb"
WORKLOADS = ("demo", "notebook")
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def load1() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def execute_notebook(path: Path, out_dir: Path, timeout: int) -> None:
    """Run every cell of ``path`` in a fresh kernel (as tools/execute_notebook.py does), with ``out_dir``
    set after the parameters cell; nothing is written back to the notebook."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if tagged:
        nb.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(
            f"out_dir = {str(out_dir)!r}   # injected by benchmarks/bench_busy_neighbour.py"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent.resolve())}}).execute()


def workload_command(workload: str, tmp: Path, timeout: int) -> list[str]:
    if workload == "demo":
        return [sys.executable, "-m", "srsupm_lab", "demo", "--quiet", "--out", str(tmp / "demo")]
    return [sys.executable, str(Path(__file__).resolve()), "--execute-notebook", str(NOTEBOOK),
            "--notebook-out", str(tmp / "notebook"), "--cell-timeout", str(timeout)]


def start_neighbour() -> subprocess.Popen:
    """One CPU-bound process: ``yes > /dev/null``, or a Python busy loop where there is no ``yes``."""
    yes = shutil.which("yes")
    command = [yes] if yes else [sys.executable, "-c", "while True: pass"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_once(workload: str, busy: bool, env: dict, timeout: int) -> tuple[float, float | None]:
    """(wall seconds, 1-minute load just before the workload started) of one run."""
    neighbour = start_neighbour() if busy else None
    try:
        if neighbour is not None:
            time.sleep(1.0)
        with tempfile.TemporaryDirectory(prefix=f"bench_busy_{workload}_") as tmp:
            load = load1()
            t0 = time.perf_counter()
            done = subprocess.run(workload_command(workload, Path(tmp), timeout), cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - t0
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"bench_busy_neighbour: {workload} ({'busy' if busy else 'quiet'}) failed "
                         f"with exit status {done.returncode}:\n{tail}")
    return wall, load


def machine_lines(load_start: float | None, args) -> list[str]:
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    try:
        torch_version = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch_version = "?"
    date = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    load = "n/a" if load_start is None else f"{load_start:.2f}"
    threads = "kept from the environment" if args.keep_thread_env else "unset (the package's policy decides)"
    return [f"- machine: {os.cpu_count()} CPUs ({usable} usable), {platform.platform()}, "
            f"{platform.processor() or platform.machine()}",
            f"- python {platform.python_version()}, torch {torch_version}",
            f"- 1-minute load at start: {load}; date: {date}",
            f"- median of {args.repeats} run(s); busy: one `yes > /dev/null` started 1 s before each busy run; "
            f"OMP_NUM_THREADS/MKL_NUM_THREADS {threads}"]


def fmt(seconds: list[float]) -> str:
    return f"{statistics.median(seconds):.1f}" if seconds else "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per workload and condition (the median counts)")
    ap.add_argument("--only", choices=WORKLOADS, help="one workload instead of both")
    ap.add_argument("--out", type=Path, help="also write the table to this file")
    ap.add_argument("--settle", type=float, default=60.0,
                    help="seconds to wait before quiet runs that follow busy ones (the load average decays)")
    ap.add_argument("--keep-thread-env", action="store_true",
                    help="keep OMP_NUM_THREADS/MKL_NUM_THREADS for the workloads (default: unset them)")
    ap.add_argument("--cell-timeout", type=int, default=1800, help="seconds per notebook cell")
    ap.add_argument("--execute-notebook", type=Path, help=argparse.SUPPRESS)   # internal: one notebook run
    ap.add_argument("--notebook-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.execute_notebook is not None:
        execute_notebook(args.execute_notebook, args.notebook_out, args.cell_timeout)
        return 0
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    workloads = (args.only,) if args.only else WORKLOADS
    env = dict(os.environ, MPLBACKEND="Agg")
    if not args.keep_thread_env:
        for var in _THREAD_VARS:
            env.pop(var, None)
    load_start = load1()
    seconds = {(w, c): [] for w in workloads for c in ("quiet", "busy")}
    runs = []
    for r in range(1, args.repeats + 1):
        if r > 1 and args.settle > 0:
            time.sleep(args.settle)
        for condition in ("quiet", "busy"):
            for workload in workloads:
                wall, load = run_once(workload, condition == "busy", env, args.cell_timeout)
                seconds[workload, condition].append(wall)
                runs.append(f"- repeat {r}, {workload}, {condition}: {wall:.1f} s "
                            f"(1-minute load before: {'n/a' if load is None else f'{load:.2f}'})")
                print(runs[-1], file=sys.stderr, flush=True)

    lines = ["| workload | quiet (s) | busy (s) | busy / quiet |", "|---|---:|---:|---:|"]
    for w in workloads:
        quiet, busy = seconds[w, "quiet"], seconds[w, "busy"]
        ratio = statistics.median(busy) / statistics.median(quiet)
        name = "`python -m srsupm_lab demo --quiet`" if w == "demo" else f"`{NOTEBOOK.relative_to(ROOT)}` (nbclient)"
        lines.append(f"| {name} | {fmt(quiet)} | {fmt(busy)} | {ratio:.2f}x |")
    text = "\n".join(lines + [""] + machine_lines(load_start, args) + ["", "Runs:"] + runs) + "\n"
    print(text, end="")
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

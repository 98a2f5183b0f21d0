"""Benchmark: how long each lesson takes top to bottom, quiet and beside one busy process.

    python benchmarks/bench_lessons.py                               # every lesson, 3 repeats -> reports/
    python benchmarks/bench_lessons.py --only 01 03 --repeats 1 --out /tmp/lessons.txt

Each run executes one lesson (``tutorials/NN_*.ipynb``) in a fresh process and a fresh ``python3``
kernel whose working directory is ``tutorials/`` (as ``tools/execute_notebook.py`` and nbval do),
timed from process start to exit, kernel start included; the lesson file is not written. Conditions:
``quiet`` (nothing started beside it) and ``busy``: one ``yes > /dev/null`` started one second before
the run and killed after it (``benchmarks/bench_busy_neighbour.py``'s neighbour). Each repeat runs
every lesson quiet, then every lesson busy; before the quiet runs of a later repeat it waits
``--settle`` seconds so that the 1-minute load average the thread policy reads has forgotten the
neighbour. ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` are unset for the runs (the package's thread
policy decides) unless ``--keep-thread-env``.

Prints a markdown table (median of ``--repeats`` per lesson and condition, busy / quiet), the machine,
the load at the start, the date, then every run; writes the same text to ``--out`` (default
``reports/bench_lessons_<date>.txt``, which the course site's instructor guide shows).
"""
import argparse
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "tutorials"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_busy_neighbour import execute_notebook, load1, machine_lines, start_neighbour  # noqa: E402

_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def lessons(only: list[str] | None) -> list[Path]:
    found = sorted(LESSONS.glob("[0-9]*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(prefix) for prefix in only)]
        if not found:
            raise SystemExit(f"bench_lessons: no lesson in {LESSONS} starts with {' or '.join(only)}")
    return found


def run_once(lesson: Path, busy: bool, env: dict, tmp_root: Path, timeout: int) -> tuple[float, float | None]:
    """(wall seconds, 1-minute load just before the start) of one lesson run in a fresh process."""
    neighbour = start_neighbour() if busy else None
    try:
        if neighbour is not None:
            time.sleep(1.0)
        load = load1()
        command = [sys.executable, str(Path(__file__).resolve()), "--execute-notebook", str(lesson),
                   "--notebook-out", str(tmp_root / lesson.stem), "--cell-timeout", str(timeout)]
        t0 = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        raise SystemExit(f"bench_lessons: {lesson.name} ({'busy' if busy else 'quiet'}) failed with exit status "
                         f"{done.returncode}:\n{tail}")
    return wall, load


def table(names: list[str], seconds: dict) -> list[str]:
    lines = ["| lesson | quiet (s) | busy (s) | busy / quiet |", "|---|---:|---:|---:|"]
    for name in names:
        quiet, busy = statistics.median(seconds[name, "quiet"]), statistics.median(seconds[name, "busy"])
        lines.append(f"| `{name}` | {quiet:.1f} | {busy:.1f} | {busy / quiet:.2f}x |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="runs per lesson and condition (the median counts)")
    ap.add_argument("--only", nargs="+", metavar="NN", help="lessons whose file name starts with these (01 03 ...)")
    ap.add_argument("--out", type=Path, help="where to write the table (default reports/bench_lessons_<date>.txt)")
    ap.add_argument("--settle", type=float, default=60.0,
                    help="seconds to wait before the quiet runs of a later repeat (the load average decays)")
    ap.add_argument("--keep-thread-env", action="store_true",
                    help="keep OMP_NUM_THREADS/MKL_NUM_THREADS for the runs (default: unset them)")
    ap.add_argument("--cell-timeout", type=int, default=900, help="seconds per notebook cell")
    ap.add_argument("--execute-notebook", type=Path, help=argparse.SUPPRESS)   # internal: one lesson run
    ap.add_argument("--notebook-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.execute_notebook is not None:
        execute_notebook(args.execute_notebook, args.notebook_out, args.cell_timeout)
        return 0
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    chosen = lessons(args.only)
    names = [p.stem for p in chosen]
    env = dict(os.environ, MPLBACKEND="Agg")
    if not args.keep_thread_env:
        for var in _THREAD_VARS:
            env.pop(var, None)
    load_start = load1()
    seconds = {(n, c): [] for n in names for c in ("quiet", "busy")}
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_lessons_") as tmp:
        for r in range(1, args.repeats + 1):
            if r > 1 and args.settle > 0:
                time.sleep(args.settle)
            for condition in ("quiet", "busy"):
                for lesson in chosen:
                    wall, load = run_once(lesson, condition == "busy", env, Path(tmp), args.cell_timeout)
                    seconds[lesson.stem, condition].append(wall)
                    runs.append(f"- repeat {r}, {lesson.stem}, {condition}: {wall:.1f} s "
                                f"(1-minute load before: {'n/a' if load is None else f'{load:.2f}'})")
                    print(runs[-1], file=sys.stderr, flush=True)

    heading = ("Each lesson top to bottom in a fresh process and kernel (`benchmarks/bench_lessons.py`), "
               "wall-clock seconds, kernel start included.")
    text = "\n".join([heading, ""] + table(names, seconds) + [""] + machine_lines(load_start, args)
                     + ["", "Runs:"] + runs) + "\n"
    print(text, end="")
    out = args.out or ROOT / "reports" / f"bench_lessons_{datetime.date.today().isoformat()}.txt"
    out.write_text(text)
    print(f"written: {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

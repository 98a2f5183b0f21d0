#!/bin/bash
# Alternating repeats of benchmarks/bench_threads.py: the thread policy vs torch's default threads.
#   benchmarks/bench_threads_table.sh demo 3 busy     # workload, repeats, "busy": one CPU-bound process beside
# Prints one RESULT line per run, with the load average before each; run from the repository root.
workload=${1:-demo}; repeats=${2:-3}; busy=${3:-}
if [ "$busy" = busy ]; then
  python -c 'while True: pass' & busy_pid=$!
  trap 'kill $busy_pid' EXIT
  sleep 2
fi
for r in $(seq "$repeats"); do
  for threads in policy default; do
    echo "# repeat $r, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    env -u OMP_NUM_THREADS -u MKL_NUM_THREADS python benchmarks/bench_threads.py --workload "$workload" --threads "$threads"
  done
done

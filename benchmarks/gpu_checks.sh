#!/usr/bin/env bash
# The GPU checks of issues 4 and 7 in one short script, for a lent GPU machine (about 10 minutes).
#   DATA=<folder holding Beauty/> OUT=<folder for the results> bash benchmarks/gpu_checks.sh
# 0. tests/test_cuda.py (every backbone ± SRSUPM trains on the GPU; GPU and CPU evaluations agree);
# 1. Table 2 (inference time, each backbone alone and +SRSUPM, median of 5 full-ranking passes),
#    then SASRec, GRU4Rec and Caser again with the fused mixture (--fused-mixture, torch.compile);
# 2. bench_train.py (seconds per training step and projected epoch, all five backbones, ±SRSUPM);
# 3. SASRec and SASRec+SRSUPM trained 3 epochs through `reproduce` (real epoch and evaluation
#    times, GPU utilisation sampled every 200 ms by nvidia-smi).
# Every step has its own time limit; everything lands in $OUT/gpu_checks.tgz and $OUT/log.txt.
set -u
DATA=${DATA:?folder holding Beauty/}
OUT=${OUT:?output folder}
PY=${PYTHON:-python3}
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg
W=$(mktemp -d)
pack() { tar -czf "$OUT/gpu_checks.tgz" -C "$W" . ; }
trap pack EXIT
exec > >(tee "$OUT/log.txt") 2>&1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"

echo "== 0. tests/test_cuda.py"
timeout 120 $PY -m pytest -q -p no:cacheprovider -o addopts="" tests/test_cuda.py 2>&1 | tail -n 30

echo "== 1. Table 2 on the GPU"
timeout 100 $PY -m srsupm_lab reproduce --grid table2 --datasets beauty --repeats 5 --reports "$W/table2" \
  --device cuda --data-root "$DATA"

echo "== 1b. Table 2 on the GPU, +SRSUPM scored with the fused (torch.compile) mixture"
timeout 60 $PY -m srsupm_lab reproduce --grid table2 --datasets beauty --backbones sasrec gru4rec caser \
  --repeats 3 --reports "$W/table2_fused" --device cuda --data-root "$DATA" --fused-mixture

echo "== 2. bench_train on the GPU"
timeout 120 $PY benchmarks/bench_train.py --dataset beauty --root "$DATA" --device cuda --steps 30 --repeats 3 \
  | tee "$W/bench_train_gpu.txt"

echo "== 3. SASRec ± SRSUPM, 3 epochs each, through reproduce"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -lms 200 > "$W/utilisation.csv" &
SMI=$!
timeout 180 $PY -m srsupm_lab reproduce --grid table1 --datasets beauty --backbones sasrec --seeds 1 \
  --engine inline --runs "$W/runs" --reports "$W/reports" --epochs 3 --lr 0.001 --batch-size 256 \
  --set gamma=0.01 --device cuda --data-root "$DATA"
kill $SMI 2>/dev/null
find "$W/runs" -name checkpoint.pt -delete
echo "== done"

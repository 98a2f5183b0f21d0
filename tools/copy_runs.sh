#!/usr/bin/env bash
# Copy finished run folders into the repository without their checkpoints (what reports/ keeps), nor their
# raw-id maps (id_maps.npz: what serving reads beside the checkpoint, useless without it):
#   tools/copy_runs.sh SRC DST   — every folder below SRC holding results.json, same relative path below DST
set -euo pipefail
src=$1; dst=$2
cd "$src"
find . -name results.json -printf '%h\n' | sort | while read -r run; do
  mkdir -p "$dst/$run"
  find "$run" -maxdepth 1 -type f ! -name 'checkpoint.pt' ! -name 'id_maps.npz' ! -name '.*.tmp' -exec cp -p {} "$dst/$run/" \;
done

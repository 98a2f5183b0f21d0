#!/usr/bin/env bash
# Install srsupm_lab with everything the notebooks and tests need.
# PyTorch: a CPU build is preferred unless torch is already installed or SRSUPM_TORCH=cuda
# (a plain `pip install torch` on Linux pulls a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  if [ "${SRSUPM_TORCH:-cpu}" = "cuda" ]; then
    "$PY" -m pip install "torch>=2.2"
  else
    # 1) a CPU wheel already on this machine's disk (pip's cap file points there), 2) PyTorch's CPU index, 3) PyPI
    "$PY" -m pip install "torch==2.13.0" 2>/dev/null \
      || "$PY" -m pip install --timeout 20 --retries 1 "torch>=2.2" --index-url https://download.pytorch.org/whl/cpu \
      || "$PY" -m pip install "torch>=2.2"
  fi
fi
"$PY" -m pip install -e ".[dev]"
"$PY" -m ipykernel install --user --name python3 --display-name "Python 3 (srsupm_lab)" >/dev/null
echo "srsupm_lab installed: $("$PY" -c 'import srsupm_lab, torch; print(srsupm_lab.__version__, "torch", torch.__version__)')"

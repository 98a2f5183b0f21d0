#!/usr/bin/env bash
# Install srsupm_lab with everything the notebooks and tests need (the "dev" extra: JupyterLab,
# papermill, jupytext, pytest, ...), then register a Jupyter kernel named "srsupm_lab".
#
# PyTorch: the CPU build unless torch is already installed or SRSUPM_TORCH=cuda (a plain
# `pip install torch` on Linux pulls a multi-GB CUDA build). environment.yml makes the same
# choice (conda-forge's pytorch-cpu; pytorch-gpu for CUDA): tests/test_packaging.py checks that
# the two install the same packages.
#
# Kernel: "srsupm_lab" (display name "Python 3 (srsupm_lab)"), this Python, in the user's Jupyter
# data folder. An existing "python3" kernel spec is left as it is. The notebooks name "python3",
# which papermill and nbval resolve to the Python that runs them (or this environment's kernel);
# pick "Python 3 (srsupm_lab)" in JupyterLab, or `papermill -k srsupm_lab`, when "python3" is
# another Python on your machine.
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
"$PY" -m ipykernel install --user --name srsupm_lab --display-name "Python 3 (srsupm_lab)" >/dev/null
echo "srsupm_lab installed: $("$PY" -c 'import srsupm_lab, torch; print(srsupm_lab.__version__, "torch", torch.__version__)')"
echo "Jupyter kernel: srsupm_lab (\"Python 3 (srsupm_lab)\"); start JupyterLab with: jupyter lab notebooks"

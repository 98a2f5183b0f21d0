"""The trained scorer as an ONNX graph, run by onnxruntime (the map's chapter 06: a model leaves Python).

Why ONNX rather than TorchScript: onnxruntime runs the graph from C++, C#, Java or JavaScript as
well as Python, with no PyTorch installed, which is how a model usually reaches a service; and
TorchScript is deprecated in current PyTorch. :func:`export_onnx` writes the scorer of a loaded run:

    inputs [B, max_len] int64 (left-padded item indices)  ->  scores [B, N+1] float32
    (+ users [B] int64 for a backbone that embeds users)

with a dynamic batch size, traced in evaluation mode with the input checks and the length grouping
off (both change speed only, not the scores). :class:`OnnxScorer` runs it and is compared with the
eager model in the tests. onnx, onnxscript and onnxruntime are optional dependencies (the ``serve``
extra): without them, an export is one line saying so.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["export_onnx", "OnnxScorer", "onnx_available"]


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        return False
    return True


def _need(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"the ONNX export needs {module}: pip install 'srsupm_lab[serve]' "
                          f"(onnx, onnxscript, onnxruntime)") from None


class _Scorer(nn.Module):
    """``model.score`` as a module of tensors only (what the exporter traces)."""

    def __init__(self, model: nn.Module, with_users: bool):
        super().__init__()
        self.model, self.with_users = model, with_users

    def forward(self, inputs: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.score(inputs, users if self.with_users else None)


@contextlib.contextmanager
def _traceable(backbone):
    """Input checks (which read values) and length groups (which branch on them) off for the trace."""
    saved = (getattr(backbone, "check_inputs", None), getattr(backbone, "length_groups", None))
    if backbone is not None:
        backbone.check_inputs, backbone.length_groups = False, 1
    try:
        yield
    finally:
        if backbone is not None:
            backbone.check_inputs, backbone.length_groups = saved


@contextlib.contextmanager
def _quiet():
    """The exporter's notes (optional operator sets not installed, deprecations) kept off the user's screen."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def export_onnx(run, path, batch: int = 4) -> Path:
    """Write ``run``'s scorer (a :class:`~srsupm_lab.serve.recommend.ServedRun`) to ``path`` as ONNX (module doc);
    the file is written to a temporary name, then moved into place."""
    _need("onnx"), _need("onnxscript")
    if tuple(int(x) for x in torch.__version__.split(".")[:2]) < (2, 6):
        raise ImportError(f"the ONNX export needs torch 2.6 or later (its dynamo exporter); this is torch "
                          f"{torch.__version__}")
    from ..atomic import atomic_write
    path = Path(path)
    model = run.model.to("cpu").eval()
    scorer = _Scorer(model, run.needs_users).eval()
    flat, start = run.maps.history_flat, run.maps.history_start
    rows = np.arange(min(batch, run.n_users))
    from .recommend import padded_rows
    inputs = torch.from_numpy(padded_rows(flat, start, rows, run.max_len))             # (B, L) real windows
    users = torch.from_numpy(rows)
    args, names = ((inputs, users), ["inputs", "users"]) if run.needs_users else ((inputs,), ["inputs"])
    batch_dim = torch.export.Dim("batch", min=1)
    shapes = {"inputs": {0: batch_dim}, **({"users": {0: batch_dim}} if run.needs_users else {})}

    def write(tmp):
        with _traceable(run.backbone), torch.no_grad(), _quiet():
            program = torch.onnx.export(scorer, args, input_names=names, output_names=["scores"],
                                        dynamic_shapes=shapes, dynamo=True, verbose=False)
        program.save(tmp)
    try:
        atomic_write(path, write)
    finally:
        run.model.to(run.device)
    return path


class OnnxScorer:
    """An exported scorer run by onnxruntime on the CPU: ``scores(inputs, users=None) -> np.ndarray [B, N+1]``."""

    def __init__(self, path, threads: int | None = None):
        ort = _need("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def scores(self, inputs, users=None) -> np.ndarray:
        feed = {"inputs": np.asarray(inputs, dtype=np.int64)}
        if "users" in self.input_names:
            if users is None:
                raise ValueError("OnnxScorer: this scorer embeds users: pass users [B]")
            feed["users"] = np.asarray(users, dtype=np.int64)
        return self.session.run(["scores"], feed)[0]

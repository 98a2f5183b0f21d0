"""Serving a trained run (the map's chapter 06, industrial practice): a run folder -> recommendations.

=====================  ==========================================================================
``id_maps``            the raw-id maps (and user histories) a run folder stores when it is created
``load``               ``load_run(path, device=None)``: config + checkpoint + maps -> a served model
``recommend``          ``ServedRun.recommend``: top-k in the dataset's own ids, seen items excluded
``ann``                the approximate second stage (faiss) beside exact top-k
``export``             the scorer as ONNX, run by onnxruntime
``http``               ``/recommend`` and ``/health`` on the standard library's HTTP server
=====================  ==========================================================================

The commands ``recommend``, ``export`` and ``serve`` are in :mod:`srsupm_lab.cli.serving`. The parts
load on first use, so that a run's creation (which writes the maps) imports only ``id_maps``.
"""
from importlib import import_module

_LAZY = {"load_run": "srsupm_lab.serve.load", "ServedRun": "srsupm_lab.serve.recommend",
         "UnknownIdWarning": "srsupm_lab.serve.recommend", "IdMaps": "srsupm_lab.serve.id_maps"}


def __getattr__(name):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'srsupm_lab.serve' has no attribute {name!r}")


__all__ = list(_LAZY)

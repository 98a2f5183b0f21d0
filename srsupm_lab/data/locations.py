"""Where the real datasets (and a wheel's shared files) are found: the search path of :func:`load_dataset`.

In order (:func:`data_roots`): the ``root`` argument alone when given; else the ``SRSUPM_DATA``
environment variable (a folder that does not exist is an error, never a silent fall-back), then
the ``data/`` folder of the repository checkout this package runs from (a clone, an editable
install), then the copy of ``data/`` that a regular (wheel) install puts under
``<prefix>/share/srsupm_lab/data`` (pyproject's ``data-files``, found through the installed
distribution's file list: :func:`installed_share`).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["INSTALLED_DATA", "checkout_data_root", "installed_share", "installed_data_root", "data_roots"]

#: where a wheel install puts the repository's ``data/`` (pyproject.toml, ``data-files``)
INSTALLED_DATA = "share/srsupm_lab/data"


def checkout_data_root() -> Path | None:
    """``data/`` of the repository checkout this package is imported from, or None if not a checkout."""
    repo = Path(__file__).resolve().parents[2]
    return repo / "data" if (repo / "pyproject.toml").is_file() and (repo / "srsupm_lab").is_dir() else None


def installed_share(part: str) -> Path | None:
    """``<prefix>/share/srsupm_lab/<part>`` of a regular (wheel) install, found through the installed
    distribution's file list, or None (not installed, or installed without it)."""
    from importlib import metadata

    try:
        files = metadata.distribution("srsupm_lab").files or []
    except metadata.PackageNotFoundError:
        return None
    prefix = f"share/srsupm_lab/{part}/"
    for f in files:
        posix = f.as_posix()
        at = posix.find(prefix)
        if at >= 0:
            return Path(f.locate()).resolve().parents[posix[at + len(prefix):].count("/")]
    return None


def installed_data_root() -> Path | None:
    """The ``data/`` copy of a regular install (``<prefix>/share/srsupm_lab/data``), or None."""
    return installed_share("data")


def data_roots(root=None) -> list[Path]:
    """The folders searched for real datasets, in order (see the module doc)."""
    if root is not None:
        return [Path(root).expanduser()]
    out = []
    if os.environ.get("SRSUPM_DATA"):
        env = Path(os.environ["SRSUPM_DATA"]).expanduser()
        if not env.is_dir():
            raise FileNotFoundError(f"SRSUPM_DATA={os.environ['SRSUPM_DATA']!r} is not a folder: set it to the folder "
                                    f"holding the datasets, or unset it to use the package's own data/")
        out.append(env)
    out += [r for r in (checkout_data_root(), installed_data_root()) if r is not None and r not in out]
    return out

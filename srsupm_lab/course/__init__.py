"""Course material that travels with the package: the lessons' exercise checkers and the helpers
their demonstrations call (``tutorials/``, the lesson map in ``tutorials/README.md``).

A lesson opened where only the package is installed (a hub, a hosted notebook service) imports
``from srsupm_lab.course import checks``; nothing here holds a worked answer.
"""
from . import checks, influence

__all__ = ["checks", "influence"]

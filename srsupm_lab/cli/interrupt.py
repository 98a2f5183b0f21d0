"""What Ctrl-C prints: one line naming the command stopped and the command that resumes it (README, "Stopping").

A run folder is written atomically after every epoch and a grid skips its finished runs, so the resuming
command is the one typed: ``train`` with ``--resume`` added (it continues from the last checkpoint), every
other command as it was given (``reproduce`` and ``demo`` resume their runs by themselves; a measuring
command such as ``stats`` or ``cold-start`` simply runs again).
"""
from __future__ import annotations

import shlex

__all__ = ["interrupted_line", "resume_command"]

#: commands whose run resumes only when asked
_ASK_TO_RESUME = {"train": "--resume"}


def resume_command(command: str, argv: list[str]) -> str:
    """The command line that continues ``argv`` (the arguments after ``python -m srsupm_lab``)."""
    args = list(argv)
    flag = _ASK_TO_RESUME.get(command)
    if flag is not None and flag not in args and "--overwrite" not in args:
        args.append(flag)
    if flag is not None and "--overwrite" in args:          # --overwrite would start over: resume instead
        args = [a for a in args if a != "--overwrite"] + ([flag] if flag not in args else [])
    return shlex.join(["python", "-m", "srsupm_lab", *args])


def interrupted_line(command: str, argv: list[str]) -> str:
    """The one line Ctrl-C prints for ``command``."""
    return f"interrupted: {command} stopped (Ctrl-C); finished work is kept, to continue: {resume_command(command, argv)}"

"""How every command's ``--help`` reads: each option's help ends with its default (the command line's convention)."""
from __future__ import annotations

import argparse

__all__ = ["HelpFormatter", "RawHelpFormatter"]


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it names one already or the option is a flag."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" in text or action.default in (None, argparse.SUPPRESS) or action.nargs == 0
                or not (action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        return text + " (default: %(default)s)"


class RawHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """The top-level help: description and examples as written."""

"""The command line explains itself: every command is listed, every option has help and shows its default.

Read from what a user sees (``--help`` output), with the parsers themselves only used to know
which options exist and which have a default.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys

import pytest

from srsupm_lab import __main__ as cli


class _Captured(Exception):
    def __init__(self, parser):
        self.parser = parser


@pytest.fixture(scope="module")
def parser():
    """The top-level parser that ``main`` builds (caught as it starts parsing)."""
    original = argparse.ArgumentParser.parse_args

    def capture(self, *args, **kwargs):
        raise _Captured(self)

    argparse.ArgumentParser.parse_args = capture
    try:
        cli.main(["--help"])
    except _Captured as caught:
        return caught.parser
    finally:
        argparse.ArgumentParser.parse_args = original
    raise AssertionError("main() built no parser")


def _subparsers(parser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _entries(help_text: str) -> dict[str, str]:
    """Option string -> the text of its entry in a help page (the entry runs to the next option)."""
    entries, current = {}, None
    for line in help_text.splitlines():
        m = re.match(r"^  (-[^ ,]+(?:, -[^ ,]+)*)", line)
        if m:
            current = []
            for flag in m.group(1).split(", "):
                entries[flag] = current
        elif not line.strip() or not line.startswith("  "):
            current = None
            continue
        if current is not None:
            current.append(line.strip())
    return {flag: " ".join(lines) for flag, lines in entries.items()}


def test_top_level_help_lists_every_command_with_a_description(parser, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    commands = _subparsers(parser)
    assert {"demo", "stats", "train", "reproduce"} <= set(commands)
    for name in commands:
        # the command's name starts a line of the listing and a description follows it
        m = re.search(rf"^    {re.escape(name)}(?:\s+(\S.*))?\n(?:\s+(\S.*))?", out, flags=re.M)
        assert m and (m.group(1) or m.group(2)), f"'{name}' is not listed with a description:\n{out}"
    assert "``" not in out and "{demo,stats,train}" not in out


@pytest.mark.parametrize("command", ["demo", "stats", "train", "reproduce"])
def test_every_option_has_help_and_shows_its_default(parser, command, capsys):
    sub = _subparsers(parser)[command]
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert "``" not in out, f"{command} --help shows raw reST markup"
    entries = _entries(out)
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        flag = action.option_strings[0]
        assert flag in entries, f"{command} --help has no entry for {flag}"
        text = entries[flag]
        words = text[len(" ".join(action.option_strings)):]
        assert action.help and len(words.split()) >= 2, f"{command} {flag}: no explanation ({text!r})"
        has_default = action.default not in (None, argparse.SUPPRESS, False, [])
        if has_default:
            assert "default" in text, f"{command} {flag} has a default ({action.default!r}) its help does not show"
            shown = " ".join(map(str, action.default)) if isinstance(action.default, list) else str(action.default)
            assert shown in text, f"{command} {flag}: help does not show the default {shown!r}: {text!r}"


def test_new_commands_of_other_parsers_are_covered(parser):
    """Every command registered gets the same formatter (so it shows defaults too)."""
    for name, sub in _subparsers(parser).items():
        assert issubclass(sub.formatter_class, cli._HelpFormatter), f"{name} lacks the defaults formatter"


def test_originals_command_has_help():
    done = subprocess.run([sys.executable, "-m", "srsupm_lab.data.originals", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for word in ("amazon", "movielens", "yelp", "snap.stanford.edu", "grouplens.org", "yelp.com/dataset"):
        assert word in out, f"originals --help does not mention {word!r}:\n{out}"


@pytest.mark.parametrize("source", ["amazon", "movielens", "yelp"])
def test_originals_sources_explain_every_option(source, capsys):
    from srsupm_lab.data import originals

    with pytest.raises(SystemExit) as done:
        originals.main([source, "--help"])
    assert done.value.code == 0
    entries = _entries(capsys.readouterr().out)
    sub = _subparsers(originals.cli._cli_parser())[source]
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        text = entries[action.option_strings[0]]
        assert action.help and "``" not in text, f"originals {source} {action.option_strings[0]}: {text!r}"
        if action.default not in (None, argparse.SUPPRESS) or isinstance(action, argparse._StoreTrueAction):
            assert "default" in text, f"originals {source} {action.option_strings[0]} shows no default: {text!r}"

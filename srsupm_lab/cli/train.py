"""The CLI ``train`` command: one option per :class:`~srsupm_lab.config.TrainConfig` field and per method option (method.md §11).

``python -m srsupm_lab train`` builds its parser with :func:`add_train_arguments`, resolves the
config with :func:`config_from_args` (defaults ← ``--preset`` ← ``--config`` file ← options given
on the command line) and runs it with :func:`train_from_args`
(:func:`srsupm_lab.experiment.run_experiment`). :func:`key_value` parses the repeatable
``KEY=VALUE`` options.

The method: ``--method NAME`` (``--srsupm`` and ``--oracle`` are shorthands, from each method's
``flat_switch``), its options either as ``--method-option KEY=VALUE`` or as flags of their own
(``--lambda1 0.3``, ``--no-pmsim``), one group per method in ``--help`` with its defaults.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from ..config import FIELD_KINDS, TrainConfig
from ..experiment import run_experiment
from ..run_folder import read_json_file

__all__ = ["key_value", "add_train_arguments", "config_from_args", "train_from_args", "add_command"]


_TYPES = {"int": int, "pos_int": int, "opt_pos_int": int, "float": float, "str": str, "opt_str": str}
_FLAGS = {"out_dir": ["--out", "--out-dir"], "K": ["--K", "-K"]}
_HELP = {
    "dataset": "a known name or a folder in the S3-Rec layout", "data_root": "folder holding the real datasets",
    "labels": "categories | attributes", "dataset_options": "a generated world's option KEY=VALUE (repeatable)",
    "noise_p": "label-noise probability on the training supervision", "max_len": "input length L",
    "backbone": "gru4rec | sasrec | caser | bert4rec | lightsans",
    "backbone_options": "backbone option KEY=VALUE (repeatable), e.g. n_layers=2",
    "dim": "embedding size d", "method": "what is plugged onto the backbone: {methods} (options below)",
    "method_options": "an option of the method, KEY=VALUE (repeatable); each method's options are listed below",
    "K": "number of PMSA shift levels (the per-level tables; SRSUPM's branches)", "bins": "even | quantile",
    "loss": "next-item loss: ce (full cross-entropy) | bce (one sampled negative, SASRec's original; method none)",
    "one_pass": "one encoder pass per user encodes every training window (methods none and srsupm; gru4rec, or "
                "sasrec with --backbone-option positions=from_start; batches of rows holding about batch-size targets)",
    "preset": "a named preset: paper (the paper's protocol and the method's literal readings) | teaching (quick)",
    "mask_history": "remove seen items from the ranking",
    "device": "auto | cpu | cuda[:i] | mps", "out_dir": "output folder", "resume": "continue a run in --out",
    "progress": "progress bars", "epochs": "maximum number of epochs", "batch_size": "training batch size",
    "lr": "Adam learning rate (paper: 0.01)", "weight_decay": "Adam weight decay",
    "patience": "early-stopping patience, epochs without a better valid Recall@10", "seed": "random seed",
    "eval_batch_size": "users scored at once in evaluation",
    "length_groups": "encode each batch in this many groups of similar window length (exact; 1 = off; "
                     "default: 8 on the CPU, off elsewhere)",
}


def key_value(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw                                           # a bare string
    return key.strip(), value


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add one option per TrainConfig field and per method option (plus ``--config FILE``, ``--overwrite``
    and the methods' shorthands) to ``parser``.

    Only options given on the command line override the config file, which overrides the
    defaults. Booleans come as pairs: ``--pmsim/--no-pmsim``, ...
    """
    from ..methods import all_options, flat_switches, get_method, method_names

    parser.add_argument("--config", metavar="FILE", default=None, help="JSON file of TrainConfig fields")
    parser.add_argument("--overwrite", action="store_true", help="replace the results of a finished run in --out")
    for f in fields(TrainConfig):
        name, kind = f.name, FIELD_KINDS[f.name]
        flags = _FLAGS.get(name, ["--" + name.replace("_", "-")])
        default = f.default_factory() if callable(f.default_factory) else f.default
        help_text = f"{_HELP.get(name, name.replace('_', ' '))} (default: {default})"
        help_text = help_text.replace("{methods}", " | ".join(method_names()))
        if kind == "bool":
            parser.add_argument(*flags, dest=name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                help=help_text)
        elif kind == "dict":
            flag = flags[0][:-1] if flags[0].endswith("s") else flags[0]     # --backbone-option KEY=VALUE
            parser.add_argument(flag, dest=name, action="append", type=key_value, metavar="KEY=VALUE",
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(*flags, dest=name, type=_TYPES[kind], default=argparse.SUPPRESS, help=help_text)
    for switch, method in flat_switches().items():          # its own dest: a clash with --method is refused
        parser.add_argument(f"--{switch}", dest=_SWITCH_DEST + switch, action="store_const", const=method,
                            default=argparse.SUPPRESS, help=f"shorthand for --method {method}")
    config_flags = {a for action in parser._actions for a in action.option_strings}
    seen: dict[str, str] = {}
    for method, options in all_options().items():
        group = parser.add_argument_group(f"options of the method {method!r} ({get_method(method).summary})"
                                          if options else f"the method {method!r} takes no options")
        for name, (default, text, choices) in options.items():
            flag = "--" + name.replace("_", "-")
            if name in seen or flag in config_flags:        # shared with an earlier method: one flag for both
                continue
            seen[name] = method
            words = f" ({' | '.join(choices)})" if choices else ""
            help_text = f"{text}{words} (default: {default})"
            dest = _OPTION_DEST + name
            if isinstance(default, bool):
                group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                                   help=help_text)
            else:
                group.add_argument(flag, dest=dest, type=type(default), default=argparse.SUPPRESS, help=help_text,
                                   metavar=name.upper())
    return parser


#: the argparse ``dest`` prefix of a method option's own flag
_OPTION_DEST = "method_option__"
#: the argparse ``dest`` prefix of a method's shorthand (``--srsupm``)
_SWITCH_DEST = "method_switch__"


def _method_from_switches(args: argparse.Namespace) -> str | None:
    """The method the shorthands name (``--srsupm``); two that disagree, or one that disagrees with
    ``--method``, are one line."""
    switched = {k[len(_SWITCH_DEST):]: v for k, v in vars(args).items() if k.startswith(_SWITCH_DEST)}
    chosen = set(switched.values()) | ({args.method} if hasattr(args, "method") else set())
    if len(chosen) > 1:
        given = [f"--{k}" for k in switched] + ([f"--method {args.method}"] if hasattr(args, "method") else [])
        raise ValueError(f"train: {' and '.join(given)} name different methods; give one")
    return next(iter(chosen), None)


def _method_options(args: argparse.Namespace) -> dict:
    """``--method-option KEY=VALUE`` and the options' own flags (``--lambda1``) as one dict; a key given both
    ways is one line (as ``reproduce`` refuses an option given both as itself and with ``--set``)."""
    listed = dict(getattr(args, "method_options", []) or [])
    flagged = {k[len(_OPTION_DEST):]: v for k, v in vars(args).items() if k.startswith(_OPTION_DEST)}
    clash = sorted(set(listed) & set(flagged))
    if clash:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in clash)
        raise ValueError(f"train: {clash} given both as {flags} and with --method-option; give each once")
    return {**listed, **flagged}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults ← ``--preset`` ← ``--config`` file ← options given on the command line."""
    from ..config import preset_values, sectioned
    values: dict = {}
    if getattr(args, "config", None):
        path = Path(args.config)
        if not path.is_file():
            raise FileNotFoundError(f"--config {path}: no such file")
        values.update(sectioned(read_json_file(path, "--config file")))
        unknown = sorted(set(values) - {f.name for f in fields(TrainConfig)})
        if unknown:
            raise KeyError(f"{path}: unknown key(s) {unknown}; valid keys are {[f.name for f in fields(TrainConfig)]}")
    method = _method_from_switches(args)
    options = _method_options(args)
    for name in (f.name for f in fields(TrainConfig)):
        if name == "method_options":
            if options:
                values[name] = {**values.get(name, {}), **options}
        elif name == "method":
            if method is not None:
                values[name] = method
        elif hasattr(args, name):
            value = getattr(args, name)
            values[name] = {**values.get(name, {}), **dict(value)} if FIELD_KINDS[name] == "dict" else value
    preset = values.get("preset")
    if preset:
        values = preset_values(preset, values)
    return TrainConfig.from_dict(values)


def _check_resume(config: TrainConfig) -> None:
    """``--resume`` continues a run: into a folder that does not exist or holds nothing (a typo in ``--out``)
    it would start a new run from scratch, so it is one line instead."""
    if not config.resume or not config.out_dir:
        return
    out = Path(config.out_dir)
    if not out.exists():
        raise FileNotFoundError(f"train --resume: {out} does not exist, so there is no run to continue; check --out, "
                                f"or leave out --resume to start a new run there")
    if out.is_dir() and not any(out.iterdir()):
        raise FileNotFoundError(f"train --resume: {out} is empty, so there is no run to continue; check --out, "
                                f"or leave out --resume to start a new run there")


def train_from_args(args: argparse.Namespace) -> dict:
    """The CLI ``train`` command: run the experiment, print a summary, return the results dict."""
    config = config_from_args(args)
    _check_resume(config)
    results = run_experiment(config, overwrite=bool(getattr(args, "overwrite", False)))
    print(f"{results['model']} on {results['data']['name']}: best epoch {results['best_epoch']} "
          f"of {results['epochs_run']}" + (f"; files in {config.out_dir}" if config.out_dir else ""))
    print(results["test_table"].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return results


def add_command(sub) -> None:
    """Add ``train`` to the ``python -m srsupm_lab`` subparsers ``sub``."""
    train = sub.add_parser(
        "train", help="train one model (every hyper-parameter is an option)",
        description="One experiment: data, PMSA, the backbone (+ SRSUPM), training with early stopping on "
                    "validation Recall@10, full-ranking test of the best checkpoint. Every TrainConfig field is "
                    "an option; options given here override --config FILE, which overrides the defaults "
                    "(srsupm_lab/config.py). Results go to --out; --resume continues the run there.")
    add_train_arguments(train)
    train.set_defaults(func=lambda a: (train_from_args(a), 0)[1])

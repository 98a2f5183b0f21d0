"""Command line: python -m srsupm_lab COMMAND [options]; python -m srsupm_lab COMMAND --help explains each.

Every command lives in a module of :mod:`srsupm_lab.cli` that adds its parser (``add_command``):

* demo (:mod:`.cli.demo`): the main job on the embedded synthetic world: statistics, the PMSD/level
  distribution (docs/method.md, PMSA), and a short training of a backbone alone, with SRSUPM and as the
  oracle told the true shifts, compared on the test set; results and a figure go to --out.
* stats (:mod:`.cli.stats`): statistics and PMSD/level distribution of any dataset.
* train (:mod:`.cli.train`): one experiment with every hyper-parameter as an option.
* reproduce (:mod:`.cli.reproduce`): a grid of the paper's experiments (Table 1, 2, 3, 4 or Fig. 3),
  resumable, then the report tables (srsupm_lab.reproduce); --dry-run lists the runs and which are done.
* diagnose, cold-start, policy-metrics, reward-satisfaction, screen, oracle-gap, decisive
  (:mod:`.cli.mechanism`): the mechanism study and the measures of a finished run folder.
* recommend, export, serve (:mod:`.cli.serving`): a finished run's top-k in the dataset's own ids, its
  scorer exported to ONNX, and a small HTTP service (docs/serving.md).

An expected failure (bad input, a missing file, a refused run folder) is one line ``error: ...`` and exit
status 2; Ctrl-C is one line with the command that resumes, and exit status 130 (:mod:`.cli.interrupt`).
"""
from __future__ import annotations

import argparse
import functools
import sys

from .cli.formatting import HelpFormatter as _HelpFormatter, RawHelpFormatter as _RawHelpFormatter

_DESCRIPTION = """\
srsupm_lab: SRSUPM (motivation-aware sequential recommendation) over five backbones.
The method, equation by equation and mapped to the code: docs/method.md.
Every command explains its options and their defaults: python -m srsupm_lab COMMAND --help"""

_EPILOG = """\
examples:
  python -m srsupm_lab demo                      # a short CPU job on the synthetic world
  python -m srsupm_lab stats --dataset beauty
  python -m srsupm_lab train --dataset beauty --backbone sasrec --srsupm --out runs/beauty-sasrec-srsupm
  python -m srsupm_lab reproduce --grid table1 --datasets beauty --seeds 1 --dry-run
build the real datasets from their public originals: python -m srsupm_lab.data.originals --help"""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every command of :mod:`srsupm_lab.cli`, one line each."""
    from .cli import demo, mechanism, reproduce, serving, stats, train

    parser = argparse.ArgumentParser(prog="python -m srsupm_lab", description=_DESCRIPTION, epilog=_EPILOG,
                                     formatter_class=_RawHelpFormatter)
    sub = parser.add_subparsers(  # every command's parser (added here or later) shows its options' defaults
        dest="command", required=True, metavar="COMMAND",
        title="commands (python -m srsupm_lab COMMAND --help for its options)",
        parser_class=functools.partial(argparse.ArgumentParser, formatter_class=_HelpFormatter))
    demo.add_command(sub)
    stats.add_command(sub)
    train.add_command(sub)
    reproduce.add_command(sub)
    mechanism.add_diagnose_command(sub)
    mechanism.add_cold_start_command(sub)
    mechanism.add_policy_metrics_command(sub)
    mechanism.add_reward_satisfaction_command(sub)
    mechanism.add_screen_command(sub)
    mechanism.add_oracle_gap_command(sub)
    mechanism.add_decisive_command(sub)
    serving.add_serving_commands(sub)           # recommend, export, serve
    return parser


def main(argv=None) -> int:
    from .cli.interrupt import interrupted_line
    from .threads import apply_thread_policy

    apply_thread_policy("large")            # the CLI's jobs are large; an explicit OMP_NUM_THREADS wins
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:               # Ctrl-C: the README's way to stop a grid; runs resume from their files
        print(interrupted_line(args.command, argv), file=sys.stderr)
        return 130
    except (ValueError, TypeError, KeyError, OSError, FloatingPointError) as err:
        # expected failures, each a message that says what and where: bad input or config (ValueError,
        # TypeError, KeyError: an unknown key), a missing file or a run folder in the way (OSError:
        # FileNotFoundError, FileExistsError), a failed write (OSError naming the path, a full disk
        # said so), a diverged training (FloatingPointError)
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

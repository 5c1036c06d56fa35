"""The ``auditbench`` command: run suites, build reports, print the toy example, train models,
time every method.

Exit status: 0 when everything ran; 1 when some jobs failed (recorded, reported); 2 for the
user's mistake (one line on standard error, never a traceback); 130 / 143 when SIGINT /
SIGTERM stopped a run (what was kept is said, the same command resumes); 70 for an error
auditbench did not expect, a bug. ``--debug`` (or ``AUDITBENCH_DEBUG=1``) shows the traceback
of the last two.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from auditbench.commands import perf, run, show, train
from auditbench.errors import EXIT_BUG, EXIT_USAGE, Interrupted, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="auditbench", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also AUDITBENCH_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run.add_parser(sub)
    show.add_parsers(sub)
    train.add_parser(sub)
    perf.add_parser(sub)
    return parser


COMMANDS = {"run": run.cmd_run, "report": show.cmd_report, "card": show.cmd_card,
            "toy": show.cmd_toy, "train": train.cmd_train, "list": show.cmd_list,
            "perf": perf.cmd_perf}


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get("AUDITBENCH_DEBUG", "") not in ("", "0")
    previous = _stop_on_sigterm()
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        return COMMANDS[args.command](args)
    except UsageError as err:
        # the user's mistake: one line, no traceback
        if debug:
            traceback.print_exc()
        print(str(err), file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as err:
        # a run stopped by a signal: it says what was kept and how to resume
        print(f"auditbench: {err}", file=sys.stderr)
        return 128 + err.signum
    except KeyboardInterrupt:
        print("auditbench: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except Exception as err:
        if debug:
            traceback.print_exc()
        print(f"auditbench: internal error, a bug in auditbench ({type(err).__name__}: {err}); "
              "please report it with the traceback that --debug shows", file=sys.stderr)
        return EXIT_BUG
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_on_sigterm() -> signal.Handlers | object | None:
    """Make SIGTERM stop a run the way Ctrl-C does (``Interrupted``, exit 143) instead of
    ending the process silently; returns the handler to put back (``None`` off the main
    thread, where handlers cannot be set)."""

    def stop(signum: int, frame: object) -> None:
        raise Interrupted("terminated (SIGTERM)", signum)

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread
        return None


if __name__ == "__main__":
    sys.exit(main())

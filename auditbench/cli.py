"""The ``auditbench`` command: run suites, build reports, print the toy example, train models,
time every method.

Bad arguments print one line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from auditbench.commands import perf, run, show, train
from auditbench.errors import EXIT_USAGE, UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="auditbench", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
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
    try:
        args = build_parser().parse_args(argv)
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        return COMMANDS[args.command](args)
    except UsageError as err:
        # bad arguments or suite files: one line, no traceback
        print(str(err), file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())

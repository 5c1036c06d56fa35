"""The commands that show what there is: ``report`` and ``card`` (of a finished run),
``toy`` (the lecture's linear example) and ``list`` (models, datasets, every method with
its paper, job kinds, suites)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from auditbench.errors import UsageError


def add_parsers(sub: Any) -> None:
    """The ``report``, ``card``, ``toy`` and ``list`` commands' arguments."""
    report = sub.add_parser("report", help="(re)build RUN_DIR/index.html from its store")
    report.add_argument("run_dir", type=Path)

    card = sub.add_parser("card", help="print a run's audit card (as at the top of its report)")
    card.add_argument("run_dir", type=Path)
    card.add_argument("--format", choices=("md", "json"), default="md")

    toy = sub.add_parser("toy", help="the linear toy example of CS231n lecture 9")
    toy.add_argument("--json", action="store_true", help="print JSON instead of a table")
    toy.add_argument("--eps", type=float, default=0.5)

    sub.add_parser("list", help="models, datasets, methods, job kinds and suites")


def cmd_report(args: argparse.Namespace) -> int:
    from reports import build_report

    run_dir = _checked_run(args.run_dir, "report")
    try:
        print(build_report(run_dir))
    except OSError as err:  # index.html cannot be written into the user's run directory
        if err.filename is None:
            raise
        raise UsageError(f"auditbench report: {err.filename}: {err.strerror or err}") from None
    return 0


def cmd_card(args: argparse.Namespace) -> int:
    from reports.card import card_text

    print(card_text(_checked_run(args.run_dir, "card"), args.format))
    return 0


def _checked_run(run_dir: Path, command: str) -> Path:
    """``run_dir`` once its results store is known to be one (``bench.store.check_store``:
    a missing, empty, damaged or foreign file is refused in one line naming it)."""
    from bench.store import StoreError, check_store, db_path

    if not db_path(run_dir).exists():
        raise UsageError(f"auditbench {command}: no results.sqlite in {run_dir}")
    try:
        check_store(run_dir)
    except StoreError as err:
        raise UsageError(f"auditbench {command}: {err}") from None
    return run_dir


def cmd_toy(args: argparse.Namespace) -> int:
    import attacks


    try:
        result = attacks.linear_toy(eps=args.eps)
    except ValueError as err:
        raise UsageError(f"auditbench toy: {err}") from None
    if args.json:
        print(json.dumps({
            "eps": result.eps, "score": result.score, "score_adv": result.score_adv,
            "p": result.p, "p_adv": result.p_adv, "rows": result.rows(),
        }, indent=2))
    else:
        print(attacks.toy_table(result))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    # read off the source (auditbench.listing): importing the registries imports PyTorch
    from auditbench.listing import index

    families = index()
    width = max((len(e.name) for f in families for e in f.entries if e.paper), default=0)
    for family in families:
        label = f"{family.label + ':':<12} "
        if not any(e.paper for e in family.entries):
            print(label + ", ".join(family.names))
            continue
        for entry in family.entries:  # a method family: one method a line, with its paper
            print(f"{label}{entry.name:<{width}}  {entry.paper or ''}".rstrip())
            label = " " * len(label)
    return 0

"""The ``auditbench`` command: run suites, build reports, print the toy example, train models.

Bad arguments print one line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn, TypeVar

from bench.suite import SuiteError, list_suites, load_suite

EXIT_USAGE = 2
T = TypeVar("T")


class UsageError(Exception):
    """A bad argument: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="auditbench", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a suite (resumes a run already started)")
    run.add_argument("--suite", default="default", help="shipped suite name or a TOML path")
    run.add_argument("--out", type=Path, help="run directory (default runs/<suite name>/)")
    run.add_argument("--device", default="auto", choices=("cpu", "cuda", "auto"),
                     help="auto (default): cuda when available, else cpu")
    run.add_argument("--name", help="run name, used for the default run directory")
    run.add_argument("--threads", type=int, metavar="N",
                     help="CPU threads for PyTorch (default: PyTorch's choice); 1 is much "
                          "faster on a machine whose cores other processes are using")
    run.add_argument("--no-report", action="store_true", help="skip writing index.html")

    report = sub.add_parser("report", help="(re)build RUN_DIR/index.html from its store")
    report.add_argument("run_dir", type=Path)

    toy = sub.add_parser("toy", help="the linear toy example of CS231n lecture 9")
    toy.add_argument("--json", action="store_true", help="print JSON instead of a table")
    toy.add_argument("--eps", type=float, default=0.5)

    train = sub.add_parser("train", help="train a shipped model from scratch")
    train.add_argument("name")
    train.add_argument("--out", type=Path, help="weights file (default zoo/weights/NAME.pt)")
    train.add_argument("--seed", type=int, default=0)

    sub.add_parser("list", help="models, datasets, attacks, job kinds and suites")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from bench.context import resolve_device
    from bench.runner import run_suite

    try:
        suite = load_suite(args.suite)
        resolve_device(args.device)
    except (SuiteError, ValueError) as err:
        raise UsageError(f"auditbench run: {err}") from None
    if args.name is not None:
        if not args.name.strip():
            raise UsageError("auditbench run: --name must not be empty")
        suite = replace(suite, name=args.name)
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"auditbench run: --threads must be >= 1, got {args.threads}")
    out = args.out or Path("runs") / suite.slug
    summary = _with_threads(args.threads, lambda: run_suite(suite, out, device=args.device))
    print(f"{len(summary.done)} jobs run, {len(summary.skipped)} already done, "
          f"{len(summary.failed)} failed in {summary.seconds:.1f} s; results in "
          f"{out / 'results.sqlite'}")
    for job_id, error in summary.failed.items():
        print(f"  failed {job_id}: {error}")
    if not args.no_report:
        from reports import build_report

        print(f"report: {build_report(out)}")
    return 1 if summary.failed else 0


def _with_threads(threads: int | None, work: Callable[[], T]) -> T:
    """Run ``work`` with PyTorch's intra-op thread count set, restoring it afterwards."""
    if threads is None:
        return work()
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return work()
    finally:
        torch.set_num_threads(before)


def cmd_report(args: argparse.Namespace) -> int:
    from reports import build_report

    if not (args.run_dir / "results.sqlite").is_file():
        raise UsageError(f"auditbench report: no results.sqlite in {args.run_dir}")
    print(build_report(args.run_dir))
    return 0


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


def cmd_train(args: argparse.Namespace) -> int:
    from bench.train import CONFIGS, save, train
    from zoo.models import model_spec

    if args.name not in CONFIGS:
        raise UsageError(f"auditbench train: no training config for {args.name!r}; "
                         f"trainable: {', '.join(sorted(CONFIGS))}")
    config = replace(CONFIGS[args.name], seed=args.seed)
    model, metrics = train(args.name, config)
    out = args.out or model_spec(args.name).weights_file
    save(model, out)
    print(f"{args.name}: test accuracy {metrics['test_accuracy']:.4f} "
          f"(train {metrics['train_accuracy']:.4f}); weights written to {out}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    import attacks
    import zoo
    from bench.jobs import KINDS

    print("models:   " + ", ".join(zoo.list_models()))
    print("datasets: " + ", ".join(zoo.list_datasets()))
    print("attacks:  " + ", ".join(attacks.list_attacks()))
    print("jobs:     " + ", ".join(sorted(KINDS)))
    print("suites:   " + ", ".join(list_suites()))
    return 0


COMMANDS = {"run": cmd_run, "report": cmd_report, "toy": cmd_toy, "train": cmd_train,
            "list": cmd_list}


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

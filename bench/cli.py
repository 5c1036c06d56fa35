"""The ``auditbench`` command: run suites, build reports, print the toy example, train models.

``auditbench perf`` times every method against its reference and the bare floor.

Bad arguments print one line and exit with status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from bench.suite import Suite, SuiteError, list_suites, load_suite, slugify

if TYPE_CHECKING:
    pass

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

    run = sub.add_parser("run", help="run a suite, or audit your own model with --model "
                                     "(resumes a run already started)")
    run.add_argument("--suite", help="shipped suite name or a TOML path (default: default)")
    run.add_argument("--out", type=Path, help="run directory (default runs/<suite name>/)")
    run.add_argument("--device", default="auto", choices=("cpu", "cuda", "auto"),
                     help="auto (default): cuda when available, else cpu")
    run.add_argument("--name", help="run name, used for the default run directory")
    run.add_argument("--threads", type=int, metavar="N",
                     help="CPU threads for PyTorch (default: PyTorch's choice); 1 is much "
                          "faster on a machine whose cores other processes are using")
    run.add_argument("--no-report", action="store_true", help="skip writing index.html")
    own = run.add_argument_group(
        "your own model", "--model writes an audit suite for it (RUN_DIR/audit.toml, yours to "
        "keep and edit) and runs it")
    own.add_argument("--model", metavar="SPEC",
                     help="module.path:factory, path/to/file.py:factory, model.pt2, a "
                          "TorchScript file, tv:<arch> or a shipped model name")
    own.add_argument("--weights", metavar="FILE", help="state dict for a factory or tv: model")
    own.add_argument("--mean", type=float, nargs="+", metavar="M",
                     help="the model's input mean per channel (pixels in [0, 1])")
    own.add_argument("--std", type=float, nargs="+", metavar="S", help="its input std")
    own.add_argument("--input-size", type=int, nargs="+", metavar="N",
                     help="one side, or C H W")
    own.add_argument("--class-names", metavar="FILE", help=".txt (one per line) or .json")
    own.add_argument("--data", metavar="DIR",
                     help="image folder: one sub-folder per class, or flat with --labels-csv")
    own.add_argument("--labels-csv", metavar="FILE", help="file,label rows for a flat folder")
    own.add_argument("--per-class", type=int, metavar="N",
                     help="a seeded sample of N images per class")
    own.add_argument("--eps-linf", type=float, metavar="EPS",
                     help="standard Linf budget (default by data: 0.3 MNIST, 8/255 up to "
                          "64 px, 4/255 above)")
    own.add_argument("--eps-l2", type=float, metavar="EPS",
                     help="standard L2 budget (default 2.0, 0.5, 3.0 likewise)")
    own.add_argument("--quick", action="store_true", help="the quick version of the audit")

    report = sub.add_parser("report", help="(re)build RUN_DIR/index.html from its store")
    report.add_argument("run_dir", type=Path)

    card = sub.add_parser("card", help="print a run's audit card (as at the top of its report)")
    card.add_argument("run_dir", type=Path)
    card.add_argument("--format", choices=("md", "json"), default="md")

    toy = sub.add_parser("toy", help="the linear toy example of CS231n lecture 9")
    toy.add_argument("--json", action="store_true", help="print JSON instead of a table")
    toy.add_argument("--eps", type=float, default=0.5)

    train = sub.add_parser("train", help="train a shipped model from scratch")
    train.add_argument("name")
    train.add_argument("--out", type=Path, help="weights file (default zoo/weights/NAME.pt)")
    train.add_argument("--seed", type=int, default=0)

    perf = sub.add_parser("perf", help="time every method against its reference and floor")
    perf.add_argument("--device", default="auto", metavar="cpu,cuda|auto",
                      help="devices to time, comma-separated (default auto: cpu, and cuda "
                           "when available)")
    perf.add_argument("--quick", action="store_true", help="the small, fast benchmark set")
    perf.add_argument("--suite", type=Path, metavar="SUITE.toml",
                      help="time the [models.*] a suite file declares (an audit.toml written "
                           "by run --model) instead of the shipped models")
    perf.add_argument("--out", type=Path, default=Path("runs") / "perf",
                      help="run directory: an audit run's, or a new one (default runs/perf)")
    perf.add_argument("--threads", type=int, metavar="N", help="CPU threads for PyTorch")
    perf.add_argument("--compare", type=Path, metavar="OTHER_RUN",
                      help="compare OUT's timings with this run's (OUT is timed first only "
                           "when it has no perf.json yet)")
    perf.add_argument("--allow-other-machine", action="store_true",
                      help="compare runs from different machines anyway")
    perf.add_argument("-k", dest="keyword", metavar="EXPR",
                      help="only benchmarks matching this pytest -k expression")

    sub.add_parser("list", help="models, datasets, attacks, job kinds and suites")
    return parser


OWN_MODEL_FLAGS = ("weights", "mean", "std", "input_size", "class_names", "data",
                   "labels_csv", "per_class", "eps_linf", "eps_l2", "quick")


def cmd_run(args: argparse.Namespace) -> int:
    from bench.context import resolve_device
    from bench.preflight import PreflightError
    from bench.runner import run_suite

    if args.name is not None and not args.name.strip():
        raise UsageError("auditbench run: --name must not be empty")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"auditbench run: --threads must be >= 1, got {args.threads}")
    if args.model is None:
        given = [f"--{k.replace('_', '-')}" for k in OWN_MODEL_FLAGS
                 if getattr(args, k) not in (None, False)]
        if given:
            raise UsageError(f"auditbench run: {given[0]} is for your own model: give --model")
    try:
        resolve_device(args.device)
        suite = _audit_suite(args) if args.model is not None else load_suite(
            args.suite or "default")
    except (SuiteError, ValueError, ImportError, OSError) as err:
        raise UsageError(f"auditbench run: {err}") from None
    if args.name is not None:
        suite = replace(suite, name=args.name)
    out = args.out or Path("runs") / suite.slug
    try:
        summary = _with_threads(args.threads, lambda: run_suite(suite, out, device=args.device))
    except PreflightError as err:
        raise UsageError(f"auditbench run: {err}") from None
    print(f"{len(summary.done)} jobs run, {len(summary.skipped)} already done, "
          f"{len(summary.failed)} failed in {summary.seconds:.1f} s; results in "
          f"{out / 'results.sqlite'}")
    for job_id, error in summary.failed.items():
        print(f"  failed {job_id}: {error}")
    if not args.no_report:
        from reports import build_report

        print(f"report: {build_report(out)}")
    return 1 if summary.failed else 0


def _audit_suite(args: argparse.Namespace) -> Suite:
    """``--model`` and its flags -> the audit suite, written into the run directory."""
    from bench.audit import AuditRequest, model_key, write_audit_suite

    if args.suite is not None:
        raise UsageError("auditbench run: give --suite or --model, not both (--model writes "
                         "its own suite; run it again later with --suite RUN_DIR/audit.toml)")
    if args.per_class is not None and args.per_class < 1:
        raise UsageError(f"auditbench run: --per-class must be >= 1, got {args.per_class}")
    if args.input_size is not None and len(args.input_size) not in (1, 3):
        raise UsageError("auditbench run: --input-size takes one side or C H W")
    request = AuditRequest(**{"model": args.model, **{k: getattr(args, k)
                                                        for k in OWN_MODEL_FLAGS}})
    name = args.name or f"{model_key(args.model)}-audit"
    out = args.out or Path("runs") / slugify(name)
    return load_suite(write_audit_suite(request, out, _command_line(args)))


def _command_line(args: argparse.Namespace) -> str:
    """The ``auditbench run --model ...`` that wrote an audit suite, for its first comment."""
    words = ["auditbench", "run", "--model", args.model]
    for key in OWN_MODEL_FLAGS:
        value = getattr(args, key)
        flag = f"--{key.replace('_', '-')}"
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            words += [flag, *map(str, value)]
        elif value not in (None, False):
            words += [flag, str(value)]
    return shlex.join(words)


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


def cmd_perf(args: argparse.Namespace) -> int:
    from bench.cli_perf import perf

    return perf(args)


def cmd_card(args: argparse.Namespace) -> int:
    from reports.card import card_text

    if not (args.run_dir / "results.sqlite").is_file():
        raise UsageError(f"auditbench card: no results.sqlite in {args.run_dir}")
    print(card_text(args.run_dir, args.format))
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


COMMANDS = {"run": cmd_run, "report": cmd_report, "card": cmd_card, "toy": cmd_toy,
            "train": cmd_train, "list": cmd_list, "perf": cmd_perf}


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

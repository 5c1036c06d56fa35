"""``auditbench run``: run a suite, or write and run the audit of the user's own model.

The harness is imported when the command runs, not when the parser is built, so that
``auditbench --help`` answers at once (importing PyTorch takes seconds)."""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from auditbench.commands.paths import run_dir
from auditbench.errors import UsageError

if TYPE_CHECKING:
    from bench.suite import Suite

T = TypeVar("T")


def add_parser(sub: Any) -> None:
    """The ``run`` command's arguments."""
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
                          "TorchScript file, tv:<arch> or a shipped model name; a model "
                          "that returns a tuple, a dict or an object with .logits needs "
                          "--output")
    own.add_argument("--weights", metavar="FILE", help="state dict for a factory or tv: model")
    own.add_argument("--mean", type=float, nargs="+", metavar="M",
                     help="the model's input mean per channel (pixels in [0, 1])")
    own.add_argument("--std", type=float, nargs="+", metavar="S", help="its input std")
    own.add_argument("--input-size", type=int, nargs="+", metavar="N",
                     help="one side, or C H W")
    own.add_argument("--class-names", metavar="FILE", help=".txt (one per line) or .json")
    own.add_argument("--output", type=output_choice, metavar="INDEX|KEY",
                     help="where the logits are when the model returns more than a tensor: "
                          "0 for (logits, features), or a dict key / attribute (logits)")
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
    own.add_argument("--surrogate", metavar="SPEC",
                     help="a second model (any --model SPEC, e.g. a shipped one) that the "
                          "transfer attack makes its adversarial examples on; default for an "
                          "MNIST-shaped model: the shipped mnist_cnn, otherwise none")
    own.add_argument("--quick", action="store_true", help="the quick version of the audit")


def output_choice(value: str) -> int | str:
    """``--output``: an integer is an index into a tuple, anything else a key or attribute."""
    text = value.strip()
    if not text:
        raise argparse.ArgumentTypeError("give an index (0) or a key or attribute (logits)")
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else text


AUDIT_FILE = "audit.toml"  # what --model writes into the run directory (bench.audit)
OWN_MODEL_FLAGS = ("weights", "mean", "std", "input_size", "class_names", "output", "data",
                   "labels_csv", "per_class", "eps_linf", "eps_l2", "surrogate", "quick")


def cmd_run(args: argparse.Namespace) -> int:
    _check_arguments(args)

    from bench.context import resolve_device
    from bench.runner import run_suite
    from reports import build_report

    try:
        resolve_device(args.device)
    except ValueError as err:  # "cuda asked for, but not available": the user's --device
        raise UsageError(f"auditbench run: --device {args.device}: {err}") from None
    if args.model is not None:
        from zoo.models import check_model_name

        for spec in (args.model, args.surrogate):
            if spec is not None:  # an unknown name, with the closest, before any file
                check_model_name(spec)
    if args.model is None:
        from bench.suite import load_suite

        # a suite file that cannot be read is a SuiteError too, naming it
        suite = load_suite(args.suite or "default")
        if args.name is not None:
            suite = replace(suite, name=args.name)
        out = args.out or Path("runs") / suite.slug
        # the run directory before any model is loaded; a refused run removes it again
        with run_dir(out), _os_errors_on_paths(args, out):
            summary = _with_threads(args.threads,
                                    lambda: run_suite(suite, out, device=args.device))
    else:
        out = args.out or Path("runs") / _audit_slug(args)
        # audit.toml is written once the model has loaded; a run refused before its first
        # job (a bad folder, a model the preflight refuses) removes it, and the directory
        # when this call made it
        with run_dir(out, files=(AUDIT_FILE,)), _os_errors_on_paths(args, out):
            suite = _audit_suite(args, out)
            if args.name is not None:
                suite = replace(suite, name=args.name)
            summary = _with_threads(args.threads,
                                    lambda: run_suite(suite, out, device=args.device))
    print(f"{len(summary.done)} jobs run, {len(summary.skipped)} already done, "
          f"{len(summary.failed)} failed in {summary.seconds:.1f} s; results in "
          f"{out / 'results.sqlite'}")
    for job_id, error in summary.failed.items():
        print(f"  failed {job_id}: {error}")
    if not args.no_report:
        print(f"report: {build_report(out)}")
    return 1 if summary.failed else 0


def _check_arguments(args: argparse.Namespace) -> None:
    """The flags' own checks, before anything is imported or loaded."""
    if args.name is not None and not args.name.strip():
        raise UsageError("auditbench run: --name must not be empty")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"auditbench run: --threads must be >= 1, got {args.threads}")
    if args.model is None:
        given = [f"--{k.replace('_', '-')}" for k in OWN_MODEL_FLAGS
                 if getattr(args, k) is not None and getattr(args, k) is not False]
        if given:
            raise UsageError(f"auditbench run: {given[0]} is for your own model: give --model")
        return
    if args.suite is not None:
        raise UsageError("auditbench run: give --suite or --model, not both (--model writes "
                         "its own suite; run it again later with --suite RUN_DIR/audit.toml)")
    if not args.model.strip():
        raise UsageError("auditbench run: --model must not be empty")
    if args.per_class is not None and args.per_class < 1:
        raise UsageError(f"auditbench run: --per-class must be >= 1, got {args.per_class}")
    if args.input_size is not None and len(args.input_size) not in (1, 3):
        raise UsageError("auditbench run: --input-size takes one side or C H W")
    if args.data is None and (args.labels_csv is not None or args.per_class is not None):
        raise UsageError("auditbench run: --labels-csv and --per-class describe --data DIR; "
                         "give --data")
    for flag in ("eps_linf", "eps_l2"):
        value = getattr(args, flag)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"auditbench run: --{flag.replace('_', '-')} must be a positive "
                             f"number, got {value}")


@contextmanager
def _os_errors_on_paths(args: argparse.Namespace, out: Path) -> Iterator[None]:
    """An ``OSError`` on a path the user gave (the run directory, a weights file, folder,
    labels or class-names file, the model's file; no permission, a directory for a file, a
    full disk) as the user's error, naming the path. Any other ``OSError`` (a file of
    auditbench's own) is not the user's and stays a bug."""
    try:
        yield
    except OSError as err:
        if isinstance(err, UsageError) or not _on_users_path(err.filename, args, out):
            raise
        raise UsageError(f"auditbench run: {err.filename}: {err.strerror or err}") from None


def _on_users_path(filename: object, args: argparse.Namespace, out: Path) -> bool:
    if not isinstance(filename, (str, os.PathLike)):
        return False
    given = [out, *(getattr(args, key) for key in ("weights", "data", "labels_csv",
                                                   "class_names", "suite"))]
    if args.model is not None:
        given.append(args.model.rpartition(":")[0] or args.model)  # file.py:factory
    path = Path(filename).resolve()
    return any(path == root or root in path.parents
               for root in (Path(g).resolve() for g in given if g))


def _audit_slug(args: argparse.Namespace) -> str:
    from bench.audit import model_key
    from bench.suite import slugify

    return slugify(args.name or f"{model_key(args.model)}-audit")


def _audit_suite(args: argparse.Namespace, out: Path) -> Suite:
    """``--model`` and its flags -> the audit suite, written into the run directory."""
    from bench.audit import AuditRequest, write_audit_suite
    from bench.suite import load_suite

    request = AuditRequest(**{"model": args.model, **{k: getattr(args, k)
                                                        for k in OWN_MODEL_FLAGS}})
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
        elif value is not None and value is not False:  # --output 0 is given
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

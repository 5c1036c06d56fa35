"""``auditbench perf``: run the pytest-benchmark suite as a subprocess, store its timings in
a run, rebuild the report, and compare two runs. Bad arguments raise ``UsageError``.
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditbench.commands.paths import make_dir
from auditbench.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

PERF_DEVICES = ("cpu", "cuda")


def add_parser(sub: Any) -> None:
    """The ``perf`` command's arguments."""
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


def repo_root() -> Path:
    """The directory holding the ``bench`` package, where ``bench/perf`` lives."""
    import bench

    return Path(bench.__file__).resolve().parent.parent


def run_benchmarks(command: list[str], cwd: Path) -> int:
    """Run the perf suite as a subprocess, its output streamed; its exit status.

    Kept small so tests can replace it.
    """
    return subprocess.run(command, cwd=cwd, check=False).returncode


def perf_command(args: argparse.Namespace, json_path: Path) -> list[str]:
    # a suite's own models: the per-method benchmarks only (the fast-path ones are shipped)
    where = ["bench/perf"] if args.suite is None else [
        f"bench/perf/test_perf_{family}.py" for family in ("attacks", "attribution",
                                                           "generative")]
    command = [sys.executable, "-m", "pytest", *where, "-p", "no:cacheprovider", "-q",
               "--benchmark-json", str(json_path), "--perf-device", args.device]
    if args.suite is not None:
        command += ["--perf-suite", str(args.suite.resolve())]
    if args.quick:
        command.append("--perf-quick")
    if args.threads is not None:
        command += ["--perf-threads", str(args.threads)]
    if args.keyword:
        command += ["-k", args.keyword]
    return command


def _perf_frame(run_dir: Path) -> pd.DataFrame | None:
    """A run's timings: its perf.json if kept, else its store's perf table, else None."""
    from bench.store import load_perf
    from bench.timing import FILENAME, add_ratios, load_benchmarks


    if (run_dir / FILENAME).is_file():
        return add_ratios(load_benchmarks(run_dir / FILENAME))
    return load_perf(run_dir)


def _ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}x"


def print_perf_table(df: pd.DataFrame) -> None:
    from bench.timing import ours_table


    table = ours_table(df)
    if table.empty:
        print("no 'ours' benchmark in the results")
        return
    header = (f"{'method':<22} {'model':<30} {'size':>4} {'device':<6} {'batch':>5} "
              f"{'ours ms':>10} {'x floor':>8} {'x ref':>8}")
    print(header)
    print("-" * len(header))
    for _, r in table.iterrows():
        print(f"{r['variant'] or r['method']!s:<22} {r['model']!s:<30} {r['size']!s:>4} "
              f"{r['device']!s:<6} {r['batch']!s:>5} "
              f"{r['ours_ms']:>10.3f} {_ratio(r['ratio_to_floor']):>8} "
              f"{_ratio(r['ratio_to_reference']):>8}")


def print_comparison(table: pd.DataFrame) -> None:
    header = f"{'benchmark':<56} {'new ms':>10} {'old ms':>10} {'new/old':>8}"
    print(header)
    print("-" * len(header))
    for _, r in table.iterrows():
        print(f"{r['name']!s:<56} {1000 * r['median_new']:>10.3f} "
              f"{1000 * r['median_old']:>10.3f} {r['ratio']:>8.2f}")


def cmd_perf(args: argparse.Namespace) -> int:
    from bench.lock import hold
    from bench.store import StoreError, write_perf
    from bench.suite import SuiteError, load_suite
    from bench.timing import FILENAME, add_ratios, compare, load_benchmarks
    from reports import build_report


    devices = args.device.split(",")
    if args.device != "auto" and (not all(d in PERF_DEVICES for d in devices)
                                  or len(set(devices)) != len(devices)):
        raise UsageError(f"auditbench perf: --device must be auto or a comma-separated list "
                         f"of {', '.join(PERF_DEVICES)}, got {args.device!r}")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"auditbench perf: --threads must be >= 1, got {args.threads}")
    if args.suite is not None:
        try:
            if not load_suite(args.suite).definitions.models:
                raise UsageError(f"auditbench perf: {args.suite} declares no [models.NAME]")
        except SuiteError as err:  # also a suite file that cannot be read
            raise UsageError(f"auditbench perf: {err}") from None
    out = args.out.resolve()
    json_path = out / FILENAME
    old = None
    if args.compare is not None:
        try:
            old = _perf_frame(args.compare)
        except StoreError as err:
            raise UsageError(f"auditbench perf: --compare: {err}") from None
        if old is None:
            raise UsageError(f"auditbench perf: no timings in {args.compare} "
                             f"(neither {FILENAME} nor a perf table in results.sqlite)")

    status = 0
    if args.compare is None or not json_path.is_file():
        # checked (and made) before the benchmarks run: a file or an unwritable place is
        # refused at once, not after minutes of timing
        make_dir(out, "--out", "auditbench perf")
        # the run directory's lock, as a suite run takes it: one writer at a time
        with hold(out):
            status = run_benchmarks(perf_command(args, json_path), repo_root())
            if not json_path.is_file():
                print(f"auditbench perf: the benchmarks wrote no {json_path} "
                      f"(pytest exit status {status})", file=sys.stderr)
                return status or 1
            df = add_ratios(load_benchmarks(json_path))
            if df.empty:
                print(f"auditbench perf: no benchmark ran (pytest exit status {status})",
                      file=sys.stderr)
                return status or 1
            print(f"timings of {len(df)} benchmarks stored in {write_perf(out, df)}")
            print(f"report: {build_report(out)}")
        print_perf_table(df)
    if old is not None:
        new = _perf_frame(out)
        if new is None:  # unreachable: a perf.json is there by now
            raise UsageError(f"auditbench perf: no timings in {out}")
        try:
            table = compare(new, old, allow_other_machine=args.allow_other_machine)
        except ValueError as err:
            raise UsageError(f"auditbench perf: {err}") from None
        if table.attrs.get("other_machine"):
            print(f"warning: comparing timings from different machines ("
                  f"{table.attrs['machine_new']} vs {table.attrs['machine_old']}); "
                  "the ratios mix machine and code differences")
        print(f"{out} (new) against {args.compare} (old): {len(table)} benchmarks in both")
        print_comparison(table)
    return 1 if status else 0

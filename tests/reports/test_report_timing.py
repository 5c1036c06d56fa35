"""The report's timing section, built from the sample pytest-benchmark JSON: in a directory
holding timings only, and added to an audit run's report.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.store import load_perf, write_perf
from bench.timing import add_ratios, load_benchmarks
from reports import build_report

SAMPLE = Path(__file__).parents[1] / "bench" / "data" / "perf_sample.json"
IMAGE = r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"'


def section_of(html: str, section: str) -> str:
    return html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]


@pytest.fixture(scope="module")
def perf_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("perf") / "run"
    write_perf(run, add_ratios(load_benchmarks(SAMPLE)))
    build_report(run)
    return run


def _row(html: str, method: str, device_title: str) -> str:
    part = html.split(f"<h3>{device_title}</h3>", 1)[1].split("</table>", 1)[0]
    return next(r for r in part.split("<tr>") if f'<td class="l">{method}</td>' in r)


def test_a_perf_only_directory_gets_a_report(perf_only: Path) -> None:
    html = (perf_only / "index.html").read_text(encoding="utf-8")
    assert "auditbench report · perf" in html
    assert "This suite has no robustness job." in html  # the other sections say so
    assert "This run has no suite file" in html
    assert html.index('<section id="timing">') < html.index('<section id="suite">')
    assert '<a href="#timing">Timing</a>' in html


def test_timing_section_shows_the_sample_numbers(perf_only: Path) -> None:
    html = (perf_only / "index.html").read_text(encoding="utf-8")
    timing = section_of(html, "timing")
    assert "What each method costs" in timing and "No timing data" not in timing
    df = add_ratios(load_benchmarks(SAMPLE)).set_index(["group", "role"])
    pgd = df.loc[("attack/pgd/tiny_cnn/28px/b8/cpu", "ours")]
    row = _row(timing, "pgd", "CPU")
    assert f"{1000 * pgd['median']:.3f}" in row
    assert f"{pgd['ratio_to_floor']:.2f}×" in row and f"{pgd['ratio_to_reference']:.2f}×" in row
    # class_model is 1.76x its floor: red; it has no reference: a dash, no colour
    slow = _row(timing, "class_model", "CPU")
    assert '<td class="r-bad">1.76×</td>' in slow and '<td class="">–</td>' in slow
    assert '<td class="r-good">0.58×</td>' in _row(timing, "saliency", "CPU")
    assert '<td class="r-warn">1.09×</td>' in row
    gpu = _row(timing, "pgd", "GPU (CUDA)")
    assert '<td class="r-good">1.01×</td>' in gpu and '<td class="r-good">0.75×</td>' in gpu
    assert timing.count("<h3>CPU</h3>") == 1 and timing.count("<h3>GPU (CUDA)</h3>") == 1
    assert len(re.findall(IMAGE, timing)) == 1  # the ratio bars, both devices side by side
    assert "Peak memory" in timing and "58.25" in timing and "41.5" in timing
    assert "vm · Intel(R) Xeon(R) Processor · 2 cpus" in timing
    assert "15 in 6 groups" in timing


def test_an_audit_run_gains_the_timing_section(tiny_run: Path, tmp_path: Path) -> None:
    before = (tiny_run / "index.html").read_text(encoding="utf-8")
    assert "No timing data: run <code>auditbench perf" in section_of(before, "timing")
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    write_perf(run, add_ratios(load_benchmarks(SAMPLE)))
    build_report(run)
    html = (run / "index.html").read_text(encoding="utf-8")
    assert "What each method costs" in section_of(html, "timing")
    assert "No timing data" not in html
    assert "mnist_logreg (random weights)" in html  # the audit's own sections are still there
    assert section_of(html, "toy") == section_of(before, "toy")
    assert len(load_perf(run)) == 15


def test_robustness_curve_groups_show_both_curves_and_flag_a_weaker_budget(
        tmp_path: Path) -> None:
    df = load_benchmarks(SAMPLE)
    base = df[df["role"] == "ours"].iloc[0].to_dict()
    group = "curve/robust_accuracy-pgd/mnist_cnn/28px/b100/cpu"
    rows = []
    for role, median, acc in (("ours", 2.0, [0.9, 0.5, 0.2]),
                              ("reference", 8.0, [0.9, 0.6, 0.1])):
        rows.append({**base, "name": f"curve-{role}", "fullname": f"curve-{role}",
                     "group": group, "role": role, "family": "curve",
                     "method": "robust_accuracy", "median": median, "batch": 100,
                     "eps": [0.1, 0.2, 0.3], "robust_accuracy": acc})
    perf = add_ratios(pd.DataFrame(rows))
    run = tmp_path / "run"
    write_perf(run, perf)
    html = section_of(build_report(run).read_text(encoding="utf-8"), "timing")
    assert "torchattacks took 4× as long" in html
    assert "higher at some budget" in html  # 0.2 against torchattacks' 0.1 at eps 0.3
    assert '<td class="r-bad">20.0%</td>' in html and "<td>60.0%</td>" in html

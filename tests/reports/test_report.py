"""The report of a real quick run: every section filled, self-contained, escaped, resumable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import zoo
from auditbench.cli import main
from bench.kind import list_kinds
from bench.store import load, load_jobs
from reports import build_report

SECTIONS = ("run", "representation", "attribution", "agreement", "quality", "gallery",
            "stress", "toy", "dimension", "robustness", "minimal", "examples", "fooling", "sanity",
            "timing")


IMAGE = r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+"'


def html_of(run: Path) -> str:
    return (run / "index.html").read_text(encoding="utf-8")


def section_of(html: str, section: str) -> str:
    return html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]


def test_quick_run_stores_every_kind_and_no_failure(quick_run: Path) -> None:
    assert (quick_run / "results.sqlite").is_file()
    df = load(quick_run)
    assert set(df["kind"]) == set(list_kinds())
    jobs = load_jobs(quick_run)
    assert set(jobs["status"]) == {"done"}, jobs.loc[jobs["status"] != "done", "error"]
    assert (jobs["seconds"] > 0).all()
    assert df["device"].eq("cpu").all() and df["torch_version"].notna().all()


def test_robust_accuracy_curves_are_sound(quick_run: Path) -> None:
    df = load(quick_run)
    rob = df[df["kind"] == "robustness"]
    for _, job in rob.groupby("job_id"):
        curve = job[job["metric"] == "robust_accuracy"].sort_values("eps")["value"].tolist()
        clean = job.loc[job["metric"] == "clean_accuracy", "value"].item()
        assert curve[0] == clean  # eps = 0 is clean accuracy
        assert all(b <= a for a, b in zip(curve, curve[1:], strict=False))
    pgd = rob[(rob["method"] == "pgd") & (rob["norm"] == "linf") & (rob["metric"] ==
                                                                    "robust_accuracy")]
    at_03 = pgd[pgd["eps"] == 0.3].set_index("model")["value"]
    # the adversarially trained model is the robust one at Madry's eps 0.3
    assert at_03["mnist_cnn_at"] > at_03["mnist_cnn"] + 0.3


def test_every_section_is_filled_and_self_contained(quick_run: Path) -> None:
    html = html_of(quick_run)
    for section in SECTIONS:
        assert f'<section id="{section}">' in html
    # no section fell back to its empty message
    assert "This suite has no" not in html and "No results:" not in html
    # the quick suite times nothing: the timing section says how to fill it
    assert "No timing data: run <code>auditbench perf" in section_of(html, "timing")
    images = re.findall(IMAGE, html)
    # 2x2 representation figures, 2 attribution grids, 1 quality figure, dimension, 2 norms,
    # 3 example grids, 1 fooling grid, at least 1 gallery figure, 1 stress figure
    assert len(images) >= 16
    assert len(re.findall(IMAGE, section_of(html, "gallery"))) >= 1
    assert len(re.findall(IMAGE, section_of(html, "stress"))) == 1
    assert not re.search(r"(src|href)=\"(?!data:|#)", html)  # nothing loaded from elsewhere
    assert "http://" not in html and "https://" not in html
    assert "<script" not in html.lower()
    for text in ("88.08%", "mnist_cnn_at", "L∞ threat model", "L2 threat model",
                 "badge pass", "quick", "shapes_cnn", "Grad-CAM", "max |ours − Captum|",
                 "randomisation check", "pointing game", "t-SNE", "share the query's class",
                 "Images made by optimisation", "Generative methods under stress", "s/step"):
        assert text in html


def test_rerunning_resumes_without_duplicates(
    quick_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = load(quick_run)
    assert main(["run", "--suite", "quick", "--out", str(quick_run), "--device", "cpu",
                 "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^0 jobs run, \d+ already done, 0 failed", out, re.M), out
    after = load(quick_run)
    assert len(after) == len(before)
    assert not after.duplicated(subset=[c for c in after.columns
                                        if c not in ("seconds", "finished_at")]).any()


def test_report_renders_from_the_store_alone(
    quick_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report must not load models")

    monkeypatch.setattr(zoo, "load_model", refuse)
    monkeypatch.setattr(zoo, "load_dataset", refuse)
    assert build_report(quick_run) == quick_run / "index.html"


def test_user_strings_are_escaped(tiny_run: Path) -> None:
    html = html_of(tiny_run)
    assert "<script" not in html.lower() and "<b>bold" not in html
    assert "onerror=alert" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp;" in html
    assert "&lt;b&gt;bold&lt;/b&gt; run" in html
    assert '<img src=x' not in html


def test_random_weights_and_failed_jobs_are_shown(tiny_run: Path) -> None:
    html = html_of(tiny_run)
    assert "mnist_logreg (random weights)" in html
    assert "1 failed" in html and "dimension mnist_cnn" in html
    assert "needs a linear model" in html
    assert "No results: the dimension job(s) of this suite failed" in html
    assert "This suite has no fooling job." in html
    df = load(tiny_run)
    assert set(df.loc[df["kind"] == "robustness", "model_label"]) == {
        "mnist_logreg (random weights)"}


def test_sections_follow_the_lectures_order() -> None:
    # kinds register in page order, the order bench/kinds/__init__.py imports them; a kind
    # importing another kind's package would register that one first and reorder the page
    import bench.kinds
    from bench.kind import KINDS

    source = Path(bench.kinds.__file__).read_text(encoding="utf-8")
    imported = re.findall(r"^from bench\.kinds import (\w+)", source, re.MULTILINE)
    assert [kind.name for kind in KINDS] == imported

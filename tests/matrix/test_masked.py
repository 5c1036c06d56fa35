"""Three models that mask their gradients (``masked.py``: quantised input, saturated softmax,
a thermometer encoding), each audited as a user would (``auditbench run --model ...
--quick``) on a folder of digits: the sanity checks flag every one, the card strikes out or
leaves out the white-box figure with the reason at the top of the report, and its robust
accuracy at the standard L∞ 0.3 is the worst case over every attack, Square and the transfer
attack from the shipped mnist_cnn (the audit's surrogate for MNIST-shaped models) included,
at most 5%, though the gradient attacks alone leave most images robust."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from attacks.common import NO_GRADIENT
from auditbench.cli import main
from bench.store import load_jobs
from reports.card import audit_card
from tests.bench.test_own_model_audit import write_digit_folder

MASKED = Path(__file__).with_name("masked.py")


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_digit_folder(tmp_path_factory.mktemp("masked") / "digits", per_class=8)


@pytest.mark.parametrize("factory", ["quantised", "saturated", "thermometer"])
def test_the_audit_sees_through_masked_gradients(factory: str, digits: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / factory
    status = main(["run", "--model", f"{MASKED}:{factory}", "--data", str(digits),
                   "--input-size", "1", "28", "28", "--quick", "--threads", "1",
                   "--out", str(out)])
    # the thermometer model fails the jobs of white-box methods that are not attacks (no
    # gradients: their clear refusal is issue 16's); its robustness jobs all finish
    assert status in (0, 1)
    jobs = load_jobs(out)
    rob = jobs[jobs["kind"] == "robustness"]
    assert set(rob["status"]) == {"done"}, rob[["label", "error"]].to_string()
    card = audit_card(out)
    (model,) = card["models"]
    assert model["sanity"] is not None and "gradients_exist" in model["sanity"]["failed"]
    # an attack that needs no gradient of the model beats the white-box one (on the
    # saturated softmax Square's loss is as flat as the gradient: transfer does it)
    comparisons = {"black_box_not_stronger", "transfer_not_stronger",
                   "random_search_not_stronger"}
    assert comparisons & set(model["sanity"]["failed"])
    linf = next(r for r in model["robust"] if r["norm"] == "linf")
    assert linf["eps"] == pytest.approx(0.3) and linf["masked"] is not None
    assert linf["gradient_free_attacks"] == ["square", "transfer"]  # from mnist_cnn
    assert linf["value"] is not None and linf["value"] <= 0.05
    if factory != "thermometer":  # its gradient attacks cannot run at all
        assert linf["white_box"] is not None and linf["white_box"] >= 0.5
    page = html.unescape((out / "index.html").read_text(encoding="utf-8"))
    card_part = page.split('<section id="card">', 1)[1]
    alert = card_part.split('<div class="note alert">', 1)[1].split("</div>", 1)[0]
    assert "sanity checks failed (gradients_exist" in alert and "(square, transfer)" in alert
    if factory != "thermometer":
        assert "white-box</del>" in card_part.split("</table>", 1)[0]
    else:  # the gradient attacks are left out with the reason
        robustness = page.split('<section id="robustness">', 1)[1].split("</section>", 1)[0]
        assert f"pgd on masked_thermometer: {NO_GRADIENT}" in robustness

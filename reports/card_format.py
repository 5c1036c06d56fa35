"""Presenting the audit card that ``reports.card`` computes.

``card_rows`` gives the card's fields as table rows (the HTML template shows them),
``card_markdown`` and ``card_json`` render the card as text, ``card_header`` is its one-line
summary of the run and ``card_context`` is everything the report template needs. Missing
fields show as "–".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bench.figures import NORM_TITLES
from reports.card_common import format_eps, norm_key

__all__ = [
    "DASH",
    "card_context",
    "card_header",
    "card_json",
    "card_markdown",
    "card_rows",
    "format_eps",
    "masking_alerts",
]

DASH = "–"


def _pct(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.1f}%"


def _auc(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}"


def _cell(text: object, status: str | None = None, struck: str | None = None
          ) -> dict[str, Any]:
    """A card cell; ``struck``: a figure shown crossed out before the text."""
    return {"text": DASH if text is None or text == "" else str(text), "status": status,
            "struck": struck}


def _norms(models: list[dict[str, Any]]) -> list[str]:
    seen = list(dict.fromkeys(r["norm"] for m in models for r in m["robust"]))
    return sorted(seen, key=norm_key)


def _methods(models: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(a["method"] for m in models for a in m["attribution"]))


def card_rows(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's fields as rows ``{"field", "cells": [{"text", "status"}]}``, one cell per
    model; ``status`` is ``"pass"``, ``"fail"`` or ``None`` (the HTML shows it as a badge)."""
    models = card["models"]
    rows: list[dict[str, Any]] = []

    def add(field: str, make: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        rows.append({"field": field, "cells": [make(m) for m in models]})

    add("model", lambda m: _cell(m["key"]))
    add("label", lambda m: _cell(m["label"]))
    add("source", lambda m: _cell(m["source"]))
    add("parameters", lambda m: _cell(None if m["parameters"] is None
                                      else f"{int(m['parameters']):,}"))
    add("input (C×H×W)", lambda m: _cell("×".join(str(s) for s in m["input_size"] or [])))
    add("classes", lambda m: _cell(m["num_classes"]))
    add("weights", lambda m: _cell(m["weights_text"]))
    add("warnings", lambda m: _cell(
        "; ".join(m["warnings"]) or ("none" if m["described"] else None),
        "fail" if m["warnings"] else None))
    add("dataset", lambda m: _cell(m["data"]["key"]))
    add("data source", lambda m: _cell(m["data"]["source"]))
    add("images / classes", lambda m: _cell(_images(m["data"])))
    add("skipped files", lambda m: _cell(m["data"]["skipped"],
                                         "fail" if m["data"]["skipped"] else None))
    add("threat model", lambda m: _cell(_threat_text(m)))
    add("clean accuracy", lambda m: _cell(None if m["clean"] is None else
                                          f"{_pct(m['clean']['value'])} (n={m['clean']['n']})"))
    for norm in _norms(models):
        add(f"robust accuracy ({norm})", lambda m, norm=norm: _robust_cell(m, norm))
        add(f"attacks ({norm})", lambda m, norm=norm: _cell(_attacks_text(m, norm)))
    if not _norms(models):
        add("robust accuracy", lambda m: _cell(m["robust_note"]))
    add("sanity checks", _sanity_cell)
    methods = _methods(models)
    if methods:
        add("attribution randomisation check", _randomisation_cell)
    for method in methods:
        add(f"attribution: {method}", lambda m, method=method: _cell(_method_text(m, method)))
    if any(m["mask_baseline"] is not None for m in models):
        add("mask baseline (uniform map)", lambda m: _cell(
            None if m["mask_baseline"] is None else f"mass {_pct(m['mask_baseline'])}"))
    add("cost", lambda m: _cell(_cost_text(m["cost"])))
    return rows


def _images(data: dict[str, Any]) -> str | None:
    if data["images"] is None and data["classes"] is None:
        return None
    images = DASH if data["images"] is None else f"{int(data['images']):,}"
    classes = DASH if data["classes"] is None else str(data["classes"])
    sample = ""
    if data.get("per_class") and data.get("images") is not None:
        total = int(data["images"]) + int(data.get("not_sampled") or 0)
        sample = f" (up to {data['per_class']} per class, seeded, of {total:,})"
    return f"{images} images{sample}, {classes} classes"


def _threat_text(model: dict[str, Any]) -> str | None:
    if not model["threat"]:
        return None
    text = ", ".join(f"{norm} ε={format_eps(eps)}" for norm, eps in model["threat"].items())
    return text + (f" ({model['threat_source']})" if model["threat_source"] else "")


def _robust_of(model: dict[str, Any], norm: str) -> dict[str, Any] | None:
    return next((r for r in model["robust"] if r["norm"] == norm), None)


def _robust_text(model: dict[str, Any], norm: str) -> str | None:
    r = _robust_of(model, norm)
    if r is None:
        return model["robust_note"]
    if r["value"] is None:
        return f"ε={format_eps(r['eps'])}: {r['note']}"
    text = f"{_pct(r['value'])} at ε={format_eps(r['eps'])} (n={r['n']})"
    return text if r["per_example"] else text + ", aggregate only"


def _robust_cell(model: dict[str, Any], norm: str) -> dict[str, Any]:
    """The robust-accuracy cell; where a sanity check failed, the white-box figure is
    struck out and the worst case over the gradient-free attacks is the figure shown."""
    r = _robust_of(model, norm)
    if r is None or not r.get("masked"):
        return _cell(_robust_text(model, norm))
    struck = None if r["white_box"] is None else f"{_pct(r['white_box'])} white-box"
    if not r["gradient_free_attacks"]:
        return _cell("not meaningful: sanity checks failed and no gradient-free attack ran "
                     "(add Square, or a transfer attack)", "fail", struck)
    return _cell(f"{_robust_text(model, norm)}, worst case incl. "
                 f"{', '.join(r['gradient_free_attacks'])}", "fail", struck)


def masking_alerts(card: dict[str, Any]) -> list[str]:
    """One paragraph per model whose white-box figures the card strikes out, for the top of
    the report: why, and what the attacks that need no gradient found instead."""
    out = []
    for m in card["models"]:
        masked = [r for r in m["robust"] if r.get("masked")]
        if not masked:
            continue
        text = (f"{m['label'] or m['key']}: sanity checks failed "
                f"({', '.join(masked[0]['masked']['failed'])}), the signs of gradients "
                "masked or an attack that does not work: attacks that follow the model's "
                "gradients may miss adversarial examples that exist, so their robust "
                "accuracy is no evidence that the model is robust.")
        for r in masked:
            where = f"{NORM_TITLES.get(r['norm'], r['norm'])} ε={format_eps(r['eps'])}"
            white = [a for a in r["attacks"] if a not in r["gradient_free_attacks"]]
            free = (f"attacks that need no gradient of the model "
                    f"({', '.join(r['gradient_free_attacks'])}) leave {_pct(r['gradient_free'])}")
            if white and r["gradient_free_attacks"]:
                text += (f" At {where} the gradient attacks ({', '.join(white)}) leave "
                         f"{_pct(r['white_box'])} robust and {free}: the card shows the worst "
                         f"case over all attacks, {_pct(r['value'])}, and strikes the "
                         "white-box figure out.")
            elif white:
                text += (f" At {where} the gradient attacks ({', '.join(white)}) leave "
                         f"{_pct(r['white_box'])} robust, but no attack that works without "
                         "gradients ran there (add Square or a transfer attack), so the card "
                         "has no meaningful figure.")
            else:
                text += (f" At {where} no gradient attack has a result (they cannot run on a "
                         f"model without input gradients: see the robustness section); "
                         f"{free}, the figure the card shows.")
        out.append(text)
    return out


def _attacks_text(model: dict[str, Any], norm: str) -> str | None:
    r = _robust_of(model, norm)
    if r is None or not r["attacks"]:
        return None
    each = ", ".join(f"{a} {_pct(r['per_attack'].get(a))}" for a in r["attacks"])
    return f"{each}; strongest {r['strongest']}"


def _sanity_cell(model: dict[str, Any]) -> dict[str, Any]:
    s = model["sanity"]
    if s is None:
        return _cell(None)
    text = f"{s['passed']}/{s['total']} passed"
    if s["failed"]:
        text += f"; failed: {', '.join(s['failed'])}"
    return _cell(text, "fail" if s["failed"] else "pass")


def _randomisation_cell(model: dict[str, Any]) -> dict[str, Any]:
    checked = [a for a in model["attribution"] if a.get("randomisation_passed") is not None]
    if not checked:
        return _cell(None)
    failed = [a["method"] for a in checked if not a["randomisation_passed"]]
    text = f"{len(checked) - len(failed)}/{len(checked)} passed"
    if failed:
        text += f"; failed: {', '.join(failed)}"
    return _cell(text, "fail" if failed else "pass")


def _method_text(model: dict[str, Any], method: str) -> str | None:
    a = next((a for a in model["attribution"] if a["method"] == method), None)
    if a is None:
        return None
    scored = a.get("randomisation_passed") is not None or any(
        a.get(k) is not None for k in ("deletion_auc", "insertion_auc"))
    if a.get("left_out") is not None and not scored:
        return f"left out: {a['left_out'] or 'no reason recorded'}"
    parts = []
    if a.get("layer"):
        parts.append(f"layer {a['layer']}")
    if a["randomisation_passed"] is not None:
        parts.append("randomisation " + ("passed" if a["randomisation_passed"] else "FAILED"))
    parts.append(f"deletion AUC↓ {_auc(a['deletion_auc'])}")
    parts.append(f"insertion AUC↑ {_auc(a['insertion_auc'])}")
    if a["mass_inside_mask"] is not None:
        parts.append(f"mass in mask {_pct(a['mass_inside_mask'])}")
    if a["pointing_game"] is not None:
        parts.append(f"pointing {_pct(a['pointing_game'])}")
    return ", ".join(parts)


def _cost_text(cost: dict[str, Any]) -> str:
    text = f"{cost['seconds']:.1f} s, {cost['jobs_done']} job(s) done"
    return text + (f", {cost['jobs_failed']} failed" if cost["jobs_failed"] else "")


def card_header(card: dict[str, Any]) -> str:
    """One line: suite, device, wall time, versions."""
    run = card["run"]
    device = run["device"] or DASH
    if run["device_name"]:
        device += f" ({run['device_name']})"
    wall = DASH if run["wall_seconds"] is None else f"{run['wall_seconds']:.1f} s"
    if run["wall_source"] != "clock" and run["wall_seconds"] is not None:
        wall += f" ({run['wall_source']})"
    parts = [f"suite {run['suite'] or DASH}", f"device {device}", f"wall time {wall}",
             f"torch {run['torch_version'] or DASH}", f"commit {run['git_commit'] or DASH}"]
    return " · ".join(parts)


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def card_markdown(card: dict[str, Any]) -> str:
    """The card as a GitHub-flavoured markdown table: rows are fields, columns models."""
    header = _md(f"Audit card · {card_header(card)}")
    models = card["models"]
    if not models:
        return f"{header}\n\nNo model was audited in this run.\n"
    names = [m["label"] or m["key"] for m in models]
    lines = [header, "", "| field | " + " | ".join(_md(n) for n in names) + " |",
             "|---|" + "---|" * len(models)]
    for row in card_rows(card):
        cells = " | ".join((f"~~{_md(c['struck'])}~~ " if c.get("struck") else "")
                           + _md(c["text"]) for c in row["cells"])
        lines.append(f"| {_md(row['field'])} | {cells} |")
    return "\n".join(lines) + "\n"


def card_json(card: dict[str, Any]) -> str:
    return json.dumps(card, indent=2)


def card_context(card: dict[str, Any]) -> dict[str, Any]:
    """What the report template shows: header, rows, skipped files, the markdown to copy."""
    skipped: dict[str, list[list[str]]] = {}
    for model in card["models"]:
        data = model["data"]
        if data["skipped_files"] and data["key"] not in skipped:
            skipped[data["key"]] = data["skipped_files"]
    return {
        "header": card_header(card),
        "columns": [{"key": m["key"], "label": m["label"] or m["key"]} for m in card["models"]],
        "rows": card_rows(card),
        "skipped": [{"dataset": k, "files": v} for k, v in skipped.items()],
        "alerts": masking_alerts(card),
        "markdown": card_markdown(card),
    }

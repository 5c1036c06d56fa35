"""The linear toy example of CS231n lecture 9 ("fooling a linear classifier").

A logistic classifier ``p = sigmoid(w . x)`` sees ``x`` as class 1 with probability 0.0474.
Nudging every coordinate by only 0.5 in the direction of ``sign(w)`` adds ``0.5 * ||w||_1 =
5`` to the score and lifts the probability to 0.8808: ten small changes, each harmless alone,
add up. This is the one-dimensional seed of the high-dimension argument in
``attacks.dimension``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zoo.checks import check_nonnegative

# The lecture's slide, verbatim.
TOY_X = (2.0, -1.0, 3.0, -2.0, 2.0, 2.0, 1.0, -4.0, 5.0, 1.0)
TOY_W = (-1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 1.0)


@dataclass(frozen=True)
class ToyResult:
    """The clean and adversarial inputs of the toy, with their scores and probabilities.

    Shape:
        - x, w, x_adv: ``(10,)`` float64.
    """

    x: torch.Tensor
    w: torch.Tensor
    x_adv: torch.Tensor
    eps: float
    score: float
    score_adv: float
    p: float
    p_adv: float

    def rows(self) -> list[dict[str, float]]:
        """One dict per coordinate ``{i, x, w, x_adv}``, ready for a table."""
        return [
            {"i": i, "x": float(a), "w": float(b), "x_adv": float(c)}
            for i, (a, b, c) in enumerate(zip(self.x, self.w, self.x_adv, strict=True))
        ]


def linear_toy(eps: float = 0.5) -> ToyResult:
    """Move the lecture's ``x`` by ``eps`` per coordinate along ``sign(w)``.

    This is FGSM on a linear model: the gradient of the score ``w . x`` w.r.t. ``x`` is
    ``w``, so the Linf-bounded step that raises the score most is ``eps * sign(w)``, and it
    raises it by exactly ``eps * ||w||_1``. No clipping: the toy has no pixel range.
    """
    eps = check_nonnegative(eps, "eps")
    x = torch.tensor(TOY_X, dtype=torch.float64)
    w = torch.tensor(TOY_W, dtype=torch.float64)
    x_adv = x + eps * w.sign()
    score, score_adv = float(w @ x), float(w @ x_adv)
    return ToyResult(
        x=x, w=w, x_adv=x_adv, eps=eps, score=score, score_adv=score_adv,
        p=float(torch.sigmoid(torch.tensor(score, dtype=torch.float64))),
        p_adv=float(torch.sigmoid(torch.tensor(score_adv, dtype=torch.float64))),
    )


def toy_table(result: ToyResult) -> str:
    """A plain-text table of the toy (what ``auditbench toy`` prints)."""
    lines = [f"{'i':>2}  {'x':>6}  {'w':>6}  {'x_adv':>6}"]
    lines += [
        f"{r['i']:>2}  {r['x']:>6.2f}  {r['w']:>6.2f}  {r['x_adv']:>6.2f}" for r in result.rows()
    ]
    lines.append(
        f"w.x = {result.score:.4g}, p(class 1) = {result.p:.4f};  "
        f"w.x_adv = {result.score_adv:.4g}, p(class 1) = {result.p_adv:.4f}  "
        f"(eps = {result.eps:g} per coordinate)"
    )
    return "\n".join(lines)

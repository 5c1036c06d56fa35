"""Square Attack (Andriushchenko, Croce, Flammarion and Hein 2020, "Square Attack: a
query-efficient black-box adversarial attack via random search").

A score-based attack: it reads the model's outputs only, never a gradient, so it also breaks
models whose gradients are useless (inputs rounded or quantised inside ``forward``, an argmax
or thermometer encoding, a ``.detach()``). Random search: each step changes one square
window of the current best perturbation and keeps the change only where the loss falls.

- L∞ (Algorithm 2): start from vertical stripes, each column and channel at ``+eps`` or
  ``-eps``; a step sets a random ``s x s`` window of every channel to ``x +- eps`` (a sign
  per channel), so the perturbation stays at a vertex of the ball.
- L2 (Algorithm 3): start from a grid of ``5 x 5`` tiles of the paper's pattern (two halves
  of concentric rectangles of opposite sign) with random signs, scaled to ``eps``; a step
  moves the perturbation's mass from a random window ``W2`` into a random window ``W1``
  (with a new pattern there), which keeps ``||delta||_2 = eps`` before the box clip.

The square's side is ``sqrt(p * H * W)`` with ``p`` halved at the paper's iterations 10, 50,
200, 500, 1000, 2000, 4000, 6000 and 8000 of 10,000, rescaled to the query budget as the
authors' code does.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from attacks.common import Loss, Norm, attack_objective, check_attack_inputs, fooled, logits_of
from attacks.registry import register
from zoo.checks import check_generator
from zoo.params import Fraction, Iterations, NonNegative, PositiveInt

#: the iterations, of the paper's 10,000, after which ``p`` is halved
CHECKPOINTS = (10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000)
PAPER_QUERIES = 10_000
L2_TILES = 5  # the L2 start: a grid of 5 x 5 tiles
_RESAMPLES = 10  # L∞: new signs drawn at most this often for a step that would change nothing
_TINY = 1e-12


def square_fraction(p_init: float, i: int, queries: int) -> float:
    """``p`` at step ``i`` (0-based) of a run with a budget of ``queries``: ``p_init`` halved
    once per checkpoint passed, the checkpoints rescaled from 10,000 queries to ``queries``."""
    it = int(i * PAPER_QUERIES / queries)
    return p_init / 2 ** sum(it > c for c in CHECKPOINTS)


def objective(logits: torch.Tensor, y: torch.Tensor, loss: str, targeted: bool) -> torch.Tensor:
    """The loss the search lowers, per example: minus the gradient attacks' objective
    (``attacks.common.attack_objective``). The margin ``z_y - max_{k != y} z_k`` (or
    ``max_{k != t} z_k - z_t`` to a target ``t``), or cross-entropy (raised for the true
    class, lowered for a target)."""
    return -attack_objective(logits, y, targeted, loss)


def rectangles(rows: int, cols: int, device: torch.device | None = None) -> torch.Tensor:
    """A ``rows x cols`` block of concentric rectangles around its centre
    ``(rows // 2, cols // 2)``, unit L2 norm: the rectangle of half-size ``k`` adds
    ``1 / (k + 1)^2``, so a pixel at Chebyshev distance ``d`` from the centre holds
    ``sum_{k >= d} 1 / (k + 1)^2`` (a peak that falls off like a Gaussian)."""
    out = torch.zeros(rows, cols, device=device)
    if rows == 0 or cols == 0:
        return out
    terms = 1.0 / torch.arange(1, max(rows, cols) // 2 + 2, device=device, dtype=out.dtype) ** 2
    tail = terms.flip(0).cumsum(0).flip(0)  # tail[d] = sum_{k >= d} terms[k]
    di = (torch.arange(rows, device=device) - rows // 2).abs()
    dj = (torch.arange(cols, device=device) - cols // 2).abs()
    out = tail[torch.maximum(di[:, None], dj[None, :])]
    return out / out.norm()


def pattern(s: int, device: torch.device | None = None) -> torch.Tensor:
    """The paper's ``s x s`` L2 update: rectangles on the top half, minus rectangles on the
    bottom half, unit L2 norm (turned by 90 degrees at random by the caller)."""
    out = torch.cat([rectangles(s // 2, s, device), -rectangles(s - s // 2, s, device)])
    return out / out.norm()


class _Draws:
    """The random draws of one call, all from ``generator`` (the global generator if None)."""

    def __init__(self, generator: torch.Generator | None, x: torch.Tensor) -> None:
        self.g, self.device, self.dtype = generator, x.device, x.dtype

    def signs(self, *shape: int) -> torch.Tensor:
        bits = torch.randint(0, 2, shape, generator=self.g, device=self.device)
        return (2 * bits - 1).to(self.dtype)

    def ints(self, high: int, n: int) -> torch.Tensor:
        """``n`` integers uniform in ``[0, high]``."""
        return torch.randint(0, high + 1, (n,), generator=self.g, device=self.device)

    def coins(self, n: int) -> torch.Tensor:
        return torch.randint(0, 2, (n,), generator=self.g, device=self.device).bool()

    def patterns(self, s: int, n: int) -> torch.Tensor:
        """``(n, 1, s, s)``: the pattern, each example's turned or not."""
        base = pattern(s, self.device).to(self.dtype)
        return torch.where(self.coins(n).view(n, 1, 1), base.T, base).unsqueeze(1)


def _window(n: int, h: int, w: int, s: int, draws: _Draws, device: torch.device
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random ``s x s`` window per example, anywhere inside the image: its mask
    ``(n, 1, h, w)`` and the row and column indices it covers, ``(n, s)`` each."""
    rows = draws.ints(h - s, n)[:, None] + torch.arange(s, device=device)
    cols = draws.ints(w - s, n)[:, None] + torch.arange(s, device=device)
    in_rows = torch.zeros(n, h, dtype=torch.bool, device=device).scatter_(1, rows, True)
    in_cols = torch.zeros(n, w, dtype=torch.bool, device=device).scatter_(1, cols, True)
    return in_rows[:, None, :, None] & in_cols[:, None, None, :], rows, cols


def _l2_norm(t: torch.Tensor, dims: tuple[int, ...] = (1, 2, 3)) -> torch.Tensor:
    return t.pow(2).sum(dim=dims, keepdim=True).sqrt()


def _linf_init(x: torch.Tensor, eps: float, draws: _Draws) -> torch.Tensor:
    n, c, _, w = x.shape
    return (x + eps * draws.signs(n, c, 1, w)).clamp(0.0, 1.0)


def _linf_step(x: torch.Tensor, best: torch.Tensor, eps: float, p: float,
               draws: _Draws) -> torch.Tensor:
    """Every channel of a random ``s x s`` window set to ``x +- eps``, ``s`` covering a
    fraction ``p`` of the image. Signs that would leave the window exactly as it is are
    drawn again (the query would be wasted), as in the authors' code."""
    n, c, h, w = x.shape
    s = min(max(round(math.sqrt(p * h * w)), 1), h, w)
    mask, _, _ = _window(n, h, w, s, draws, x.device)
    signs = draws.signs(n, c, 1, 1)
    for _ in range(_RESAMPLES):
        vertex = (x + eps * signs).clamp(0.0, 1.0)
        same = ~(((vertex - best).abs() > 1e-7) & mask).flatten(1).any(dim=1)
        if not bool(same.any()):
            break
        signs = torch.where(same.view(n, 1, 1, 1), draws.signs(n, c, 1, 1), signs)
    return torch.where(mask, (x + eps * signs).clamp(0.0, 1.0), best)


def _to_eps(x: torch.Tensor, delta: torch.Tensor, eps: float) -> torch.Tensor:
    return (x + delta * (eps / (_l2_norm(delta) + _TINY))).clamp(0.0, 1.0)


def _l2_init(x: torch.Tensor, eps: float, draws: _Draws) -> torch.Tensor:
    n, c, h, w = x.shape
    s = max(min(h, w) // L2_TILES, 1)
    tiles_h, tiles_w = min(L2_TILES, h // s), min(L2_TILES, w // s)
    top, left = (h - tiles_h * s) // 2, (w - tiles_w * s) // 2
    delta = torch.zeros_like(x)
    for i in range(tiles_h):
        for j in range(tiles_w):
            r, q = top + i * s, left + j * s
            delta[:, :, r : r + s, q : q + s] = draws.patterns(s, n) * draws.signs(n, c, 1, 1)
    return _to_eps(x, delta, eps)


def _l2_step(x: torch.Tensor, best: torch.Tensor, eps: float, p: float,
             draws: _Draws) -> torch.Tensor:
    """The paper's L2 update: a new pattern (plus the old content, renormalised) in window
    ``W1``, window ``W2`` emptied, and per channel the norm of ``W1`` set so that the whole
    perturbation keeps its norm, with what the box clip took off (``eps^2 - ||delta||^2``)
    given back; then ``delta`` is rescaled to ``eps`` and clipped to the box."""
    n, c, h, w = x.shape
    s = max(round(math.sqrt(p * h * w)), 3)
    s = min(s + 1 if s % 2 == 0 else s, h, w)
    delta = best - x
    m1, rows, cols = _window(n, h, w, s, draws, x.device)
    m2, _, _ = _window(n, h, w, s, draws, x.device)
    at = (torch.arange(n, device=x.device).view(n, 1, 1, 1),
          torch.arange(c, device=x.device).view(1, c, 1, 1),
          rows.view(n, 1, s, 1), cols.view(n, 1, 1, s))
    old = delta[at]  # (n, c, s, s): W1's content
    room = (eps**2 - _l2_norm(delta).pow(2)).clamp(min=0.0) / c
    union = _l2_norm(delta * (m1 | m2), (2, 3)).pow(2)  # per channel, on W1 and W2
    new = draws.patterns(s, n) * draws.signs(n, c, 1, 1) + old / (_l2_norm(old, (2, 3)) + _TINY)
    new = new / (_l2_norm(new, (2, 3)) + _TINY) * (room + union).sqrt()
    delta = delta.masked_fill(m2, 0.0)
    delta[at] = new
    return _to_eps(x, delta, eps)


@register("square", paper="Andriushchenko et al. 2020", access="scores")
def square(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    eps: NonNegative,
    norm: Norm = "linf",
    queries: Iterations = 5000,
    p_init: Fraction = 0.8,
    restarts: PositiveInt = 1,
    loss: Loss | None = None,
    targeted: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Square Attack with ``restarts`` runs of at most ``queries`` model evaluations per
    example each; no gradients (it runs under ``torch.no_grad``).

    - ``p_init``: the fraction of the image the first squares cover (0.8, the paper's and
      AutoAttack's value for both norms); halved on the paper's schedule (module doc).
    - ``loss``: what the search lowers; ``None`` is the authors' choice, the margin loss
      untargeted and cross-entropy to the target when ``targeted`` (``y`` then holds the
      targets). A step is kept only where the loss falls (or the goal is met).
    - Cost: the first evaluation is of the clean images; an example the model already gets
      wrong (or already puts in its target class) is done after it and returned unchanged.
      Every other example costs one evaluation for the start, then one per step until the
      goal is met or the run's budget is spent: at most ``queries`` evaluations per
      example per run (the clean one counts in the first run's), images of the batch
      that are done are no longer sent. ``robust_accuracy`` reports them, with its own
      checks, as ``forward_passes``.
    - Later runs start afresh, only for the examples no run has fooled. Per example the
      result is the point that met the goal, else the lowest-loss point of any run.

    Differences from the authors' code: the squares' positions are drawn per example and
    anywhere in the image (the code never places a square on the last row or column); the
    L2 start is a grid of at most 5 x 5 whole tiles (the code's grid overruns images whose
    side is not close to a multiple of five); the goal is the model's argmax, as for the
    other attacks.

    Shape:
        - x: ``(N, C, H, W)`` in ``[0, 1]``; y: ``(N,)``; returns ``(N, C, H, W)``.
    """
    model, x, y = check_attack_inputs(model, x, y, "square")
    generator = check_generator(generator, x)
    if eps == 0:
        return x.detach().clone()
    loss = loss or ("ce" if targeted else "margin")
    init, step = (_linf_init, _linf_step) if norm == "linf" else (_l2_init, _l2_step)
    draws = _Draws(generator, x)
    n = x.shape[0]
    x = x.detach()

    with torch.no_grad():
        done = fooled(logits_of(model, x, y), y, targeted)  # the first query: the clean images
        out = x.clone()
        out_loss = torch.full((n,), torch.inf, dtype=x.dtype, device=x.device)
        for run in range(restarts):
            budget = queries - 1 if run == 0 else queries
            todo = torch.nonzero(~done).flatten()
            if budget < 1 or todo.numel() == 0:
                continue
            xs, ys = x[todo], y[todo]
            best = init(xs, eps, draws)
            logits = logits_of(model, best, ys, check=False)
            best_loss = objective(logits, ys, loss, targeted)
            hit = fooled(logits, ys, targeted)
            active = torch.nonzero(~hit).flatten()
            for i in range(budget - 1):
                if active.numel() == 0:
                    break
                p = square_fraction(p_init, i, queries)
                x_new = step(xs[active], best[active], eps, p, draws)
                logits = logits_of(model, x_new, ys[active], check=False)
                new_loss = objective(logits, ys[active], loss, targeted)
                now = fooled(logits, ys[active], targeted)
                keep = now | (new_loss < best_loss[active])
                best[active[keep]] = x_new[keep]
                best_loss[active[keep]] = new_loss[keep]
                hit[active[now]] = True
                active = active[~now]
            # a point that met the goal wins; otherwise the run with the lower loss
            best_loss = best_loss.masked_fill(hit, -torch.inf)
            take = best_loss < out_loss[todo]
            out[todo[take]] = best[take]
            out_loss[todo[take]] = best_loss[take]
            done[todo[hit]] = True
    return out

"""Robust accuracy: the fast path (reuse) gives exactly the slow path's cumulative numbers
for deterministic attacks, for fewer gradient passes; and adversarial training shows."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from attacks import RobustAccuracy, robust_accuracy

N = 200
GRID = [0.1, 0.2, 0.3]

DETERMINISTIC = {
    "fgsm": {},
    "bim": dict(steps=5, rel_alpha=0.25),
    "pgd": dict(steps=5, rel_alpha=0.25, random_start=False),
}


@pytest.mark.parametrize("attack", list(DETERMINISTIC))
def test_fast_path_equals_slow_path(cnn, mnist, attack) -> None:
    x, y = mnist[0][:N], mnist[1][:N]
    kw: dict[str, Any] = DETERMINISTIC[attack]
    fast = robust_accuracy(cnn, x, y, attack=attack, eps=GRID, reuse=True, warm_start=False,
                           **kw)
    slow = robust_accuracy(cnn, x, y, attack=attack, eps=GRID, reuse=False, **kw)
    assert fast.eps == slow.eps == tuple(GRID)
    assert fast.accuracy == slow.accuracy
    assert torch.equal(fast.fooled_at, slow.fooled_at)
    assert torch.equal(fast.clean_correct, slow.clean_correct)
    assert fast.clean_accuracy == slow.clean_accuracy > 0.95
    assert fast.raw_accuracy is None and slow.raw_accuracy is not None
    # cumulative accuracy is the raw accuracy made monotone, never above it
    for acc, raw in zip(slow.accuracy, slow.raw_accuracy, strict=True):
        assert acc <= raw
    assert list(slow.accuracy) == sorted(slow.accuracy, reverse=True)
    assert slow.accuracy[-1] < 0.5  # the attack does something at eps 0.3
    # the slow path attacks every image at every eps: exactly this many passes
    steps = kw.get("steps", 1)
    assert slow.gradient_passes == N * len(GRID) * steps
    # measured (these 200 images): fgsm 384 vs 600, bim and pgd 1543 vs 3000 (1.3 s vs
    # 2.8 s on one thread); with 6 budgets 0.05..0.3 and 10 steps, 4444 vs 12000 (4.0 s vs
    # 11.0 s)
    assert fast.gradient_passes < 0.7 * slow.gradient_passes
    assert fast.seconds > 0 and slow.seconds > 0


@pytest.mark.parametrize("attack", ["bim", "pgd"])
def test_warm_start_is_at_least_as_strong_for_fewer_passes(cnn, cnn_at, mnist,
                                                           attack) -> None:
    # measured on these 200 digits (BIM and PGD-5 without random start agree): mnist_cnn_at
    # at eps 0.3 0.905 cold vs 0.865 warm (5813 vs 5736 gradient passes); mnist_cnn 2935 vs
    # 2392 passes, 0.26 vs 0.225 at eps 0.15
    x, y = mnist[0][:N], mnist[1][:N]
    grid = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3]
    kw: dict[str, Any] = DETERMINISTIC[attack]
    for model in (cnn, cnn_at):
        cold = robust_accuracy(model, x, y, attack=attack, eps=grid, warm_start=False, **kw)
        warm = robust_accuracy(model, x, y, attack=attack, eps=grid, warm_start=True, **kw)
        assert cold.clean_accuracy == warm.clean_accuracy
        assert all(w <= c for w, c in zip(warm.accuracy, cold.accuracy, strict=True)), (
            warm.accuracy, cold.accuracy)
        assert warm.gradient_passes <= cold.gradient_passes


def test_warm_start_needs_an_attack_that_takes_a_start(cnn, mnist) -> None:
    x, y = mnist[0][:32], mnist[1][:32]
    # FGSM has no x_init: warm_start changes nothing
    a = robust_accuracy(cnn, x, y, attack="fgsm", eps=GRID, warm_start=True)
    b = robust_accuracy(cnn, x, y, attack="fgsm", eps=GRID, warm_start=False)
    assert a.accuracy == b.accuracy
    with pytest.raises(ValueError, match="warm_start"):
        robust_accuracy(cnn, x, y, attack="fgsm", eps=GRID, warm_start="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="x_init"):
        robust_accuracy(cnn, x, y, attack="pgd", eps=GRID, steps=2, rel_alpha=0.5, x_init=x)


def test_robust_mask_and_fooled_at_encoding(cnn, mnist) -> None:
    x, y = mnist[0][:N], mnist[1][:N]
    r = robust_accuracy(cnn, x, y, attack="fgsm", eps=[0.2, 0.0, 0.1])
    assert isinstance(r, RobustAccuracy) and r.eps == (0.0, 0.1, 0.2)  # sorted
    assert r.accuracy[0] == r.clean_accuracy  # eps 0 fools nobody
    for k, acc in enumerate(r.accuracy):
        assert float(r.robust(k).float().mean()) == pytest.approx(acc)
    assert r.fooled_at.dtype == torch.int64 and r.fooled_at.shape == (N,)
    assert bool((r.fooled_at[~r.clean_correct] == -1).all())  # never attacked
    assert int(r.fooled_at.max()) <= 2 and 0 not in r.fooled_at.tolist()
    # FGSM: one gradient pass per clean-correct image not yet fooled, per eps > 0 (at eps 0
    # the attack returns x without a pass)
    attacked = sum(int((r.clean_correct & ((r.fooled_at < 0) | (r.fooled_at >= k))).sum())
                   for k in (1, 2))
    assert r.gradient_passes == attacked


def test_random_attack_with_generator_is_reproducible(cnn, mnist) -> None:
    x, y = mnist[0][:64], mnist[1][:64]
    kw = dict(attack="pgd", eps=[0.1, 0.2], steps=3, rel_alpha=0.5)
    a = robust_accuracy(cnn, x, y, generator=torch.Generator().manual_seed(1), **kw)
    b = robust_accuracy(cnn, x, y, generator=torch.Generator().manual_seed(1), **kw)
    assert a.accuracy == b.accuracy and torch.equal(a.fooled_at, b.fooled_at)


def test_apgd_early_stop_saves_passes_and_l2_works(cnn, mnist) -> None:
    x, y = mnist[0][:64], mnist[1][:64]
    kw = dict(attack="apgd", eps=[1.0, 2.0], norm="l2", steps=5)
    fast = robust_accuracy(cnn, x, y, generator=torch.Generator().manual_seed(0), **kw)
    slow = robust_accuracy(cnn, x, y, generator=torch.Generator().manual_seed(0), reuse=False,
                           **kw)
    assert slow.gradient_passes == 64 * 2 * 6  # steps + 1 per run
    assert fast.gradient_passes < slow.gradient_passes
    assert fast.accuracy[-1] < fast.clean_accuracy


def test_training_mode_warns_once_and_is_kept(mnist) -> None:
    import zoo

    model = zoo.load_model("mnist_cnn").train()
    with pytest.warns(RuntimeWarning, match="training mode") as record:
        robust_accuracy(model, mnist[0][:8], mnist[1][:8], attack="bim", eps=[0.1, 0.2],
                        steps=1, alpha=0.1, batch_size=2)
    assert len([w for w in record if "training mode" in str(w.message)]) == 1
    assert all(m.training for m in model.modules())


def test_adversarial_training_shows(cnn, cnn_at, mnist) -> None:
    """PGD-20 (random start, step 2.5 eps / 20) at Linf 0.3 on 200 test images.

    Measured: natural mnist_cnn 0.0 (clean 0.96), mnist_cnn_at 0.83 (clean 0.965).
    Asserted margin: 0.6.
    """
    x, y = mnist[0][:N], mnist[1][:N]
    kw = dict(attack="pgd", eps=[0.3], steps=20, rel_alpha=2.5 / 20)
    natural = robust_accuracy(cnn, x, y, generator=torch.Generator().manual_seed(0), **kw)
    robust = robust_accuracy(cnn_at, x, y, generator=torch.Generator().manual_seed(0), **kw)
    assert natural.accuracy[0] <= 0.05
    assert robust.accuracy[0] >= natural.accuracy[0] + 0.6
    assert robust.clean_accuracy >= 0.9

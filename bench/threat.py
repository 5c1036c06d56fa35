"""The standard budgets of a model's threat model, the eps at which the audit card reports
robust accuracy: the conventions of the robustness literature by kind of data."""

from __future__ import annotations

from bench.definitions import ModelDef

MNIST = ({"linf": 0.3, "l2": 2.0}, "MNIST convention (Linf 0.3: Madry et al. 2018; L2 2.0)")
SMALL = ({"linf": 8 / 255, "l2": 0.5}, "CIFAR-10 convention for images up to 64 px "
                                       "(RobustBench: Linf 8/255, L2 0.5)")
LARGE = ({"linf": 4 / 255, "l2": 3.0}, "ImageNet convention for images over 64 px "
                                       "(RobustBench: Linf 4/255; L2 3.0)")


def standard_eps(
    dataset: str, input_shape: tuple[int, int, int], definition: ModelDef | None = None
) -> tuple[dict[str, float], str]:
    """``({"linf": eps, "l2": eps}, where the numbers come from)`` for one model.

    MNIST-like data (the shipped digits, or any one-channel model at 28 px) gets MNIST's
    budgets; other images get CIFAR-10's up to 64 px and ImageNet's above. A suite's
    ``eps_linf`` / ``eps_l2`` in ``[models.NAME]`` override either.
    """
    channels, height, width = input_shape
    if dataset == "mnist5k" or (channels == 1 and max(height, width) <= 28):
        eps, source = MNIST
    elif max(height, width) <= 64:
        eps, source = SMALL
    else:
        eps, source = LARGE
    eps = dict(eps)
    if definition is not None:
        given = {k: v for k, v in (("linf", definition.eps_linf), ("l2", definition.eps_l2))
                 if v is not None}
        if given:
            eps.update(given)
            source = f"set in the suite ({', '.join(given)}); otherwise {source}"
    return eps, source

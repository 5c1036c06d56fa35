"""Class model visualisation (Simonyan, Vedaldi and Zisserman 2014, "Deep Inside
Convolutional Networks"): the image that maximises one class's raw score under an L2
penalty, found by gradient ascent from the neutral ("zero") image. Yosinski et al. 2015's
regularisers (``generative.regularisers``) switch on through ``regularisers=``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from generative.activation_max import maximise, prepare
from generative.common import check_classes, check_method_model
from generative.registry import register
from generative.regularisers import Regulariser
from generative.result import GenResult
from zoo.params import Iterations, NonNegative, Positive


@register("class_model", paper="Simonyan et al. 2014", inputs="class")
def class_model(
    model: nn.Module,
    target: int | Sequence[int] | torch.Tensor,
    *,
    steps: Iterations = 100,
    lr: Positive = 0.02,
    l2: NonNegative = 1e-3,
    regularisers: Sequence[Regulariser] = (),
    shape: tuple[int, int, int] | None = None,
    init: torch.Tensor | None = None,
    noise: NonNegative = 0.05,
    optimizer: Literal["adam", "sgd"] = "adam",
    generator: torch.Generator | None = None,
) -> GenResult:
    """Maximise ``S_c(x) - l2 ||x - centre||^2`` for each class ``c`` in ``target``, one image
    per class; ``S_c`` is the raw logit (not the softmax, as in the paper) and ``centre`` the
    model's neutral image (its normalisation mean, the paper's zero image in pixel space).

    The objective minimised is the terms ``score = -sum_i S_{c_i}(x_i)`` and
    ``l2 = l2 * sum_i ||x_i - centre||^2``. ``optimizer="sgd"`` is normalised gradient ascent:
    each image's gradient is divided by its RMS, so ``lr`` is in pixel units per step
    whatever the scale of the logits; ``"adam"`` (the default) is plain Adam with ``lr``.
    Measured on the shipped models (100 steps): both make every class model read as its
    class on mnist_cnn, but normalised steps of 0.05 overshoot on shapes_cnn from a noisy
    start (the score falls for the first steps of 2 of its 4 classes), while Adam at 0.02
    rises from the first step for all 4 and reaches higher scores. The start is
    ``init`` when given, else the neutral image plus ``noise * randn`` from ``generator``.
    The paper starts from the zero image itself (``noise=0``), but a ReLU network whose
    first-layer units are all off at the mean image (the shipped ``shapes_cnn`` is one) has an
    exactly zero gradient there and never moves; the default 0.05 breaks that tie.
    Jitter offsets come from ``generator`` too, so a seeded generator repeats a run exactly.

    Shape:
        - target: an int or ``(N,)`` class indices; init: ``(N, C, H, W)`` or
          ``(1, C, H, W)`` in ``[0, 1]``; ``shape`` ``(C, H, W)`` defaults to the model's
          ``input_shape``.
        - returns a ``GenResult`` whose image is ``(N, C, H, W)`` in ``[0, 1]``.
    """
    model = check_method_model(model, "class_model")
    targets = check_classes(model, target)  # (N,)
    setup = prepare(model, len(targets), method="class_model", steps=steps, lr=lr, l2=l2,
                    regularisers=regularisers, shape=shape, init=init, noise=noise,
                    optimizer=optimizer, generator=generator)
    setup.settings["targets"] = targets.tolist()
    index = targets.to(setup.x0.device).view(-1, 1)  # (N, 1)

    def score(x: torch.Tensor) -> torch.Tensor:
        return model(x).gather(1, index).sum()

    return maximise(model, setup, "score", score)

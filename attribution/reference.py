"""Captum, run with the same settings as our methods: the reference the tests (and later the
benchmarks) compare against. Never wrapped as one of our methods.

Each function has the signature of our method of the same name and leaves the model exactly
as found: Captum registers hooks on the model (and ``requires_grad`` on its input), so it is
given a copy of ``x``, its warnings are silenced, and any hook it leaves is removed.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from captum.attr import (
    Deconvolution,
    GuidedBackprop,
    IntegratedGradients,
    LayerGradCam,
    NeuronDeconvolution,
    NeuronGuidedBackprop,
    NoiseTunnel,
    Occlusion,
    Saliency,
)
from torch import nn

from zoo.checks import check_window
from zoo.guard import HOOK_DICTS, buffers_kept
from zoo.hooks import get_layer


@contextmanager
def _as_found(model: nn.Module) -> Iterator[None]:
    """Remove whatever hooks Captum leaves, restore every training flag and buffer, in
    ``finally``."""
    before = {id(m): {d: set(getattr(m, d, {})) for d in HOOK_DICTS} for m in model.modules()}
    training = [(m, m.training) for m in model.modules()]
    try:
        with warnings.catch_warnings(), buffers_kept(model):
            warnings.simplefilter("ignore")  # Captum's "Setting backward hooks on ReLU..."
            yield
    finally:
        for m in model.modules():
            for d in HOOK_DICTS:
                hooks = getattr(m, d, None)
                if hooks is None:
                    continue
                for key in set(hooks) - before.get(id(m), {}).get(d, set()):
                    del hooks[key]
        for m, flag in training:
            m.training = flag


def _target(target: int | torch.Tensor) -> int | list[int]:
    return target if isinstance(target, int) else target.tolist()


def saliency(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
    """Captum's ``Saliency(abs=False)``: our ``saliency``."""
    with _as_found(model):
        return Saliency(model).attribute(x.clone(), target=_target(target), abs=False).detach()


def saliency_abs(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor) -> torch.Tensor:
    """Captum's default ``Saliency`` (``abs=True``): ``|saliency|``; its channel-max is our
    ``saliency_map``."""
    with _as_found(model):
        return Saliency(model).attribute(x.clone(), target=_target(target)).detach()


def _neuron_selector(neuron: int | tuple[int, ...]) -> tuple[int, ...] | Callable:
    if isinstance(neuron, tuple):
        return neuron
    return lambda out: out[:, neuron].reshape(out.shape[0], -1).sum(dim=1)


def _relu_rule(plain: type, per_neuron: type, model: nn.Module, x: torch.Tensor,
               target: int | torch.Tensor | None, layer: str | None,
               neuron: int | tuple[int, ...] | None) -> torch.Tensor:
    with _as_found(model):
        if layer is None:
            out = plain(model).attribute(x.clone(), target=_target(target))
        else:
            out = per_neuron(model, get_layer(model, layer)).attribute(
                x.clone(), neuron_selector=_neuron_selector(neuron))
        return out.detach()


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor | None, *,
                    layer: str | None = None,
                    neuron: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Captum's ``GuidedBackprop``, or ``NeuronGuidedBackprop`` when a layer is given."""
    return _relu_rule(GuidedBackprop, NeuronGuidedBackprop, model, x, target, layer, neuron)


def deconvnet(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor | None, *,
              layer: str | None = None,
              neuron: int | tuple[int, ...] | None = None) -> torch.Tensor:
    """Captum's ``Deconvolution``, or ``NeuronDeconvolution`` when a layer is given."""
    return _relu_rule(Deconvolution, NeuronDeconvolution, model, x, target, layer, neuron)


def occlusion(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, *,
              window: int | tuple[int, ...], stride: int | tuple[int, ...],
              baseline: float | torch.Tensor = 0.0, batch_size: int = 64) -> torch.Tensor:
    """Captum's ``Occlusion`` with ``window`` and ``stride`` as ``(c, h, w)``; ``batch_size``
    becomes ``perturbations_per_eval`` (windows per forward pass)."""
    window, stride = check_window(window, stride, tuple(x.shape[1:]), cover=True)
    with _as_found(model):
        return Occlusion(model).attribute(
            x.clone(), target=_target(target), sliding_window_shapes=window, strides=stride,
            baselines=baseline, perturbations_per_eval=max(1, batch_size // x.shape[0]),
        ).detach()


def smoothgrad(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, *,
               samples: int, sigma: float,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Captum's ``NoiseTunnel(Saliency)`` smoothgrad with ``abs=False``.

    Captum draws from the global RNG; inside ``fork_rng`` that RNG is put in ``generator``'s
    state, so Captum's noise is exactly the draw our ``smoothgrad`` makes from ``generator``
    (``generator`` itself is not advanced).
    """
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), _as_found(model):
        if generator is not None:
            if x.device.type == "cuda":
                torch.cuda.set_rng_state(generator.get_state(), x.device)
            else:
                torch.set_rng_state(generator.get_state())
        return NoiseTunnel(Saliency(model)).attribute(
            x.clone(), nt_type="smoothgrad", nt_samples=samples, stdevs=sigma,
            target=_target(target), abs=False,
        ).detach()


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, *,
                         baseline: float | torch.Tensor = 0.0, steps: int = 50,
                         method: str = "gausslegendre") -> torch.Tensor:
    """Captum's ``IntegratedGradients`` with ``n_steps=steps`` and the same ``method``."""
    with _as_found(model):
        return IntegratedGradients(model).attribute(
            x.clone(), baselines=baseline, target=_target(target), n_steps=steps, method=method,
        ).detach()


def grad_cam(model: nn.Module, x: torch.Tensor, target: int | torch.Tensor, *, layer: str,
             relu: bool = False) -> torch.Tensor:
    """Captum's ``LayerGradCam`` on ``layer``, ``relu_attributions=relu``."""
    with _as_found(model):
        return LayerGradCam(model, get_layer(model, layer)).attribute(
            x.clone(), target=_target(target), relu_attributions=relu,
        ).detach()

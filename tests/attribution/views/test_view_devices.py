"""The views on CUDA agree with the views on CPU (device and dtype come from ``x``)."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
import torch

import zoo
from attribution import views

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture
def exact_cuda() -> Iterator[None]:
    """Full float32 on the GPU: TF32 convolutions differ from the CPU by 1e-3."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_views_agree_across_devices(exact_cuda):
    cpu = zoo.load_model("mnist_cnn")
    gpu = copy.deepcopy(cpu).to("cuda")
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(0)) ** 3
    y = torch.arange(16) % 10
    xg, yg = x.cuda(), y.cuda()
    tol = dict(rtol=1e-4, atol=1e-4)
    before = zoo.ModelState.capture(gpu)

    acts = views.activations(gpu, xg, "net.3")
    assert acts.device.type == "cuda"
    torch.testing.assert_close(acts.cpu(), views.activations(cpu, x, "net.3"), **tol)
    occ = views.occluded_activations(gpu, xg[:1], "net.3", window=8, stride=4)
    torch.testing.assert_close(
        occ.cpu(), views.occluded_activations(cpu, x[:1], "net.3", window=8, stride=4), **tol)
    assert views.receptive_field(gpu, "net.3", (1, 28, 28)) == views.receptive_field(
        cpu, "net.3", (1, 28, 28))
    mp_gpu = views.max_patches(gpu, xg, "net.3", [0, 7], k=4, batch_size=5)
    mp_cpu = views.max_patches(cpu, x, "net.3", [0, 7], k=4, batch_size=5)
    assert mp_gpu.patches.device.type == "cuda"
    torch.testing.assert_close(mp_gpu.values.cpu(), mp_cpu.values, **tol)
    assert torch.equal(mp_gpu.images.cpu(), mp_cpu.images)
    feats = views.penultimate_features(gpu, xg, batch_size=6)
    torch.testing.assert_close(feats.cpu(), views.penultimate_features(cpu, x), **tol)
    idx, _ = views.nearest_neighbours(feats, feats, k=1)
    assert idx[:, 0].tolist() == list(range(16))
    pmap = views.occlusion_probability_map(gpu, xg, yg, window=7, stride=7, batch_size=9)
    torch.testing.assert_close(
        pmap.cpu(), views.occlusion_probability_map(cpu, x, y, window=7, stride=7), **tol)
    assert before.differences(zoo.ModelState.capture(gpu)) == []

"""The model-randomisation sanity check: saliency decorrelates (Adebayo et al.'s finding for
gradients), Guided Backprop and a map that ignores the model do not, so the check can fail;
the caller's model is never touched."""

from __future__ import annotations

import pytest
import torch

import zoo
from attribution.metrics import (
    cascade,
    cascade_similarity,
    model_randomisation,
    passes,
)


def test_stages_go_from_the_output_down(mnist_cnn) -> None:
    # a small CNN's blocks are its layers with weights, as before blocks existed
    assert [b.label for b in cascade(mnist_cnn)] == ["net.9", "net.7", "net.3", "net.0"]
    assert [b.label for b in cascade(mnist_cnn, 2)] == ["net.7-9", "net.0-3"]


def test_a_deep_network_takes_its_residual_blocks_and_every_weight_changes() -> None:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=3).eval()
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    seen: list[dict[str, torch.Tensor]] = []

    def saliency_recording(model, x, target):  # the weights each stage's maps are made with
        seen.append({k: v.detach().clone() for k, v in model.named_parameters()})
        return sobel_free_saliency(model, x, target)

    result = model_randomisation(resnet, x, torch.tensor([0, 1]), saliency_recording,
                                 generator=torch.Generator().manual_seed(0))
    assert result.layers == ("fc", "layer4.1", "layer4.0", "layer3.1", "layer3.0", "layer2.1",
                             "layer2.0", "layer1.1", "layer1.0", "bn1", "conv1")
    trained, stages = seen[0], seen[1:]
    # stage i redraws exactly the parameters of its block, and keeps the earlier stages'
    for i, label in enumerate(result.layers):
        changed = {k for k in trained if not torch.equal(trained[k], stages[i][k])}
        expected = {k for k in trained
                    if any(k.startswith(f"{done}.") for done in result.layers[:i + 1])}
        assert changed == expected, label
    assert len(stages) == 11


def sobel_free_saliency(model, x, target):
    x = x.clone().requires_grad_(True)
    score = model(x).gather(1, target[:, None]).sum()
    return torch.autograd.grad(score, x)[0]


def test_a_lone_parameter_is_a_stage_of_its_own() -> None:
    class Tokens(torch.nn.Module):  # a ViT's class token: a parameter of the model itself
        def __init__(self) -> None:
            super().__init__()
            self.token = torch.nn.Parameter(torch.ones(1, 4))
            self.body = torch.nn.Linear(16, 4)
            self.head = torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.body(x.flatten(1)) + self.token)

    model = Tokens().eval()
    x = torch.rand(3, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    assert [b.label for b in cascade(model)] == ["head", "body", "token"]
    tokens = []

    def record(m, x, target):
        tokens.append(m.token.detach().clone())
        return sobel_free_saliency(m, x, target)

    result = model_randomisation(model, x, torch.tensor([0, 1, 0]), record,
                                 layers=["token", "head"])
    assert result.layers == ("token", "head")
    assert not torch.equal(tokens[1], tokens[0]) and torch.equal(tokens[2], tokens[1])
    assert torch.equal(model.token, torch.ones(1, 4))  # the caller's model untouched


def test_saliency_decorrelates_and_passes(digits, mnist_cnn) -> None:
    x, y = digits
    before = zoo.ModelState.capture(mnist_cnn)
    result = model_randomisation(mnist_cnn, x, y, "saliency",
                                 generator=torch.Generator().manual_seed(0))
    assert before.differences(zoo.ModelState.capture(mnist_cnn)) == []
    assert result.layers == ("net.9", "net.7", "net.3", "net.0")
    # measured: signed rho about 0 from the first stage, |rho| 0.49 -> 0.17, SSIM 0.31 -> 0.05
    assert result.spearman.abs().max() < 0.15
    assert result.spearman_abs[0] < 0.65
    assert result.spearman_abs[-1] < 0.3
    assert result.ssim[-1] < 0.2
    assert cascade_similarity(result) < 0.4
    assert passes(result, threshold=0.5)


def test_guided_backprop_fails_as_in_the_paper(digits, mnist_cnn) -> None:
    x, y = digits
    result = model_randomisation(mnist_cnn, x, y, "guided_backprop",
                                 generator=torch.Generator().manual_seed(0))
    # measured: |rho| 0.86 with the logits randomised, still 0.48 with every layer random;
    # cascade similarity 0.69
    assert result.spearman_abs[0] > 0.7
    assert cascade_similarity(result) > 0.6
    assert not passes(result, threshold=0.5)


def test_a_map_that_ignores_the_model_does_not_change_and_fails(digits, mnist_cnn,
                                                                 sobel) -> None:
    x, y = digits
    result = model_randomisation(mnist_cnn, x, y, sobel,
                                 generator=torch.Generator().manual_seed(0))
    ones = torch.ones(4, dtype=result.spearman.dtype)
    torch.testing.assert_close(result.spearman, ones)
    torch.testing.assert_close(result.spearman_abs, ones)
    torch.testing.assert_close(result.ssim, ones)
    assert not passes(result, threshold=0.5)
    assert not passes(result, threshold=0.99)


def test_same_generator_same_result_and_chosen_layers(digits, mnist_cnn) -> None:
    x, y = digits[0][:6], digits[1][:6]
    runs = [model_randomisation(mnist_cnn, x, y, "saliency", layers=["net.9", "net.7"],
                                generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert runs[0].layers == ("net.9", "net.7")
    torch.testing.assert_close(runs[0].spearman, runs[1].spearman)
    torch.testing.assert_close(runs[0].ssim, runs[1].ssim)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": 3}, "method"),
        ({"layers": ["net.1"]}, "layers"),
        ({"layers": "net.9"}, "layers"),
        ({"layers": []}, "layers"),
        ({"layers": ["net.9"], "max_stages": 2}, "not both"),
        ({"max_stages": 0}, "max_stages"),
        ({"max_stages": True}, "max_stages"),
        ({"generator": 0}, "generator"),
        ({"method_kwargs": [1]}, "method_kwargs"),
        ({"method": "grad_cam"}, "method"),
        ({"target": torch.tensor([0, 1])}, "target"),
    ],
)
def test_bad_input_fails_before_any_work(digits, counting, kwargs, match) -> None:
    x, y = digits[0][:3], digits[1][:3]
    args = {"method": "saliency", "target": y, **kwargs}
    with pytest.raises(ValueError, match=match):
        model_randomisation(counting, x, args.pop("target"), args.pop("method"), **args)
    assert counting.calls == 0


def test_passes_checks_its_arguments(digits, mnist_cnn, sobel) -> None:
    result = model_randomisation(mnist_cnn, digits[0][:2], digits[1][:2], sobel)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="threshold"):
            passes(result, threshold=bad)
    with pytest.raises(ValueError, match="result"):
        passes("result", threshold=0.5)  # type: ignore[arg-type]


def test_caller_model_and_inputs_untouched_on_error_and_in_training(digits, mnist_cnn,
                                                                    sobel) -> None:
    x, y = digits[0][:3].clone(), digits[1][:3].clone()
    x_before, y_before = x.clone(), y.clone()
    calls = []

    def breaks_on_second_call(model, x, target):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return sobel(model, x, target)

    before = zoo.ModelState.capture(mnist_cnn)
    with pytest.raises(RuntimeError, match="boom"):
        model_randomisation(mnist_cnn, x, y, breaks_on_second_call)
    assert before.differences(zoo.ModelState.capture(mnist_cnn)) == []
    assert torch.equal(x, x_before) and torch.equal(y, y_before)

    mnist_cnn.train()
    try:
        with pytest.warns(RuntimeWarning, match="training mode"):
            model_randomisation(mnist_cnn, x, y, sobel)
        assert all(m.training for m in mnist_cnn.modules())
    finally:
        mnist_cnn.eval()

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torchvision
from torch import nn

import zoo
from zoo.layers import accepts_size, cam_layer, conv_activations, layers_for, output_shape


def test_feature_layers_of_shipped_models_are_the_relus_after_convolutions() -> None:
    assert zoo.feature_layers(zoo.load_model("mnist_cnn")) == ["net.1", "net.4"]
    assert zoo.feature_layers(zoo.load_model("shapes_cnn")) == ["net.1", "net.3", "net.6",
                                                                 "net.9"]
    assert zoo.feature_layers(zoo.load_model("mnist_logreg")) == []


def test_feature_layers_of_torchvision_families() -> None:
    vgg = zoo.load_model("tv:vgg11", weights="random")
    assert zoo.feature_layers(vgg)[:3] == ["net.features.1", "net.features.4",
                                           "net.features.7"]
    assert len(zoo.feature_layers(vgg)) == 8  # one per convolution
    resnet = zoo.load_model("tv:resnet18", weights="random")
    assert zoo.feature_layers(resnet) == ["net.relu", "net.layer1", "net.layer2", "net.layer3",
                                          "net.layer4"]


def test_batch_norm_between_conv_and_relu_is_skipped_but_a_pool_breaks_the_pair() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(),
                        nn.Conv2d(2, 2, 3), nn.MaxPool2d(2), nn.ReLU())
    assert zoo.feature_layers(net) == ["2"]
    assert zoo.feature_layers(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh())) == ["0"]


def test_load_photo_is_a_square_crop_in_unit_range() -> None:
    photo = zoo.load_photo("immunohistochemistry", 40)
    assert photo.shape == (3, 40, 40) and photo.dtype == torch.float32
    assert float(photo.min()) >= 0.0 and float(photo.max()) <= 1.0
    assert torch.equal(zoo.load_photo("chelsea", 24), zoo.load_dataset("photos", size=24)[0][0])
    with pytest.raises(KeyError, match="unknown photo .mona_lisa."):
        zoo.load_photo("mona_lisa")
    with pytest.raises(ValueError, match="size"):
        zoo.load_photo("chelsea", 0)


def _classifier(net: nn.Module, shape: tuple[int, int, int]) -> zoo.Classifier:
    return zoo.Classifier(net, mean=(0.5,) * shape[0], std=(0.5,) * shape[0], num_classes=4,
                          input_shape=shape, name="net").eval()


def _seeded(build: Callable[..., nn.Module], **kwargs: object) -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return build(num_classes=4, **kwargs)


def _vit(head: bool = True) -> zoo.Classifier:
    net = _seeded(torchvision.models.VisionTransformer, image_size=32, patch_size=8,
                  num_layers=2, num_heads=2, hidden_dim=32, mlp_dim=64)
    if head:  # torchvision zero-initialises it
        with torch.random.fork_rng():
            torch.manual_seed(1)
            nn.init.normal_(net.heads.head.weight, std=0.5)
    return _classifier(net, (3, 32, 32))


def test_grad_cam_default_layer_is_the_last_spatial_map_the_scores_depend_on() -> None:
    # the shipped models: the ReLU after the last convolution, not the max-pool after it
    assert cam_layer(zoo.load_model("mnist_cnn")) == "net.4"
    assert cam_layer(zoo.load_model("mnist_cnn_at")) == "net.4"
    assert cam_layer(zoo.load_model("shapes_cnn")) == "net.9"  # its pool is 1 x 1
    with pytest.raises(ValueError, match=r"no layer of the model outputs a spatial map"):
        cam_layer(zoo.load_model("mnist_logreg"))
    side = (3, 64, 64)
    vgg = _classifier(_seeded(torchvision.models.vgg11), side)
    assert cam_layer(vgg) == "net.features.19"  # its last ReLU: not the pools after it
    resnet = _classifier(_seeded(torchvision.models.resnet18), side)
    assert cam_layer(resnet) == "net.layer4"  # the last block's output, its ReLU runs twice
    assert output_shape(resnet, "net.layer4") == (512, 2, 2)
    efficientnet = _classifier(_seeded(torchvision.models.efficientnet_b0), side)
    assert cam_layer(efficientnet) == "net.features"  # the last Conv-BN-SiLU's map
    assert output_shape(efficientnet, "net.features") == (1280, 2, 2)
    mobilenet = _classifier(_seeded(torchvision.models.mobilenet_v3_small), side)
    assert cam_layer(mobilenet) == "net.features"
    # a ViT: not the patch embedding (a conv map), not the last block's output (its patch
    # tokens no longer reach the class token), but the last block's first norm
    vit = _vit()
    assert cam_layer(vit) == "net.encoder.layers.encoder_layer_1.ln_1"
    assert output_shape(vit, cam_layer(vit)) == (17, 32)


@pytest.mark.filterwarnings("ignore:`torch.jit.:FutureWarning")
def test_grad_cam_default_layer_says_why_there_is_none() -> None:
    with pytest.raises(ValueError, match="depend on none of the layers"):
        cam_layer(_vit(head=False))  # a zero head: constant scores
    scripted = torch.jit.script(zoo.load_model("mnist_cnn").net)
    with pytest.raises(ValueError, match="TorchScript"):
        cam_layer(_classifier(scripted, (1, 28, 28)))
    bare = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, 2))
    with pytest.raises(ValueError, match="input_shape"):
        cam_layer(bare)
    assert cam_layer(bare, (1, 8, 8)) == "1"


def test_the_probe_leaves_the_model_as_found() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4))
    model = _classifier(net, (1, 8, 8)).train()
    before = zoo.ModelState.capture(model)
    assert cam_layer(model) == "net.2"
    assert output_shape(model, "net.2") == (4, 8, 8)
    assert before.differences(zoo.ModelState.capture(model)) == []


class _Gate(nn.Module):
    """Squeeze and excitation: its 1 x 1 convolutions see a 1 x 1 map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, 2, 1)
        self.expand = nn.Conv2d(2, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.expand(torch.relu(self.reduce(pooled))))


def _silu_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.SiLU(), _Gate(4),
                         nn.Conv2d(4, 4, 3, padding=1), nn.SiLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).eval()


def test_without_relus_the_convolutions_that_output_a_map_are_the_stages() -> None:
    net = _silu_net()
    every_conv = ["0", "2.reduce", "2.expand", "3"]
    assert zoo.feature_layers(net) == every_conv  # no input_shape: no probe
    net.input_shape = (3, 8, 8)
    assert zoo.feature_layers(net) == ["0", "3"]  # not the gate's 1 x 1 maps


def test_a_torchscript_model_has_no_feature_layers() -> None:
    # a traced ResNet keeps its submodules' names (layer1 ... layer4), not their hooks
    resnet = torchvision.models.resnet18(num_classes=2).eval()
    traced = torch.jit.trace(resnet, torch.rand(1, 3, 32, 32))
    assert zoo.feature_layers(traced) == []
    wrapped = nn.Sequential(nn.Identity(), traced)  # a TorchScript part is enough
    assert zoo.feature_layers(wrapped) == []
    with pytest.raises(ValueError, match="a TorchScript model's layers cannot be hooked"):
        layers_for(wrapped)


def test_conv_activations_shallow_to_deep() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.Tanh())
    assert conv_activations(net) == ["1", "2"]


class _OneSize(nn.Module):
    """Asserts its input size, as timm's Vision Transformer does; counts its passes."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(3 * 8 * 8, 2)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        assert x.shape[-1] == 8, f"Input height ({x.shape[-1]}) doesn't match model (8)."
        return self.head(x.flatten(1))


def test_accepts_size_takes_any_refusal_and_probes_once() -> None:
    net = _OneSize()
    assert accepts_size(net, 3, 8) and not accepts_size(net, 3, 16)
    assert not accepts_size(net, 3, 16) and accepts_size(net, 3, 8)
    assert net.calls == 2  # once per (channels, side)
    assert not accepts_size(_OneSize(), 3, 4)  # per model

"""A model cut into a bounded number of named blocks (``zoo.blocks``): the residual blocks of
a ResNet, the stages of an EfficientNet, runs of a MobileNet's features; every parameter in
exactly one block, in forward order, never more blocks than asked."""

from __future__ import annotations

import pytest
from torch import nn

from zoo.blocks import Block, block_modules, blocks

torchvision = pytest.importorskip("torchvision")
timm = pytest.importorskip("timm")


def architectures() -> dict[str, nn.Module]:
    return {
        "resnet18": torchvision.models.resnet18(num_classes=3),
        "efficientnet_b0": timm.create_model("efficientnet_b0", num_classes=3),
        "mobilenet_v3_large": torchvision.models.mobilenet_v3_large(num_classes=3),
        "vit": timm.create_model("vit_tiny_patch16_224", num_classes=3, img_size=32,
                                 patch_size=8, depth=2),
        "inception_v3": torchvision.models.inception_v3(init_weights=False, num_classes=3),
    }


def parameter_names(model: nn.Module, block: Block) -> list[str]:
    names = {id(p): n for n, p in model.named_parameters()}
    found = [names[id(p)] for _, m in block_modules(model, block)
             for p in m.parameters(recurse=False)]
    return found + [m for m in block.members if m in names.values()]


@pytest.fixture(scope="module")
def nets() -> dict[str, nn.Module]:
    return architectures()


@pytest.mark.parametrize("at_most", [1, 3, 12, 40])
@pytest.mark.parametrize("arch", ["resnet18", "efficientnet_b0", "mobilenet_v3_large", "vit",
                                  "inception_v3"])
def test_every_parameter_in_one_block_in_order(nets, arch, at_most) -> None:
    model = nets[arch]
    cut = blocks(model, at_most)
    assert 1 <= len(cut) <= at_most
    assert len({b.label for b in cut}) == len(cut)  # labels tell the blocks apart
    held = [n for b in cut for n in parameter_names(model, b)]
    order = [n for n, _ in model.named_parameters()]
    assert sorted(held) == sorted(order)  # each parameter exactly once
    # blocks follow registration order: each block's parameters come after the previous's
    firsts = [min(order.index(n) for n in parameter_names(model, b)) for b in cut]
    assert firsts == sorted(firsts)


def test_named_as_the_architectures_name_their_parts(nets) -> None:
    assert [b.label for b in blocks(nets["resnet18"])] == [
        "conv1", "bn1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0",
        "layer3.1", "layer4.0", "layer4.1", "fc"]
    effnet = [b.label for b in blocks(nets["efficientnet_b0"])]
    assert effnet[2:9] == [f"blocks.{i}" for i in range(7)]  # its seven stages
    # a ViT's own parameters (class token, position embedding) are blocks of their own
    assert [b.label for b in blocks(nets["vit"])] == [
        "cls_token", "pos_embed", "patch_embed", "blocks.0", "blocks.1", "norm", "head"]
    # 16 features do not fit in 12: runs of consecutive ones, named by their ends
    mobile = [b.label for b in blocks(nets["mobilenet_v3_large"])]
    assert len(mobile) == 12 and "features.0-2" in mobile and mobile[-1] == "classifier"
    inception = [b.label for b in blocks(nets["inception_v3"])]
    assert "Conv2d_1a_3x3-4a_3x3" in inception and "Mixed_6c" in inception
    assert [b.label for b in blocks(nets["resnet18"], 1)] == ["(model)"]


def test_a_wrapper_is_seen_through() -> None:
    wrapped = nn.Sequential(nn.Sequential(nn.Linear(4, 4)), nn.Identity())
    assert blocks(wrapped) == [Block("0.0", ("0.0",))]


@pytest.mark.parametrize(("model", "at_most", "match"), [
    (nn.Linear(2, 2), 0, "at_most"), (nn.Linear(2, 2), True, "at_most"),
    (nn.ReLU(), 3, "no parameters")])
def test_bad_input(model, at_most, match) -> None:
    with pytest.raises(ValueError, match=match):
        blocks(model, at_most)


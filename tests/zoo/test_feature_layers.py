from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo


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
    with pytest.raises(KeyError, match="bundled"):
        zoo.load_photo("mona_lisa")
    with pytest.raises(ValueError, match="size"):
        zoo.load_photo("chelsea", 0)

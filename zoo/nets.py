"""Architectures of the models auditbench trains and ships itself."""

from __future__ import annotations

from torch import nn


def mnist_logreg_net() -> nn.Module:
    """Softmax (multinomial logistic) regression on the 784 raw pixels.

    Shape:
        - input: ``(N, 1, 28, 28)``; output: ``(N, 10)``
    """
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def mnist_cnn_net() -> nn.Module:
    """The standard two-convolution MNIST network (Madry et al. 2018's layout).

    conv 5x5x32 - ReLU - maxpool 2 - conv 5x5x64 - ReLU - maxpool 2 - fc - ReLU - fc 10.
    The hidden fully connected layer has 128 units instead of Madry's 1024, which keeps the
    shipped file under 2 MB at no cost in clean accuracy on MNIST.

    Shape:
        - input: ``(N, 1, 28, 28)``; output: ``(N, 10)``
    """
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 32, 14, 14)
        nn.Conv2d(32, 64, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 64, 7, 7)
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def shapes_cnn_net() -> nn.Module:
    """A small all-convolutional network for the 32x32 ``shapes`` images.

    Four 3x3 convolutions (32, 32, 64, 64 channels) with two max-pools, global average pooling
    and one linear layer. The last convolution (``net.8``, an 8x8 map) is the natural layer
    for Grad-CAM.

    Shape:
        - input: ``(N, 3, 32, 32)``; output: ``(N, 4)``
    """
    return nn.Sequential(
        nn.Conv2d(3, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 32, 16, 16)
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),  # (N, 64, 8, 8)
        nn.Conv2d(64, 64, kernel_size=3, padding=1),
        nn.ReLU(),  # (N, 64, 8, 8)
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 4),
    )

from __future__ import annotations

import torch

from bench.train import CONFIGS, TrainConfig, train


def _weights(cfg: TrainConfig, name: str = "mnist_logreg") -> dict[str, torch.Tensor]:
    model, _ = train(name, cfg, progress=False)
    return model.net.state_dict()


def test_training_is_deterministic_with_its_seed_and_leaves_global_rng_alone() -> None:
    cfg = TrainConfig(epochs=1, lr=1e-3, seed=3)
    state = torch.get_rng_state()
    first, second = _weights(cfg), _weights(cfg)
    assert torch.equal(torch.get_rng_state(), state)
    other = _weights(TrainConfig(epochs=1, lr=1e-3, seed=4))
    for key in first:
        assert torch.equal(first[key], second[key])
    assert not torch.equal(first["1.weight"], other["1.weight"])


def test_adversarial_training_is_deterministic_and_learns() -> None:
    cfg = TrainConfig(epochs=1, lr=1e-2, adv_eps=0.1, adv_steps=2, batch_size=500)
    (a, metrics), (b, _) = (train("mnist_logreg", cfg, progress=False) for _ in range(2))
    assert torch.equal(a.net[1].weight, b.net[1].weight)
    assert metrics["test_accuracy"] > 0.5  # eight steps already beat chance (0.1) by far
    assert not a.training and all(p.grad is None for p in a.parameters())


def test_shipped_configs_cover_every_shipped_model() -> None:
    assert set(CONFIGS) == {"mnist_logreg", "mnist_cnn", "mnist_cnn_at", "shapes_cnn"}
    assert CONFIGS["mnist_cnn_at"].adv_eps == 0.3  # Madry et al.'s MNIST threat model

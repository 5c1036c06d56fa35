"""Training the models auditbench ships: ``auditbench train NAME``.

Deterministic for a given seed: the global RNG is forked for the run (and restored after),
data order comes from a seeded generator, adversarial training draws its random starts from
the same generator, and the run uses one intra-op thread (restored after), because how a
kernel splits a reduction over threads changes the rounding of its sums.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from attacks import pgd
from zoo import build_model, load_dataset, model_spec
from zoo.normalize import Classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int
    lr: float
    batch_size: int = 64
    seed: int = 0
    weight_decay: float = 0.0
    adv_eps: float = 0.0  # > 0: PGD adversarial training (Madry et al. 2018)
    adv_steps: int = 10
    adv_warmup_epochs: int = 0  # eps grows linearly from 0 over these epochs


CONFIGS: dict[str, TrainConfig] = {
    "mnist_logreg": TrainConfig(epochs=40, lr=1e-3, weight_decay=1e-4),
    "mnist_cnn": TrainConfig(epochs=15, lr=1e-3),
    "shapes_cnn": TrainConfig(epochs=12, lr=2e-3),
    # Madry's MNIST threat model, Linf eps 0.3; 10 steps of eps/4 in training (Madry used 40
    # of 0.01); eps ramps up over the first epochs, which small training sets need to start.
    "mnist_cnn_at": TrainConfig(epochs=30, lr=1e-3, adv_eps=0.3, adv_steps=10,
                                adv_warmup_epochs=8),
}


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    with torch.no_grad():
        correct = sum(
            int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
            for i in range(0, len(x), batch)
        )
    return correct / len(x)


def train(
    name: str, config: TrainConfig | None = None, *, progress: bool = True
) -> tuple[Classifier, dict[str, float]]:
    """Train a registered model from scratch; returns the model (eval mode) and its metrics."""
    cfg = config or CONFIGS[model_spec(name).name]
    x, y = load_dataset(model_spec(name).dataset, "train")
    x_test, y_test = load_dataset(model_spec(name).dataset, "test")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            model = build_model(name)
            _fit(model, x, y, cfg, name, progress)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.zero_grad(set_to_none=True)
    metrics = {
        "train_accuracy": accuracy(model, x, y),
        "test_accuracy": accuracy(model, x_test, y_test),
    }
    return model, metrics


def _fit(
    model: Classifier, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, name: str,
    progress: bool,
) -> None:
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for epoch in tqdm(range(cfg.epochs), desc=f"train {name}", disable=not progress):
        eps = cfg.adv_eps * min(1.0, (epoch + 1) / max(cfg.adv_warmup_epochs, 1))
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), cfg.batch_size):
            xb, yb = x[order[i : i + cfg.batch_size]], y[order[i : i + cfg.batch_size]]
            if cfg.adv_eps > 0:
                model.eval()  # attack the model as it will be evaluated
                xb = pgd(model, xb, yb, eps=eps, alpha=eps / 4, steps=cfg.adv_steps,
                         generator=gen)
            model.train()
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        log.info("%s epoch %d eps %.3f loss %.4f", name, epoch, eps, loss.item())


def save(model: Classifier, path: Path) -> None:
    """Write the bare network's state dict (normalisation is rebuilt by the registry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({k: v.detach().cpu().contiguous() for k, v in model.net.state_dict().items()}, tmp)
    tmp.replace(path)


def config_dict(name: str) -> dict[str, object]:
    return asdict(CONFIGS[name])


__all__ = ["CONFIGS", "TrainConfig", "accuracy", "config_dict", "replace", "save", "train"]

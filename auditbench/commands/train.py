"""``auditbench train``: train a shipped model from scratch, deterministically."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any

from auditbench.commands.paths import check_out_file
from auditbench.errors import UsageError


def add_parser(sub: Any) -> None:
    """The ``train`` command's arguments."""
    train = sub.add_parser("train", help="train a shipped model from scratch")
    train.add_argument("name")
    train.add_argument("--out", type=Path, help="weights file (default zoo/weights/NAME.pt)")
    train.add_argument("--seed", type=int, default=0)


def cmd_train(args: argparse.Namespace) -> int:
    from bench.train import CONFIGS, save, train
    from zoo.models import model_spec


    if args.name not in CONFIGS:
        raise UsageError(f"auditbench train: no training config for {args.name!r}; "
                         f"trainable: {', '.join(sorted(CONFIGS))}")
    if not -(2**63) <= args.seed < 2**64:  # what torch.manual_seed takes
        raise UsageError(f"auditbench train: --seed must fit in 64 bits, got {args.seed}")
    config = replace(CONFIGS[args.name], seed=args.seed)
    out = args.out or model_spec(args.name).weights_file
    # before training: a directory, a path under a file or an unwritable place is refused
    # at once, not after the epochs
    check_out_file(out, "--out", "auditbench train")
    model, metrics = train(args.name, config)
    save(model, out)
    print(f"{args.name}: test accuracy {metrics['test_accuracy']:.4f} "
          f"(train {metrics['train_accuracy']:.4f}); weights written to {out}")
    return 0

"""A model cut into a bounded number of named blocks: the stages, residual blocks or layers
that together hold every parameter, in forward (registration) order.

Adebayo et al. (2018) randomise Inception v3 block by block (``Logits``, ``Mixed_7c``, ...,
``Conv2d_1a_3x3``), not tensor by tensor; an EfficientNet-B0 has 131 modules with weights,
and a cascade over each of them costs 131 sets of maps and shows nothing a stage-by-stage
cascade would not. The cut here is structural: it starts from the whole model and replaces
the block holding the most parameter tensors by its children, as long as the number of
blocks stays within the bound. A ResNet-18 cut into at most 12 becomes ``conv1``, ``bn1``,
the eight residual blocks ``layer1.0`` to ``layer4.1`` and ``fc``; a timm EfficientNet-B0
its stem, its seven stages and its head. When the next split would overshoot, the children
of the largest block are grouped into consecutive runs instead (MobileNetV3's 13 ``features``
become runs such as ``features.1-2``), so the bound is met. A parameter a module holds itself
besides its children (a ViT's ``cls_token`` and ``pos_embed``) is a block of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from torch import nn

#: the default bound: Adebayo et al.'s Inception v3 cascade has 17 blocks; 12 keeps a
#: quick audit of a deep network to minutes on a CPU
DEFAULT_BLOCKS = 12


@dataclass(frozen=True)
class Block:
    """One block: its ``label`` and its ``members``, qualified names of modules (the whole
    subtree) or of single parameters, consecutive siblings in registration order."""

    label: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class _Piece:
    name: str
    module: nn.Module | None  # None for a single parameter
    size: int  # parameter tensors in the subtree

    def parts(self) -> list[_Piece]:
        """Its children that hold parameters, after its own parameters (each a piece); none
        for a layer whose parameters are all its own (a convolution is never split)."""
        if self.module is None:
            return []
        children = [_Piece(_join(self.name, child), module, _count(module))
                    for child, module in self.module.named_children()]
        children = [c for c in children if c.size]
        if not children:
            return []
        own = [_Piece(_join(self.name, p), None, 1)
               for p, t in self.module._parameters.items() if t is not None]
        return own + children


def blocks(model: nn.Module, at_most: int = DEFAULT_BLOCKS) -> list[Block]:
    """The model cut into at most ``at_most`` blocks holding all its parameters, in
    registration order (forward order for sequential networks); see the module docstring.

    In rounds, every block of the largest size (in parameter tensors) is replaced by its
    parts, all together so that equal siblings stay alike, while the count stays within
    ``at_most``; a wrapper with one part is seen through when it is split (the whole model
    starts as the deepest module that holds all of its parameters). When the first round
    that does not fit leaves the cut at most half full, the parts of its largest block are
    grouped into runs that fill it. ``ValueError`` when the model has no parameters or
    ``at_most`` is not a positive int."""
    if isinstance(at_most, bool) or not isinstance(at_most, int) or at_most < 1:
        raise ValueError(f"at_most must be a positive int, got {at_most!r}")
    total = _count(model)
    if not total:
        raise ValueError("the model has no parameters to cut into blocks")
    cut: list[list[_Piece]] = [[_through(_Piece("", model, total))]]
    while True:
        parts = {i: _parts(group[0]) for i, group in enumerate(cut) if len(group) == 1}
        parts = {i: p for i, p in parts.items() if p}
        if not parts:
            break
        largest = max(_size(cut[i]) for i in parts)
        chosen = [i for i in parts if _size(cut[i]) == largest]
        if len(cut) + sum(len(parts[i]) - 1 for i in chosen) > at_most:
            room = at_most - len(cut) + 1
            if len(cut) <= at_most // 2 and room >= 2:
                i = chosen[0]
                cut[i:i + 1] = _runs(parts[i], room)
            break
        for i in sorted(chosen, reverse=True):
            cut[i:i + 1] = [[p] for p in parts[i]]
    return [Block(_label(group), tuple(p.name for p in group)) for group in cut]


def _through(piece: _Piece) -> _Piece:
    """The deepest piece that holds all of ``piece``'s parameters (a classifier wrapping one
    layer: that layer)."""
    parts = piece.parts()
    while len(parts) == 1:
        piece, parts = parts[0], parts[0].parts()
    return piece


def _parts(piece: _Piece) -> list[_Piece]:
    """A piece's parts, through wrappers of one part (none: a layer, which is not split)."""
    parts = piece.parts()
    while len(parts) == 1:
        parts = parts[0].parts()
    return parts


def block_modules(model: nn.Module, block: Block) -> Iterator[tuple[str, nn.Module]]:
    """The modules of ``block`` (its module members' whole subtrees), by qualified name."""
    for name in block.members:
        module = _module_or_none(model, name)
        if module is not None:
            for sub, m in module.named_modules():
                yield _join(name, sub), m


def _module_or_none(model: nn.Module, name: str) -> nn.Module | None:
    try:
        return model.get_submodule(name)
    except AttributeError:
        return None  # a single parameter


def _runs(parts: list[_Piece], k: int) -> list[list[_Piece]]:
    """``parts`` in ``k`` runs of consecutive pieces, the smallest neighbouring pair merged
    first, so the runs hold about as many parameters each."""
    runs = [[p] for p in parts]
    while len(runs) > k:
        j = min(range(len(runs) - 1), key=lambda i: _size(runs[i]) + _size(runs[i + 1]))
        runs[j:j + 2] = [runs[j] + runs[j + 1]]
    return runs


def _label(group: list[_Piece]) -> str:
    """One piece: its name (the whole model: ``(model)``); a run of siblings:
    ``parent.first-last``, the last without the start it shares with the first
    (``layers.encoder_layer_0-3``)."""
    if len(group) == 1:
        return group[0].name or "(model)"
    parent, _, first = group[0].name.rpartition(".")
    last = group[-1].name.rpartition(".")[2]
    shared = len(os.path.commonprefix([first, last]))
    while shared and (first[shared - 1].isalnum() and last[shared - 1].isalnum()):
        shared -= 1  # cut at a separator: encoder_layer_1-11, not encoder_layer_1-1
    return _join(parent, f"{first}-{last[shared:]}")


def _size(group: list[_Piece]) -> int:
    return sum(p.size for p in group)


def _count(module: nn.Module) -> int:
    return sum(1 for _ in module.parameters())


def _join(parent: str, child: str) -> str:
    return f"{parent}.{child}" if parent else child

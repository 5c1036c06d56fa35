"""Networks that return more than their logits (a tuple ``(logits, features)``, a dict, an
object with ``.logits``): where the logits are (``output``), how to pick them, and how to say
what a network returned when nothing is said."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

#: how a ``Classifier`` picks the logits from what its network returns: ``None`` (the output
#: is the logits), an index into a tuple or list, or a dict key or attribute name (``logits``)
Output = int | str | None

_SHOWN = 6  # items of a tuple, list or dict named in a description


def check_output(output: object, name: str = "output") -> Output:
    """``output`` if it is ``None``, an int or a non-empty str; ``ValueError`` naming it."""
    if output is None or (isinstance(output, int) and not isinstance(output, bool)):
        return output
    if isinstance(output, str) and output:
        return output
    raise ValueError(f"{name} must be an index (int) into a tuple the model returns, or a dict "
                     f"key or attribute name (str) such as 'logits'; got {output!r}")


def _short(value: object) -> str:
    """One item of a structure, briefly: ``Tensor(2, 10)``, ``tuple of 2``, ``dict``, a type."""
    if isinstance(value, torch.Tensor):
        return f"Tensor({', '.join(str(s) for s in value.shape)})"
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)}"
    return type(value).__name__


def _attributes(value: object) -> dict[str, object]:
    """The public attributes of an output object (a dataclass, a plain object)."""
    return {k: v for k, v in getattr(value, "__dict__", {}).items() if not k.startswith("_")}


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def describe_output(out: object) -> str:
    """What a network returned, for error messages: ``a tuple of 2: (Tensor(2, 10),
    Tensor(2, 64))``, ``a dict of 2: {'logits': Tensor(2, 10), ...}``, ``Tensor(2, 10)``."""
    if isinstance(out, torch.Tensor):
        return _short(out)
    if isinstance(out, Mapping):
        items = [f"{k!r}: {_short(v)}" for k, v in list(out.items())[:_SHOWN]]
        more = ", ..." if len(out) > _SHOWN else ""
        return f"{_a(type(out).__name__)} of {len(out)}: {{{', '.join(items)}{more}}}"
    if isinstance(out, (tuple, list)):
        items = [_short(v) for v in out[:_SHOWN]]
        more = ", ..." if len(out) > _SHOWN else ""
        return f"{_a(type(out).__name__)} of {len(out)}: ({', '.join(items)}{more})"
    attributes = _attributes(out)
    if attributes:
        shown = ", ".join(f".{k} {_short(v)}" for k, v in list(attributes.items())[:_SHOWN])
        return f"{_a(type(out).__name__)} with {shown}"
    return _a(type(out).__name__)


def select_output(out: Any, output: Output) -> Any:
    """The part of a network's return value that ``output`` names (``out`` itself for
    ``None``): item ``output`` of a tuple or list, key ``output`` of a dict, else attribute
    ``output``. ``ValueError`` saying what the network returned when it has no such part."""
    if output is None:
        return out
    if isinstance(out, Mapping):
        if output in out:
            return out[output]
        raise ValueError(f"output={output!r} is not a key of what the model returns: "
                         f"{describe_output(out)}; keys: {', '.join(map(repr, out))}")
    if isinstance(output, int):
        if not isinstance(out, (tuple, list)):
            raise ValueError(f"output={output} takes an item of a tuple or list, but the model "
                             f"returns {describe_output(out)}")
        if not -len(out) <= output < len(out):
            raise ValueError(f"output={output} is out of range: the model returns "
                             f"{describe_output(out)}")
        return out[output]
    # a tensor's or a tuple's own attributes (.T, .count) are not parts of the output
    plain = isinstance(out, torch.Tensor) or (
        isinstance(out, (tuple, list)) and output not in getattr(type(out), "_fields", ()))
    if plain or not hasattr(out, output):
        raise ValueError(f"output={output!r} names no key or attribute of what the model "
                         f"returns: {describe_output(out)}")
    return getattr(out, output)

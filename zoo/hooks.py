"""Hooks that cannot leak: every handle is registered through a ``HookSet`` and removed in
``finally``, whether the block succeeds or raises.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from types import TracebackType
from typing import Any

from torch import nn
from torch.utils.hooks import RemovableHandle

from zoo.errors import UnknownNameError


class HookSet:
    """Context manager collecting hook handles and removing them all on exit.

    >>> with HookSet() as hooks:
    ...     hooks.forward(layer, lambda m, i, o: store.append(o))
    ...     model(x)
    """

    def __init__(self) -> None:
        self._handles: list[RemovableHandle] = []

    def __enter__(self) -> HookSet:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def remove(self) -> None:
        while self._handles:
            self._handles.pop().remove()

    def forward(self, module: nn.Module, fn: Callable[..., Any]) -> RemovableHandle:
        return self._keep(module.register_forward_hook(fn))

    def forward_pre(self, module: nn.Module, fn: Callable[..., Any]) -> RemovableHandle:
        return self._keep(module.register_forward_pre_hook(fn))

    def full_backward(self, module: nn.Module, fn: Callable[..., Any]) -> RemovableHandle:
        return self._keep(module.register_full_backward_hook(fn))

    def _keep(self, handle: RemovableHandle) -> RemovableHandle:
        self._handles.append(handle)
        return handle


def find_modules(model: nn.Module, kind: type[nn.Module]) -> list[tuple[str, nn.Module]]:
    """All submodules of a type, with their qualified names, in registration order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, kind)]


def get_layer(model: nn.Module, name: str) -> nn.Module:
    """A submodule by its qualified name, with an ``UnknownNameError`` (a ``KeyError`` and a
    ``UserError``) giving the closest name and listing the valid ones."""
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        names = [n for n in modules if n]
        close = difflib.get_close_matches(name, names, n=1) if isinstance(name, str) else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownNameError(f"layer {name!r} not found in the model{hint}; layers are: "
                               f"{', '.join(names) or '(none)'}")
    return modules[name]

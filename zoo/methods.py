"""What every registered method shares (attacks, attribution methods, generative methods): its
name, function and paper, and the schema its signature gives (``zoo.params``).

A method's keyword-only parameters are its hyperparameters. Registration adds only what the
signature cannot say:

- ``protocol``: keywords its caller sets (the evaluator, the harness), never a suite: a random
  generator, an early-stop flag, the budget of the current grid point;
- ``aliases``: the suite key a parameter goes by when that differs from its name (kept so that
  existing job ids do not change, or so that two methods' parameters do not collide);
- ``suite_defaults``: the value a suite runs a parameter with when it sets none, by parameter
  name or by its relative form's (``rel_window``: a window as a fraction of the image's side).
  Unlike a signature default it is part of every job config (and so of the job id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from zoo.guard import keeps_buffers
from zoo.params import Param, checked, keyword_params, resolve
from zoo.registry import Registry


@dataclass(frozen=True)
class Method:
    """One registered method. Calling it calls the checked function."""

    name: str
    fn: Callable[..., Any]
    paper: str
    params: Mapping[str, Param]
    protocol: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)
    suite_defaults: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def fits(self, config: Mapping[str, Any]) -> bool:
        """Whether a job config is one this method applies to (an attack's threat model, say);
        every config by default."""
        return True

    def takes(self, name: str) -> bool:
        """Whether the function has a keyword-only parameter ``name``."""
        return name in self.params

    @property
    def settings(self) -> dict[str, Param]:
        """The hyperparameters a suite may set: settable parameters outside the protocol."""
        return {k: p for k, p in self.params.items() if p.settable and k not in self.protocol}

    def suite_keys(self) -> dict[str, str]:
        """Suite key -> parameter: each setting under its alias, and a relative setting's
        multiple (``rel_alpha`` -> ``alpha``) as well."""
        keys = {}
        for name, p in self.settings.items():
            keys[self.aliases.get(name, name)] = name
            if p.relative is not None:
                keys[p.relative.name] = name
        return keys

    def forms(self, key: str) -> list[str]:
        """The other suite keys of the setting ``key`` sets (``rel_alpha`` for ``alpha`` and
        the other way round); none for a key that is not one of its settings."""
        keys = self.suite_keys()
        return [k for k, n in keys.items() if key in keys and n == keys[key] and k != key]

    def check_value(self, key: str, value: object) -> Any:
        """The value of suite key ``key``, checked: against its parameter, or for a relative
        form, as that form's (``rel_window``: a fraction in (0, 1])."""
        p = self.params[self.suite_keys()[key]]
        if p.relative is not None and key == p.relative.name:
            return p.check_relative(value, key)
        return p.check(value, key)

    def check_settings(self, given: Mapping[str, Any],
                       supplied: Iterable[str] = ()) -> dict[str, Any]:
        """``given`` settings by suite key, checked: no protocol keyword and no unknown key,
        each value against its parameter, every required setting present (a relative one in
        either form, not both) but those the caller ``supplied`` itself when none is given.
        ``ValueError`` naming the key otherwise."""
        keys = self.suite_keys()
        out = {}
        for key, value in given.items():
            if key in self.protocol:
                raise ValueError(f"{key!r} is set by whoever runs {self.name}, not given as "
                                 "one of its settings")
            if key not in keys:
                raise ValueError(f"{self.name} has no setting {key!r}; its settings: "
                                 f"{', '.join(keys) or 'none'}")
            out[key] = self.check_value(key, value)
        for name, p in self.settings.items():
            forms = [k for k, n in keys.items() if n == name and k in out]
            if p.relative is not None and len(forms) > 1:
                raise ValueError(f"give {name} or {p.relative.name} for {self.name}, not both")
            if p.required and not forms and name not in supplied:
                how = name if p.relative is None else (
                    f"{'a size' if p.relative.whole else 'a step'}: {name} or "
                    f"{p.relative.name} ({p.relative.formula(name)})")
                raise ValueError(f"{self.name} needs {how}")
        return out

    def kwargs(self, config: Mapping[str, Any], **context: Any) -> dict[str, Any]:
        """Keyword arguments from a job config (suite keys, other keys ignored), relative
        multiples resolved at ``context`` (``eps=...``; ``side=...``, the side in pixels of
        the images the call runs on, for a window given as ``rel_window``)."""
        given: dict[str, Any] = {}
        for key, name in self.suite_keys().items():
            if key in config:
                relative = self.params[name].relative
                given[key if relative is not None and key == relative.name else name] = (
                    config[key])
        return resolve(self.params, given, context)


M = TypeVar("M", bound=Method)


def register_method(
    registry: Registry[M], cls: type[M], name: str, fn: Callable[..., Any], *, paper: str,
    family_protocol: Iterable[str] = (), protocol: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None, suite_defaults: Mapping[str, Any] | None = None,
    **extra: Any,
) -> M:
    """Check ``fn``'s keyword arguments on every call (``zoo.params.checked``), restore the
    model's buffers after it (``zoo.guard.keeps_buffers``), and add it to ``registry`` as
    ``cls(name, ...)``. ``family_protocol``: the family's protocol keywords,
    wherever ``fn`` takes them; raises when a name declared for this method is not one of its
    keyword-only parameters."""
    wrapped = keeps_buffers(checked(fn))
    params = keyword_params(fn)
    aliases = dict(aliases or {})
    defaults = dict(suite_defaults or {})
    relatives = {p.relative.name: n for n, p in params.items() if p.relative is not None}
    for what, names in (("protocol", protocol), ("aliases", aliases), ("suite_defaults", defaults)):
        known = {*params, *relatives} if what == "suite_defaults" else set(params)
        unknown = sorted(set(names) - known)
        if unknown:
            raise ValueError(f"{registry.family} {name!r}: {what} names {unknown[0]!r}, which "
                             f"is not a keyword-only parameter of {fn.__qualname__}"
                             + (" nor a relative form of one" if relatives else ""))
    for key, value in defaults.items():
        if key in relatives:
            if relatives[key] in defaults:
                raise ValueError(f"{registry.family} {name!r}: suite_defaults give "
                                 f"{relatives[key]} and {key}; give one")
            params[relatives[key]].check_relative(value, key)
        else:
            params[key].check(value)
    protocol = {*protocol, *(k for k in family_protocol if k in params)}
    entry = cls(name=name, fn=wrapped, paper=paper, params=params, protocol=frozenset(protocol),
                aliases=aliases, suite_defaults=defaults, **extra)
    registry.add(name, entry)
    return entry

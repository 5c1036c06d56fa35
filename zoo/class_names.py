"""Read class names from a file, one name per class index, for reports and labelled outputs.

Two formats, chosen by suffix:

* ``.txt``: one name per line, whitespace stripped. Lines starting with ``#`` are comments and
  skipped; blank lines after the last name are ignored, any other blank line is an error (it
  usually means a missing name, which would shift every later index).
* ``.json``: a list of names; or an object mapping index (``"0"`` .. ``"K-1"``) to name, which
  must cover ``0..K-1`` exactly; or the torchvision/Keras ImageNet style
  ``{"0": ["n01440764", "tench"], ...}`` where the name is the list's last element.

Names must be non-empty strings (stripped of surrounding whitespace) and unique: a report keyed
by name would otherwise mix two classes. Problems are ``ClassNamesError`` (a ``UserError``, one
line naming the file); a missing file is also a ``FileNotFoundError``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from zoo.errors import UserError

SUFFIXES = (".txt", ".json")
_INDEX = re.compile(r"[0-9]+")


class ClassNamesError(UserError):
    """A class names file that cannot be read as one name per class."""


class MissingClassNamesError(ClassNamesError, FileNotFoundError):
    """The class names file is not there."""


def load_class_names(path: str | Path, num_classes: int | None = None) -> tuple[str, ...]:
    """The class names in ``path`` (``.txt`` or ``.json``), index ``i`` naming class ``i``.

    ``num_classes``, when given, must equal the number of names.
    """
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1
    ):
        raise ClassNamesError(f"num_classes must be None or a positive int, got {num_classes!r}")
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise ClassNamesError(
            f"class names file {file} must end in .txt or .json, got {suffix or 'no suffix'!r}"
        )
    if not file.exists():
        raise MissingClassNamesError(f"class names file not found: {file}")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as err:  # a directory, no permission
        raise ClassNamesError(
            f"class names file {file} cannot be read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise ClassNamesError(f"class names file {file} is not UTF-8 text: {err}") from None
    names = _from_txt(file, text) if suffix == ".txt" else _from_json(file, text)
    _check_names(file, names)
    if num_classes is not None and len(names) != num_classes:
        raise ClassNamesError(
            f"class names file {file} has {len(names)} names, num_classes is {num_classes}"
        )
    return tuple(names)


def _from_txt(file: Path, text: str) -> list[str]:
    names: list[str] = []
    blank: int | None = None  # line number of the first blank line not yet followed by a name
    for number, line in enumerate(text.splitlines(), start=1):
        name = line.strip()
        if name.startswith("#"):
            continue
        if not name:
            blank = blank or number
            continue
        if blank is not None:
            raise ClassNamesError(
                f"class names file {file}: line {blank} is blank; only trailing blank lines are "
                "allowed (a blank line would shift every later class index)"
            )
        names.append(name)
    return names


def _from_json(file: Path, text: str) -> list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ClassNamesError(f"class names file {file} is not valid JSON: {err}") from None
    if isinstance(data, list):
        return [_json_name(file, str(i), value) for i, value in enumerate(data)]
    if not isinstance(data, dict):
        raise ClassNamesError(
            f"class names file {file} must hold a JSON list of names or an object mapping "
            f"index to name, got {type(data).__name__}"
        )
    by_index: dict[int, str] = {}
    for key, value in data.items():
        if not _INDEX.fullmatch(key):
            raise ClassNamesError(
                f"class names file {file}: key {key!r} is not a class index (0, 1, 2, ...)"
            )
        if int(key) in by_index:
            raise ClassNamesError(f"class names file {file}: index {int(key)} appears twice")
        by_index[int(key)] = _json_name(file, key, value)
    missing = sorted(set(range(len(by_index))) - by_index.keys())
    if missing:
        extra = sorted(by_index.keys() - set(range(len(by_index))))
        raise ClassNamesError(
            f"class names file {file}: indices must be 0..{len(by_index) - 1}; missing index "
            f"{_listed(missing)}, extra index {_listed(extra)}"
        )
    return [by_index[i] for i in range(len(by_index))]


def _json_name(file: Path, index: str, value: object) -> str:
    """A JSON entry's name: a string, or the last element of a ``[wnid, name]`` list."""
    if isinstance(value, list) and value:
        value = value[-1]
    if not isinstance(value, str):
        raise ClassNamesError(
            f"class names file {file}: the name for index {index} is not a string: {value!r}"
        )
    return value.strip()


def _check_names(file: Path, names: list[str]) -> None:
    if not names:
        raise ClassNamesError(f"class names file {file} holds no class names")
    first: dict[str, int] = {}
    for index, name in enumerate(names):
        if not name:
            raise ClassNamesError(f"class names file {file}: the name for index {index} is empty")
        if name in first:
            raise ClassNamesError(
                f"class names file {file}: duplicate name {name!r} for indices {first[name]} "
                f"and {index}"
            )
        first[name] = index


def _listed(indices: list[int]) -> str:
    return ", ".join(str(i) for i in indices)

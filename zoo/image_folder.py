"""Load a user's own folder of images ("bring your own data") as an auditable batch.

Two layouts are understood:

* torchvision ``ImageFolder``: one sub-folder per class under ``root`` (class order = sorted
  folder names; images may sit in nested folders below a class folder);
* a flat folder plus a labels CSV with columns ``file,label``. ``label`` is a class name
  (classes = sorted unique names), or, when every label is an integer, a class index (classes
  are then ``"0" .. str(max)``). A negative index, one at or past ``num_classes`` when the
  caller knows the model's, and a column mixing indices and names are refused, naming the
  row: a stray value is never re-read as a name.

Behaviour chosen here:

* Hidden files and folders (names starting with ``.``) are ignored silently. Every other file
  that is not used lands in ``skipped`` with a reason (wrong extension, unreadable, not
  listed in the CSV, missing, not sampled), never as an exception; a folder with no readable
  image at all is a ``FolderError`` giving the first reasons.
* Everything a user can get wrong here (a missing folder or CSV, an empty or header-only
  CSV, a file listed twice) raises ``FolderError``, a ``zoo.errors.UserError`` (so still a
  ``ValueError``; ``MissingFileError`` for a missing path is also a ``FileNotFoundError``).
* A class whose folder holds no image keeps its place in ``class_names`` (so label
  indices match the folder names) and a ``UserWarning`` says so; it just has zero images.
  A class whose image files all fail to decode (a zero-byte or truncated file) is a
  ``FolderError`` naming one: the class would drop out of every result unnoticed.
* ``per_class`` samples with ``torch.Generator().manual_seed(seed)`` from the files with an
  image extension before decoding. Files are decoded in the sampled order until ``per_class``
  readable ones are found, so an unreadable pick is replaced by the next one in the same
  seeded order; files never reached are ``skipped`` as "not sampled".
* Result order: class by class, files sorted by relative path within each class.
* Every image is converted to ``channels`` (RGBA / LA / transparent palette images are
  composited onto white first), then resized: an ``int`` size resizes the shorter side and
  centre crops, a ``(H, W)`` tuple resizes exactly. Decoding and resizing one image live in
  ``zoo.image_decode``.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo.errors import UserError
from zoo.image_decode import IMAGE_EXTENSIONS, decode_image, resize_image

#: a class index in a labels CSV ("07" is class 7; "-1" is an index, and refused)
_INTEGER = re.compile(r"[+-]?\d+")
#: skip reasons quoted when a folder has no readable image
_REASONS_SHOWN = 3
UNREADABLE = "unreadable image"  # the skip reason of a file that does not decode


class FolderError(UserError):
    """An image folder or labels CSV that cannot be read as a labelled batch."""


class MissingFileError(FolderError, FileNotFoundError):
    """The folder or the labels CSV is not there."""


@dataclass(frozen=True)
class ImageFolderData:
    x: torch.Tensor  # float32 (N, C, H, W) in [0, 1]
    y: torch.Tensor  # int64 (N,)
    class_names: tuple[str, ...]
    files: tuple[str, ...]  # the file behind each image, relative to the root (posix)
    skipped: tuple[tuple[str, str], ...]  # (relative path, reason) of every file not used
    source: str  # the root folder


# ---- argument checks (before any file is touched) ----


def _check_size(size: object) -> tuple[int, int] | int:
    def ok(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    if ok(size):
        return size  # type: ignore[return-value]
    if isinstance(size, tuple) and len(size) == 2 and all(ok(v) for v in size):
        return size  # type: ignore[return-value]
    raise FolderError(f"size must be a positive int or a (H, W) tuple of them, got {size!r}")


def _check_args(size: object, channels: object, per_class: object, seed: object) -> None:
    _check_size(size)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise FolderError(f"channels must be 1 or 3, got {channels!r}")
    if per_class is not None and (
        isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1
    ):
        raise FolderError(f"per_class must be None or a positive int, got {per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FolderError(f"seed must be an int, got {seed!r}")


# ---- finding the files of each class ----


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _files_under(folder: Path, root: Path) -> list[str]:
    """Non-hidden files below ``folder``, as sorted posix paths relative to ``root``."""
    rels = (p.relative_to(root) for p in folder.rglob("*") if p.is_file())
    return sorted(r.as_posix() for r in rels if not _hidden(r))


def _from_subfolders(root: Path) -> tuple[list[str], dict[str, list[str]], list[tuple[str, str]]]:
    dirs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not dirs:
        raise FolderError(
            f"no class sub-folders in {root}; for a flat folder of images pass labels_csv"
        )
    stray = [(r, "not inside a class folder") for r in _loose_files(root)]
    return dirs, {d: _files_under(root / d, root) for d in dirs}, stray


def _loose_files(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_file() and not p.name.startswith("."))


def _read_csv_rows(path: Path) -> list[tuple[int, str, str]]:
    """``(line, file, label)`` of every row naming a file; ``FolderError`` for a CSV without
    the two columns or without rows."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None:
            raise FolderError(f"labels CSV {path} is empty: it needs a header line 'file,label' "
                              "and one row per image")
        fields = {(f or "").strip() for f in reader.fieldnames}
        if not {"file", "label"} <= fields:
            raise FolderError(f"labels CSV {path} needs columns 'file' and 'label', got "
                              f"{', '.join(sorted(fields)) or 'none'}")
        rows = []
        for row in reader:
            clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k}
            if clean.get("file"):
                rows.append((reader.line_num, clean["file"], clean.get("label", "")))
    if not rows:
        raise FolderError(f"labels CSV {path} has a header but no rows: list one image per "
                          "row as file,label")
    return rows


def _class_names_for(rows: list[tuple[int, str, str]], path: Path,
                     num_classes: int | None) -> tuple[list[str], bool]:
    """Sorted unique names, or ``"0".."max"`` when every label is an integer (each in range);
    a column mixing the two is refused, naming a row of each."""
    numbers = [(line, lab) for line, _, lab in rows if _INTEGER.fullmatch(lab)]
    names = [(line, lab) for line, _, lab in rows if not _INTEGER.fullmatch(lab)]
    if numbers and names:
        raise FolderError(
            f"labels CSV {path} mixes class indices (line {numbers[0][0]}: {numbers[0][1]!r}) "
            f"and class names (line {names[0][0]}: {names[0][1]!r}); give every image an "
            "index or every image a name")
    if not numbers:
        return sorted({lab for _, lab in names}), False
    top = num_classes - 1 if num_classes is not None else None
    for line, lab in numbers:
        value = int(lab)
        if value < 0 or (top is not None and value > top):
            allowed = f"0 to {top}" if top is not None else "0 or more"
            raise FolderError(f"labels CSV {path}, line {line}: label {lab!r} is not a class "
                              f"index of the model ({allowed})")
    return [str(i) for i in range(max(int(lab) for _, lab in numbers) + 1)], True


def check_labels_csv(root: str | Path, labels_csv: str | Path, num_classes: int) -> None:
    """``FolderError`` when the labels CSV of the flat folder ``root`` holds an integer label
    outside ``0 .. num_classes - 1`` (naming its line), mixes indices and names, or cannot
    be read; reads the CSV only, no image."""
    path = _resolve_csv(Path(root), labels_csv)
    _class_names_for([row for row in _read_csv_rows(path) if row[2]], path, num_classes)


def _from_csv(
    root: Path, csv_path: Path, num_classes: int | None
) -> tuple[list[str], dict[str, list[str]], list[tuple[str, str]]]:
    rows = _read_csv_rows(csv_path)
    name = csv_path.name
    skipped: list[tuple[str, str]] = []
    listed: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for line, file, label in rows:
        rel = Path(file).as_posix()
        if rel in listed:
            raise FolderError(f"labels CSV {csv_path} lists {rel!r} more than once (lines "
                              f"{first_line[rel]} and {line}); keep one row per image")
        listed[rel], first_line[rel] = label, line
    by_label: dict[str, list[str]] = {}
    for rel, label in listed.items():
        if not (root / rel).is_file():
            skipped.append((rel, f"listed in {name} but missing"))
        elif not label:
            skipped.append((rel, f"empty label in {name}"))
        else:
            by_label.setdefault(label, []).append(rel)
    classes, numeric = _class_names_for(
        [(line, file, lab) for line, file, lab in rows if lab], csv_path, num_classes)
    key = (lambda lab: str(int(lab))) if numeric else (lambda lab: lab)  # "07" is class "7"
    files: dict[str, list[str]] = {c: [] for c in classes}
    for lab, rels in by_label.items():
        files[key(lab)].extend(rels)
    files = {c: sorted(rels) for c, rels in files.items()}
    own = _csv_inside(root, csv_path)
    for rel in _loose_files(root):
        if rel not in listed and rel != own:
            skipped.append((rel, f"not listed in {name}"))
    return classes, files, skipped


def _csv_inside(root: Path, csv_path: Path) -> str | None:
    try:
        return csv_path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


# ---- sampling and decoding ----


def _sample_order(n: int, per_class: int | None, gen: torch.Generator) -> list[int]:
    return list(range(n)) if per_class is None else torch.randperm(n, generator=gen).tolist()


def _load_class(
    root: Path,
    files: list[str],
    opts: tuple[int | tuple[int, int], int, int | None],
    gen: torch.Generator,
) -> tuple[list[tuple[str, torch.Tensor]], list[tuple[str, str]]]:
    """Decode one class's files (sampled order if ``per_class``); return sorted good images."""
    size, channels, per_class = opts
    skipped = [(f, f"not an image file ({Path(f).suffix or 'no extension'})")
               for f in files if Path(f).suffix.lower() not in IMAGE_EXTENSIONS]
    images = [f for f in files if Path(f).suffix.lower() in IMAGE_EXTENSIONS]
    good: list[tuple[str, torch.Tensor]] = []
    for i in _sample_order(len(images), per_class, gen):
        rel = images[i]
        if per_class is not None and len(good) >= per_class:
            skipped.append((rel, f"not sampled (per_class={per_class})"))
            continue
        try:
            good.append((rel, resize_image(decode_image(root / rel, channels), size)))
        except Exception as exc:  # any decoder failure is a skipped file, never a crash
            skipped.append((rel, f"{UNREADABLE}: {type(exc).__name__}: {exc}"))
    return sorted(good, key=lambda item: item[0]), skipped


def _resolve_csv(root: Path, labels_csv: str | Path) -> Path:
    path = Path(labels_csv)
    if not path.is_file() and not path.is_absolute() and (root / path).is_file():
        path = root / path
    if not path.is_file():
        raise MissingFileError(f"labels CSV {labels_csv} does not exist (nor under {root})")
    return path


def load_image_folder(
    root: str | Path,
    *,
    size: int | tuple[int, int],
    channels: int = 3,
    per_class: int | None = None,
    seed: int = 0,
    labels_csv: str | Path | None = None,
    num_classes: int | None = None,
) -> ImageFolderData:
    """Load the images under ``root`` as float32 ``(N, channels, H, W)`` in ``[0, 1]``.

    ``labels_csv`` (a path, or a name inside ``root``) switches to the flat-folder layout;
    ``num_classes``: the model's outputs, the range of its integer labels.
    See the module docstring for the rules on skipping, sampling and ordering.

    Shape:
        x: ``(N, channels, size, size)`` for an int ``size``, ``(N, channels, H, W)`` for
        ``size=(H, W)``; y: ``(N,)``.
    """
    _check_args(size, channels, per_class, seed)
    root_path = Path(root)
    if not root_path.is_dir():
        raise MissingFileError(f"image folder {root} does not exist or is not a directory")
    if labels_csv is None:
        classes, files, skipped = _from_subfolders(root_path)
    else:
        classes, files, skipped = _from_csv(root_path, _resolve_csv(root_path, labels_csv),
                                            num_classes)
    gen = torch.Generator().manual_seed(seed)
    kept: list[tuple[int, str, torch.Tensor]] = []
    broken: list[tuple[str, str, str]] = []  # (class, file, why) of classes of broken images
    for label, name in enumerate(classes):
        good, bad = _load_class(root_path, files[name], (size, channels, per_class), gen)
        skipped.extend(bad)
        kept.extend((label, rel, img) for rel, img in good)
        unreadable = [(rel, why) for rel, why in bad if why.startswith(UNREADABLE)]
        if not good and unreadable:
            broken.append((name, *unreadable[0]))
    if kept and broken:
        # images given for a class that none of them can stand for: a broken copy, a
        # zero-byte file; the class would silently drop out of every result
        name, rel, why = broken[0]
        raise FolderError(f"class {name!r} in {root} has no readable image: {rel}: {why}; "
                          "replace or remove the file")
    if not kept:
        reasons = "; ".join(f"{rel}: {why}" for rel, why in skipped[:_REASONS_SHOWN])
        more = ", ..." if len(skipped) > _REASONS_SHOWN else ""
        raise FolderError(f"no readable images in {root}: {len(skipped)} file(s) skipped"
                          + (f" ({reasons}{more})" if reasons else ""))
    for label in sorted(set(range(len(classes))) - {label for label, _, _ in kept}):
        warnings.warn(f"class {classes[label]!r} in {root} has no readable images", stacklevel=2)
    return ImageFolderData(
        x=torch.stack([img for _, _, img in kept]).float(),
        y=torch.tensor([label for label, _, _ in kept], dtype=torch.int64),
        class_names=tuple(classes),
        files=tuple(rel for _, rel, _ in kept),
        skipped=tuple(skipped),
        source=str(root_path),
    )

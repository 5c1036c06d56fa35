"""Loading what a suite's ``[models.*]`` and ``[data.*]`` tables declare, and fitting the two
together: the folder is read at the model's input size, its labels are put in the model's
class order, and the model takes the folder's class names when it has none of its own.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

import zoo
from bench.definitions import DataDef, ModelDef
from zoo.errors import UserError
from zoo.image_decode import IMAGE_EXTENSIONS

MAX_FOLDER_BYTES = 4 * 2**30  # a whole folder larger than this needs a per-class sample

NOT_SAMPLED = "not sampled"  # zoo.load_image_folder's reason for files the sample left out


def load_defined_model(definition: ModelDef, *, seed: int = 0) -> zoo.Classifier:
    """The model a ``[models.NAME]`` table declares, named ``NAME``, its source kept;
    ``seed``: where its weights are random, the seed they are drawn from."""
    names = (list(zoo.load_class_names(definition.class_names))
             if definition.class_names else None)
    user = {"mean": definition.mean, "std": definition.std,
            "input_size": definition.input_size, "class_names": names,
            "output": definition.output}
    source = definition.source
    if source.startswith("tv:") or source in zoo.list_models():
        given = [k for k, v in user.items() if v is not None]
        if given:
            raise UserError(f"[models.{definition.name}]: {given[0]} is for your own models; "
                             f"{source!r} brings its own")
        user = {}
    model = zoo.load_model(source, definition.weights, seed=seed, **user)
    model.source = source
    model.name = definition.name
    return model


def has_own_names(model: zoo.Classifier) -> bool:
    return model.class_names != [str(i) for i in range(model.num_classes)]


def read_folder(definition: DataDef, shape: tuple[int, int, int], *,
                seed: int, num_classes: int | None = None) -> zoo.ImageFolderData:
    """The folder at the model's input shape (``zoo.load_image_folder`` refuses one with no
    readable image, and a labels CSV's integer label outside ``num_classes``, by line)."""
    channels, height, width = shape
    size = height if height == width else (height, width)
    if definition.per_class is None:
        _check_fits(definition, shape)
    folder = zoo.load_image_folder(definition.root, size=size, channels=channels,
                                   per_class=definition.per_class, seed=seed,
                                   labels_csv=definition.labels_csv,
                                   num_classes=num_classes)
    return folder  # an empty folder has already raised, naming the files it skipped


def _check_fits(definition: DataDef, shape: tuple[int, int, int]) -> None:
    """Refuse, before decoding, a whole folder whose images would not fit in memory (every
    image is kept as float32 at the model's size): a sample per class is the way."""
    files = sum(1 for p in Path(definition.root).rglob("*")
                if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    need = files * math.prod(shape) * 4
    if need > MAX_FOLDER_BYTES:
        raise UserError(
            f"[data.{definition.name}]: {files:,} images at {shape} would take "
            f"{need / 2**30:.1f} GiB as float32 (limit {MAX_FOLDER_BYTES / 2**30:.0f} GiB); "
            "give per_class (--per-class N) to audit a seeded sample of each class")


def fit_labels(
    folder: zoo.ImageFolderData, model: zoo.Classifier, data_name: str
) -> tuple[torch.Tensor, list[str], list[str]]:
    """The folder's labels in the model's class order, the class names to show for the model,
    and notes for the report; the model itself is left as it is.

    - Every folder class named among the model's classes: labels follow the model's indices
      (an ImageNet model audited on a folder of a few of its classes; integer CSV labels
      match the default names "0".."K-1").
    - Otherwise the folder must have exactly as many classes as the model has outputs, taken
      in sorted folder order; a model without names of its own is shown with the folder's.
    - Anything else is a ``UserError`` saying both counts, before any job runs.
    """
    notes: list[str] = []
    own = model.class_names
    if all(name in own for name in folder.class_names):
        index = torch.tensor([own.index(name) for name in folder.class_names])
        return index[folder.y], list(own), notes
    if len(folder.class_names) != model.num_classes:
        raise UserError(
            f"[data.{data_name}] has {len(folder.class_names)} classes "
            f"({', '.join(folder.class_names[:5])}) but model {model.name!r} has "
            f"{model.num_classes} outputs, and the names do not match the model's classes; "
            "give the model class_names, or a folder with one sub-folder per output")
    if not has_own_names(model):
        return folder.y.clone(), list(folder.class_names), notes
    notes.append(
        f"the folder's class names ({', '.join(folder.class_names[:3])}, ...) are not "
        f"the model's ({', '.join(own[:3])}, ...): folder class i is taken as output i")
    return folder.y.clone(), list(own), notes


def folder_info(definition: DataDef, folder: zoo.ImageFolderData,
                notes: list[str]) -> dict[str, object]:
    """What the report and the audit card say about a user folder."""
    # files left out by the per-class sample are not problems; the rest are listed
    unsampled = [f for f, reason in folder.skipped if reason.startswith(NOT_SAMPLED)]
    return {
        "source": definition.root, "images": len(folder.x),
        "classes": len(folder.class_names), "class_names": list(folder.class_names),
        "skipped": [list(item) for item in folder.skipped
                    if not item[1].startswith(NOT_SAMPLED)],
        "not_sampled": len(unsampled), "per_class": definition.per_class,
        "labels_csv": definition.labels_csv or "", "notes": notes,
    }

"""Bring your own model: build a ``Classifier`` from a factory, an exported program or TorchScript.

``zoo.load_model`` hands these specs here:

- ``module.path:factory`` imports the module and calls ``factory()``;
- ``path/to/file.py:factory`` loads the file as a module and calls ``factory()``;
- ``model.pt2`` is a ``torch.export`` program (``torch.export.load(path).module()``);
- ``model.pt`` / ``.pth`` / ``.ts`` holding TorchScript is loaded with ``torch.jit.load``.

The network is wrapped in ``Normalize(mean, std)`` so every method works in ``[0, 1]`` pixels
(no normalisation unless ``mean``/``std`` are given). ``num_classes`` comes from one probe
forward pass, which also spots networks whose outputs are already probabilities. A network
that returns a tuple, a dict or an object with ``.logits`` (a factory's module, TorchScript or
an export alike) needs ``output``: the index or the key/attribute of its logits, picked inside
the ``Classifier`` so that every method sees plain logits.

The pieces live in ``zoo.user_spec`` (spec test, error type), ``zoo.user_factory``
(factories), ``zoo.user_archive`` (``.pt2`` and TorchScript) and ``zoo.user_probe`` (shape,
stats, probe); their public names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from zoo.normalize import Classifier, Normalize
from zoo.outputs import Output, check_output
from zoo.user_archive import ExportedNet, from_archive
from zoo.user_factory import from_factory
from zoo.user_probe import channel_stats, check_stats, input_shape, probe
from zoo.user_spec import (
    EXPORTED_SUFFIX,
    SCRIPT_SUFFIXES,
    UserModelError,
    is_factory_spec,
    is_user_spec,
)

__all__ = [
    "EXPORTED_SUFFIX", "SCRIPT_SUFFIXES", "ExportedNet", "UserModelError", "is_user_spec",
    "load_user_model",
]


def load_user_model(
    spec: str,
    weights: str | Path | None = None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    input_size: int | Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    output: Output = None,
) -> Classifier:
    """A user's network as an eval-mode ``Classifier`` mapping ``[0, 1]`` pixels to scores;
    ``output`` picks the scores from a network that returns a structure
    (``zoo.normalize.select_output``)."""
    check_stats(spec, mean, std)
    try:
        output = check_output(output)
    except ValueError as err:
        raise UserModelError(f"{spec!r}: {err}") from None
    load = from_factory if is_factory_spec(spec) else from_archive
    net = load(spec, weights)
    net.eval()
    shape = input_shape(spec, net, input_size, mean, std)
    mean_t, std_t = channel_stats(spec, shape[0], mean, std)
    # probe warns with a stacklevel that assumes it is called right here
    num_classes, probabilities = probe(spec, net, Normalize(mean_t, std_t), shape, output)
    if class_names is not None and len(class_names) != num_classes:
        raise UserModelError(
            f"{spec!r}: class_names has {len(class_names)} names, the model has {num_classes} "
            "outputs"
        )
    model = Classifier(
        net, mean=mean_t, std=std_t, num_classes=num_classes, input_shape=shape, name=spec,
        class_names=class_names, weights=str(weights) if weights is not None else "",
        output=output,
    )
    model.outputs_probabilities = probabilities
    return model.eval()

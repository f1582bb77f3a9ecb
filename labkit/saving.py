"""Model files that plain Keras reads: labkit's fused batch norm saved as Keras' own layer.

A ``.keras`` file is a zip archive of ``config.json`` (the architecture and the compile
settings), ``metadata.json`` and ``model.weights.h5``. :func:`save_model` writes the U-Net's
:class:`labkit.layers.BatchNormalization` (the fused kernel) into ``config.json`` as
``keras.layers.BatchNormalization``, which has the same configuration and weights, so that
``keras.models.load_model(path, compile=False)`` rebuilds and predicts with the model in a
process that never imported labkit, on any backend. The weights are not touched: Keras files
them under the layer class's snake-case name, ``batch_normalization``, for both classes.

The compile settings name labkit's losses and metrics (e.g. ``labkit>SoftDiceLoss``); loading
them, as ``keras.models.load_model(path)`` does by default, needs ``import labkit`` first, and
Keras' error names the module (``labkit.losses``) when it was not imported.

:func:`load_model` reads such a file back with the fused layers (the names are kept in
``metadata.json``), so that a resumed run trains with the same kernel as before.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

__all__ = ["load_model", "save_model"]

#: ``metadata.json`` key listing the layers saved as Keras' BatchNormalization that were fused.
FUSED_KEY = "labkit_fused_batch_norm"
_KERAS_BN = {"module": "keras.layers", "registered_name": None}
_LABKIT_BN = {"module": "labkit.layers", "registered_name": "labkit>BatchNormalization"}


def _batch_norms(config: Any) -> Iterator[dict[str, Any]]:
    """Every serialized ``BatchNormalization`` layer in a ``config.json`` tree."""
    if isinstance(config, dict):
        if config.get("class_name") == "BatchNormalization" and "config" in config:
            yield config
        for value in config.values():
            yield from _batch_norms(value)
    elif isinstance(config, list):
        for value in config:
            yield from _batch_norms(value)


def _rewrite(src: Path, dst: Path, to_keras: bool) -> list[str]:
    """Copy the archive ``src`` to ``dst``, swapping the batch-norm layers' class; return the
    names of the layers swapped."""
    with zipfile.ZipFile(src) as archive:
        config = json.loads(archive.read("config.json"))
        metadata = json.loads(archive.read("metadata.json"))
        if to_keras:
            swapped = [
                layer for layer in _batch_norms(config) if layer.get("module") == "labkit.layers"
            ]
            new = _KERAS_BN
        else:
            names = set(metadata.get(FUSED_KEY, ()))
            swapped = [
                layer
                for layer in _batch_norms(config)
                if layer.get("module") == "keras.layers" and layer["config"].get("name") in names
            ]
            new = _LABKIT_BN
        for layer in swapped:
            layer.update(new)
        names = [layer["config"]["name"] for layer in swapped]
        if to_keras:
            metadata[FUSED_KEY] = names
        with zipfile.ZipFile(dst, "w") as out:
            for info in archive.infolist():
                if info.filename == "config.json":
                    out.writestr(info, json.dumps(config))
                elif info.filename == "metadata.json":
                    out.writestr(info, json.dumps(metadata))
                else:
                    out.writestr(info, archive.read(info))
    return names


def save_model(model: keras.Model, path: str | Path) -> None:
    """``model.save(path)``, with labkit's fused batch-norm layers written as Keras' own.

    Args:
        model: Any Keras model.
        path: A ``.keras`` file (write it through :func:`labkit.files.atomic_path` where a kill
            must not leave half a file).
    """
    path = Path(path)
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        plain = b'"labkit.layers"' not in archive.read("config.json")
    if plain:
        return
    tmp = path.with_name(f".{path.name}.rewrite")
    try:
        _rewrite(path, tmp, to_keras=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_model(path: str | Path, **kwargs: Any) -> keras.Model:
    """``keras.models.load_model(path)``, with the layers :func:`save_model` unfused fused again.

    Args:
        path: A ``.keras`` file.
        **kwargs: Passed to ``keras.models.load_model`` (``compile``, ``safe_mode``, ...).
    """
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        fused = json.loads(archive.read("metadata.json")).get(FUSED_KEY)
    if not fused:
        return keras.models.load_model(path, **kwargs)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder) / path.name
        _rewrite(path, tmp, to_keras=False)
        return keras.models.load_model(tmp, **kwargs)

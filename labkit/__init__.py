"""labkit: the companion library of the U-Net medical image segmentation course.

Every piece of logic a chapter needs lives here, one topic per module:

- :mod:`labkit.config` — profiles, data roots and the cache folder.
- :mod:`labkit.io` — NIfTI input/output, spacing, orientation, resampling.
- :mod:`labkit.phantoms` — primitives that synthetic twin cohorts are built from.
- :mod:`labkit.datasets` — one module per study dataset: real loaders and twin writers.
- :mod:`labkit.intensity`, :mod:`labkit.ct` — normalisation; CT windows and skull removal.
- :mod:`labkit.models`, :mod:`labkit.layers`, :mod:`labkit.losses`, :mod:`labkit.metrics` — U-Nets
  and what trains them.
- :mod:`labkit.evaluation` — per-case metrics on the physical spacing.
- :mod:`labkit.training`, :mod:`labkit.inference`, :mod:`labkit.pipeline` — fit, predict, feed.
- :mod:`labkit.viz`, :mod:`labkit.charts` — three-plane views, overlays and montages; learning
  curves, feature maps and per-case charts.
- :mod:`labkit.studies` and :mod:`labkit.cli` — study recipes and the command line.

labkit runs on any Keras 3 backend (``KERAS_BACKEND``: ``tensorflow``, the default, ``jax`` or
``torch``); where TensorFlow is not installed and no backend was chosen, importing labkit picks JAX
(else PyTorch) before Keras loads.

Importing labkit registers its Keras layers, losses and metrics, so a model saved by the course
reloads with plain ``keras.models.load_model(path)`` and no ``custom_objects``. The files hold
Keras' own layers only (:mod:`labkit.saving`): without labkit,
``keras.models.load_model(path, compile=False)`` loads them for prediction.
"""

import json
import os
from importlib.util import find_spec

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's C++ start-up chatter down


def _default_backend() -> None:
    """Keras' default backend is TensorFlow: where it is not installed and nothing chose another
    (``KERAS_BACKEND``, or ``~/.keras/keras.json``, which Keras writes naming TensorFlow unless
    told otherwise), use JAX, else PyTorch, before Keras is imported."""
    if "KERAS_BACKEND" in os.environ or find_spec("tensorflow") is not None:
        return
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    try:
        with open(os.path.join(home, "keras.json")) as f:
            if json.load(f).get("backend", "tensorflow") != "tensorflow":
                return
    except (OSError, ValueError):
        pass
    os.environ["KERAS_BACKEND"] = "jax" if find_spec("jax") is not None else "torch"


_default_backend()

__version__ = "0.1.0"

from labkit import layers, losses, metrics  # noqa: E402  (after the backend is set)

__all__ = ["__version__", "layers", "losses", "metrics"]

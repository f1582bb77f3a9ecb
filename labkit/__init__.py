"""labkit: the companion library of the U-Net medical image segmentation course.

Every piece of logic a chapter needs lives here, one topic per module:

- :mod:`labkit.config` — profiles, data roots and the cache folder.
- :mod:`labkit.io` — NIfTI input/output, spacing, orientation, resampling.
- :mod:`labkit.phantoms` — primitives that synthetic twin cohorts are built from.
- :mod:`labkit.datasets` — one module per study dataset: real loaders and twin writers.
- :mod:`labkit.viz` — three-plane views, overlays and montages.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

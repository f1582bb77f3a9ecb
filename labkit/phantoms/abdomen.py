"""Procedural contrast-enhanced abdominal CT in Hounsfield units.

Organs are analytic shapes (ellipses, ellipsoids, cylinders) evaluated on a millimetre grid that a
smooth random displacement bends per subject, so every subject differs in shape and position while
the labels stay exact. Values follow portal-venous-phase CT: fat about -100 HU, muscle about 50,
liver 90-130, spleen slightly brighter, kidneys brightest, bone several hundred, air -1000, and
hypodense liver tumours 30-80 HU below the liver around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from labkit.phantoms.deform import smooth_displacement
from labkit.phantoms.lesions import scatter_lesions

__all__ = ["ABDOMEN_LABELS", "AbdomenPhantom", "abdomen_case", "abdominal_ct"]

#: Structures an :class:`AbdomenPhantom` carries as masks, in painting order.
ABDOMEN_LABELS = ("body", "muscle", "liver", "tumour", "spleen", "kidneys", "spine", "aorta")


@dataclass(frozen=True)
class AbdomenPhantom:
    """One synthetic abdominal CT.

    Attributes:
        image: Hounsfield units, float32 ``(x, y, z)``; x right, y anterior, z superior.
        masks: Structure name (see :data:`ABDOMEN_LABELS`) to bool mask ``(x, y, z)``.
        affine: ``(4, 4)`` voxel-to-world matrix in mm (RAS+).
    """

    image: np.ndarray
    masks: dict[str, np.ndarray]
    affine: np.ndarray


def _ellipsoid(pos: np.ndarray, center: Sequence[float], radii: Sequence[float]) -> np.ndarray:
    d = sum(((pos[i] - center[i]) / radii[i]) ** 2 for i in range(len(center)))
    return d < 1.0


def abdominal_ct(
    rng: np.random.Generator,
    shape: Sequence[int] = (128, 128, 48),
    spacing: Sequence[float] = (2.5, 2.5, 5.0),
    tumours: tuple[int, int] = (0, 5),
    tumour_radius_mm: tuple[float, float] = (4.0, 25.0),
    noise_hu: float = 12.0,
) -> AbdomenPhantom:
    """Draw one abdominal CT with liver, liver tumours, spleen, kidneys, spine and aorta.

    Args:
        rng: Random generator.
        shape: Grid shape ``(x, y, z)``.
        spacing: Voxel size in mm; the field of view is ``shape * spacing``.
        tumours: Inclusive range of the number of liver tumours.
        tumour_radius_mm: Range of tumour radii (log-uniform: small ones are common).
        noise_hu: Standard deviation of Gaussian noise in HU.

    Returns:
        The phantom. A field of view smaller than about 300 x 250 x 200 mm cuts organs.
    """
    shape = tuple(int(s) for s in shape)
    spacing = np.asarray(spacing, dtype=np.float32)
    centre = (np.array(shape, dtype=np.float32) - 1) / 2
    disp = smooth_displacement(shape, rng, magnitude_vox=1.0, control_spacing_vox=max(shape) / 3)
    idx = np.indices(shape, dtype=np.float32)
    pos = (idx - centre[:, None, None, None]) * spacing[:, None, None, None]
    pos += disp * np.float32(rng.uniform(6.0, 12.0))  # the same bend everywhere, in mm
    s = rng.uniform(0.85, 1.1)  # body size
    x, y = pos[0], pos[1]

    body = ((x / (150 * s)) ** 2 + ((y + 5) / (110 * s)) ** 2) < 1
    muscle = body & ~(((x / (132 * s)) ** 2 + ((y + 5) / (92 * s)) ** 2) < 1)
    liver_c = (55 * s + rng.normal(0, 5), 5 * s + rng.normal(0, 5), 35 + rng.normal(0, 10))
    liver = _ellipsoid(pos, liver_c, (85 * s, 75 * s, 80) * rng.uniform(0.9, 1.1, 3))
    liver |= _ellipsoid(
        pos, (liver_c[0] - 60 * s, liver_c[1] + 30, liver_c[2] + 20), (55 * s, 35, 40)
    )
    liver &= y < 80 * s
    spleen_c = (-85 * s + rng.normal(0, 5), -40 * s + rng.normal(0, 5), 45 + rng.normal(0, 10))
    spleen = _ellipsoid(pos, spleen_c, (25 * s, 45 * s, 55) * rng.uniform(0.8, 1.2, 3))
    kz = -25 + rng.normal(0, 8)
    kidneys = _ellipsoid(pos, (70 * s, -50 * s, kz), (28, 24, 55)) | _ellipsoid(
        pos, (-70 * s, -50 * s, kz + 10), (28, 24, 55)
    )
    spine = (x**2 + (y + 70 * s) ** 2 < 20**2) | (x**2 + (y + 100 * s) ** 2 < 10**2)
    aorta = (x + 15) ** 2 + (y + 40 * s) ** 2 < 12**2
    for organ in (liver, spleen, kidneys, spine, aorta):
        organ &= body & ~muscle

    region = liver & (np.abs(x - liver_c[0]) < 70 * s)
    count = int(rng.integers(tumours[0], tumours[1] + 1))
    tumour = scatter_lesions(
        region, rng, count, tumour_radius_mm, spacing, elongation=1.4, roughness=0.25
    )

    hu = np.full(shape, -1000.0, dtype=np.float32)
    values = {
        "body": -100.0 + rng.normal(0, 10),
        "muscle": 50.0 + rng.normal(0, 5),
        "liver": rng.uniform(95, 130),
        "spleen": rng.uniform(110, 140),
        "kidneys": rng.uniform(150, 200),
        "spine": rng.uniform(250, 400),
        "aorta": rng.uniform(160, 220),
    }
    inner = body & ~muscle & ~(((x / (125 * s)) ** 2 + ((y + 5) / (85 * s)) ** 2) >= 0.85)
    masks = {
        "body": body,
        "muscle": muscle,
        "liver": liver & ~tumour,
        "tumour": tumour,
        "spleen": spleen,
        "kidneys": kidneys,
        "spine": spine,
        "aorta": aorta,
    }
    for name in ("body", "muscle"):
        hu[masks[name]] = values[name]
    hu[inner] = 30.0 + rng.normal(0, 5)  # bowel and mesentery
    for name in ("liver", "spleen", "kidneys", "spine", "aorta"):
        hu[masks[name]] = values[name]
    hu[tumour] = values["liver"] - rng.uniform(30, 80)
    hu = hu + rng.normal(0.0, noise_hu, shape).astype(np.float32)
    affine = np.diag([*spacing.tolist(), 1.0])
    affine[:3, 3] = -centre * spacing
    masks["liver"] = liver  # the liver label includes its tumours; "tumour" marks them
    return AbdomenPhantom(image=hu, masks=masks, affine=affine)


def abdomen_case(task: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One case of an MSD abdominal twin task: CT ``(128, 128, 40)`` in HU (int16, 2.5 x 2.5 x
    5 mm), its label map and affine. ``task`` ``"liver"``: 1 liver, 2 tumour (one to six
    tumours); ``"spleen"``: 1 spleen."""
    tasks = {"liver": ((1, 6), ("liver", "tumour")), "spleen": ((0, 2), ("spleen",))}
    if task not in tasks:
        raise ValueError(f"task must be 'liver' or 'spleen'; got {task!r}.")
    tumours, structures = tasks[task]
    ph = abdominal_ct(rng, shape=(128, 128, 40), spacing=(2.5, 2.5, 5.0), tumours=tumours)
    label = np.sum([ph.masks[s] for s in structures], axis=0, dtype=np.uint8)  # a tumour: 1 + 1
    return np.round(ph.image).astype(np.int16), label, ph.affine

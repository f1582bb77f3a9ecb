"""Primitives that synthetic twin cohorts are made of.

- :mod:`~labkit.phantoms.anatomy` — real adult brain anatomy (MNI ICBM152 2009 template and
  tissue maps shipped inside nilearn) and the head layers around it.
- :mod:`~labkit.phantoms.deform` — smooth random deformations and rigid motion per subject.
- :mod:`~labkit.phantoms.contrast` — tissue maps to MRI contrasts (T1, T1Gd, T2, FLAIR) and CT
  in Hounsfield units.
- :mod:`~labkit.phantoms.lesions` — irregular blobs and lesion placement in a region.
- :mod:`~labkit.phantoms.artefacts` — bias fields and noise.
- :mod:`~labkit.phantoms.head` — a whole subject: deformed anatomy, head layers, lesions, and
  any set of contrasts that agree voxel for voxel.
- :mod:`~labkit.phantoms.hippocampus` — a hippocampus crop on MNI anatomy (MSD Task04 twin).
- :mod:`~labkit.phantoms.abdomen` — procedural contrast-enhanced abdominal CT.
- :mod:`~labkit.phantoms.tumour` — a brain tumour with edema and mass effect (BraTS twin).
- :mod:`~labkit.phantoms.haemorrhage` — a head CT with a bleed, in thick slices (INSTANCE twin).
- :mod:`~labkit.phantoms.neonatal` — a preterm head with dilated ventricles (PHH twin).

Every function that draws randomness takes a :class:`numpy.random.Generator`, so a cohort is a
pure function of its seed.
"""

from labkit.phantoms.abdomen import ABDOMEN_LABELS, AbdomenPhantom, abdominal_ct
from labkit.phantoms.anatomy import BrainAnatomy, head_layers, mni_brain
from labkit.phantoms.artefacts import add_noise, bias_field
from labkit.phantoms.contrast import BRAIN_CONTRASTS, overlay, tissue_image
from labkit.phantoms.deform import random_rotation, smooth_displacement, smooth_noise, warp
from labkit.phantoms.head import LESION_REGIONS, SyntheticHead, lesion_regions, synthetic_head
from labkit.phantoms.hippocampus import HippocampusCrop, hippocampus_labels, hippocampus_mri
from labkit.phantoms.lesions import irregular_blob, scatter_lesions

__all__ = [
    "ABDOMEN_LABELS",
    "BRAIN_CONTRASTS",
    "LESION_REGIONS",
    "AbdomenPhantom",
    "BrainAnatomy",
    "HippocampusCrop",
    "SyntheticHead",
    "abdominal_ct",
    "add_noise",
    "bias_field",
    "head_layers",
    "hippocampus_labels",
    "hippocampus_mri",
    "irregular_blob",
    "lesion_regions",
    "mni_brain",
    "overlay",
    "random_rotation",
    "scatter_lesions",
    "smooth_displacement",
    "smooth_noise",
    "synthetic_head",
    "tissue_image",
    "warp",
]

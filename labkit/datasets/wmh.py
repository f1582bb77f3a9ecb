"""FLAIR with white-matter hyperintensity masks in the WMH challenge layout, and a twin in it.

The WMH Segmentation Challenge (MICCAI 2017; Kuijf et al. 2019, IEEE TMI 38:2556-2568) ships its
training set as one folder per site and one folder per subject, with the images the organisers
preprocessed (bias-field corrected, T1 registered to FLAIR) in ``pre/``::

    training/
        Utrecht/0/pre/FLAIR.nii.gz     # bias-corrected FLAIR
        Utrecht/0/pre/T1.nii.gz        # T1 on the FLAIR's grid
        Utrecht/0/wmh.nii.gz           # 0 background, 1 WMH, 2 other pathology
        Singapore/50/...
        GE3T/100/...

Label 2 marks other pathology (infarcts and the like); the challenge leaves those voxels out of
every metric. :func:`load_wmh` finds every subject folder below the root, so the later releases'
deeper nesting (``Amsterdam/GE3T/100``) reads too; a subject's site is the path between the root
and its folder.

:func:`write_wmh_twin` writes a synthetic cohort in the same layout: adult heads from the MNI
anatomy imaged with FLAIR and T1 contrast, periventricular lesions that grow into confluent caps
and bands as the lesion load rises, small deep white-matter lesions (many small, few large),
occasional infarcts labelled 2 (a dark cavity with a bright gliotic rim on FLAIR), and three
sites with their own voxel size, slice thickness, contrast, intensity scale, bias field and
noise (:data:`SITES`), so that a model trained on two sites meets a real shift on the third.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

import labkit
from labkit.datasets.base import Case, Cohort, declared_labels
from labkit.datasets.layout import Layout
from labkit.datasets.twins import cached_cohort, draw_cases
from labkit.errors import DatasetLayoutError
from labkit.io import save_nifti
from labkit.phantoms.hyperintensities import SITES, wmh_subject

__all__ = [
    "IGNORE_LABEL",
    "LABELS",
    "LAYOUT",
    "load_wmh",
    "write_wmh_twin",
]


#: The label the challenge scores (0 is background).
LABELS = {1: "wmh"}


#: Other pathology: excluded from every metric, in the reference and in the prediction.
IGNORE_LABEL = 2


#: The images a subject's pre/ folder holds, in the challenge's file names.
_MODALITIES = ("FLAIR", "T1")


#: T1 signal of the lesion classes (WMH and gliosis are grey-matter dark, the cavity CSF-dark).
def load_wmh(root: str | Path, modalities: Sequence[str] = ("FLAIR",)) -> Cohort:
    """Read a WMH challenge folder: ``<site>/<subject>/pre/FLAIR.nii.gz`` and ``wmh.nii.gz``.

    Args:
        root: The training folder (it holds the site folders), or one site's folder.
        modalities: Images per subject, in channel order: ``("FLAIR",)`` (what the study used)
            or ``("FLAIR", "T1")``.

    Returns:
        The cohort sorted by site and subject. Case ids are ``<site>_<subject>`` (path separators
        become ``_``); ``meta`` holds ``site`` and ``subject``. ``label`` is ``wmh.nii.gz``, or
        ``None`` where a subject has none (a test set).

    Raises:
        DatasetLayoutError: If no subject folder is found, a subject lacks a modality, or a
            modality is unknown.
    """
    root = Path(root)
    unknown = [m for m in modalities if m not in _MODALITIES]
    if unknown or not modalities:
        raise DatasetLayoutError(
            f"unknown WMH modalities {list(unknown)}; expected some of {list(_MODALITIES)} "
            "(the challenge's pre/ folder holds FLAIR.nii.gz and T1.nii.gz)."
        )
    flairs = sorted(root.glob(LAYOUT.markers[0]))
    if not flairs:
        raise DatasetLayoutError(
            f"no subject folders in {root}: expected {LAYOUT.describe()}, as in the WMH "
            "Segmentation Challenge's training set. Point at the folder that holds the site "
            "folders."
        )
    cases = []
    for flair in flairs:
        parts = flair.parent.parent.relative_to(root).parts
        between = "/".join(parts[:-1])  # "" when root is one site's folder
        where = {"site": between or ".", "subject": parts[-1]}
        site = between or root.name
        images = tuple(LAYOUT.image_file(root, **where, modality=m) for m in modalities)
        if missing := [str(p) for p in images if not p.is_file()]:
            raise DatasetLayoutError(
                f"subject {flair.parent.parent} lacks {missing}; expected {list(modalities)} in "
                "its pre/ folder. Load it with modalities=('FLAIR',) or add the missing images."
            )
        label = LAYOUT.label_file(root, **where)
        cases.append(
            Case(
                case_id=f"{site.replace('/', '_')}_{parts[-1]}",
                images=images,
                label=label if label.is_file() else None,
                modalities=tuple(modalities),
                meta={
                    "site": site,
                    "subject": parts[-1],
                    **declared_labels({**LABELS, IGNORE_LABEL: "other pathology"}, "wmh.nii.gz"),
                },
            )
        )
    cases.sort(key=lambda c: (c.meta["site"], _natural(c.meta["subject"])))
    return Cohort(root=root, cases=tuple(cases))


#: Where the challenge keeps a subject's files (``{site}`` may be nested, as the later releases'
#: ``Amsterdam/GE3T``; ``{modality}``: FLAIR or T1). Label 2 is left out of every metric and
#: lesions are scored, as the challenge does.
LAYOUT = Layout(
    name="a WMH challenge folder",
    image="{site}/{subject}/pre/{modality}.nii.gz",
    label="{site}/{subject}/wmh.nii.gz",
    markers=("**/pre/FLAIR.nii.gz",),
    load=load_wmh,
    labels=LABELS,
    ignore=(IGNORE_LABEL,),
    lesions=True,
)


def _natural(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (1 << 30, name)


def write_wmh_twin(
    root: str | Path,
    n_per_site: int = 20,
    seed: int = 0,
    sites: Sequence[str] | None = None,
) -> Cohort:
    """Write (or reuse) a synthetic WMH cohort in the challenge layout.

    Args:
        root: Destination (it receives the site folders).
        n_per_site: Subjects per site (the challenge's training set has 20 per site).
        seed: Cohort seed; subject ``i`` of the ``k``-th site is drawn from a generator seeded
            with ``(seed, k, i)``.
        sites: Keys of :data:`SITES` (default: all three).

    Returns:
        The cohort, read back with :func:`load_wmh` (FLAIR only). Subject ids follow the
        challenge's numbering: the ``k``-th site's subjects start at ``50 * k``.
    """
    sites = list(SITES) if sites is None else list(sites)
    if unknown := [s for s in sites if s not in SITES]:
        raise ValueError(f"unknown WMH twin sites {unknown}; expected some of {list(SITES)}.")
    if not 1 <= n_per_site <= 50:
        raise ValueError(f"n_per_site must be between 1 and 50; got {n_per_site}.")

    def subjects() -> Iterator[tuple[dict[str, str], tuple[np.ndarray, ...]]]:
        for site in sites:
            k = list(SITES).index(site)
            draw = functools.partial(wmh_subject, site=site)
            for i, subject in enumerate(draw_cases(draw, n_per_site, (seed, k))):
                yield {"site": site, "subject": str(50 * k + i)}, subject

    def write(folder: Path) -> None:
        for where, (flair, t1, labels, affine) in subjects():
            save_nifti(LAYOUT.image_file(folder, **where, modality="FLAIR"), flair, affine)
            save_nifti(LAYOUT.image_file(folder, **where, modality="T1"), t1, affine)
            save_nifti(LAYOUT.label_file(folder, **where), labels, affine)

    spec = {
        "generator": "wmh",
        "n_per_site": n_per_site,
        "sites": sites,
        "seed": seed,
        "version": labkit.__version__,
    }
    cached_cohort(root, spec, write)
    return load_wmh(root)

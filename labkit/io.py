"""Reading and writing NIfTI volumes. What a volume is, and how it is checked, reoriented and
resampled, live in :mod:`labkit.volume`, :mod:`labkit.checks` and :mod:`labkit.spatial`.

A :class:`Volume` keeps a voxel array together with the affine that places it in the scanner's
world (millimetres) and the header it was read with. Every function that changes the voxel grid
(reorientation, resampling) returns a new :class:`Volume` whose affine describes the new grid, so
physical positions are never lost.

Arrays are channels-last: a 3D volume is ``(x, y, z)`` and a multi-modal volume ``(x, y, z, c)``.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from labkit.checks import as_label_map
from labkit.errors import (
    DatasetLayoutError,
    NiftiReadError,
    ShapeError,
)
from labkit.files import atomic_path
from labkit.volume import Volume, voxel_spacing

__all__ = [
    "load_label",
    "load_nifti",
    "nifti_files",
    "nifti_stem",
    "save_nifti",
]


def nifti_stem(path: str | Path) -> str:
    """File name without ``.nii.gz`` or ``.nii``, e.g. ``case_01`` for ``case_01.nii.gz``."""
    name = Path(path).name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def nifti_files(folder: str | Path) -> dict[str, Path]:
    """The ``.nii.gz`` and ``.nii`` files of a folder by case id (see :func:`nifti_stem`), sorted.

    A missing folder gives an empty dict. Hidden files (a name starting with ``.``: macOS'
    ``._`` copies, labkit's temporary files of an interrupted write) are not cases.

    Raises:
        DatasetLayoutError: If one case id has both a ``.nii`` and a ``.nii.gz`` file (which of
            the two is the case cannot be guessed).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    paths = sorted(
        p
        for p in folder.iterdir()
        if p.name.endswith((".nii.gz", ".nii")) and not p.name.startswith(".")
    )
    files: dict[str, Path] = {}
    for p in paths:
        stem = nifti_stem(p)
        if stem in files:
            raise DatasetLayoutError(
                f"{folder} holds both {files[stem].name} and {p.name} for case {stem!r}; "
                "expected one file per case. Remove or rename one of them."
            )
        files[stem] = p
    return files


def _read_error(path: Path, cause: BaseException) -> NiftiReadError:
    return NiftiReadError(
        f"could not read {path} as a NIfTI volume ({type(cause).__name__}: {cause}). "
        "Expected a complete .nii or .nii.gz file; the file may be truncated, corrupt or in "
        "another format. Re-export or re-download it, and check it with `nib-ls` or ITK-SNAP."
    )


def load_nifti(path: str | Path, *, ndim: int | None = None) -> Volume:
    """Read a NIfTI file into a :class:`Volume`, keeping its dtype, affine and header.

    The data are read eagerly, so a truncated or corrupt file fails here with a clear message
    rather than later, deep inside a training loop.

    Args:
        path: A ``.nii`` or ``.nii.gz`` file.
        ndim: Expected number of dimensions: ``3`` for a scalar volume, ``4`` for a multi-modal
            one ``(x, y, z, c)``. A trailing axis of length 1 is dropped when ``ndim=3``.
            ``None`` accepts 3D and 4D.

    Returns:
        The volume; ``array`` has the on-disk dtype unless the header asks for intensity scaling.

    Raises:
        FileNotFoundError: If the file does not exist.
        NiftiReadError: If the file is not a readable NIfTI image.
        ShapeError: If the number of dimensions is not the expected one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no NIfTI file at {path}. Check the path (and the data root, LABKIT_DATA_ROOT); "
            "expected an existing .nii or .nii.gz file."
        )
    try:
        img = nib.load(path)
        if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
            raise NiftiReadError(
                f"{path} is a {type(img).__name__}, not a NIfTI image. Convert it to NIfTI "
                "first (for example with `mri_convert` or SimpleITK)."
            )
        array = np.asanyarray(img.dataobj)
    except NiftiReadError:
        raise
    except (
        OSError,
        EOFError,
        zlib.error,
        gzip.BadGzipFile,
        ValueError,
        nib.filebasedimages.ImageFileError,
    ) as exc:
        raise _read_error(path, exc) from exc
    if ndim == 3 and array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    expected = (3, 4) if ndim is None else (ndim,)
    if array.ndim not in expected:
        raise ShapeError(
            f"{path} has shape {array.shape} ({array.ndim}D); expected a "
            f"{' or '.join(map(str, expected))}D "
            "volume. A 4D file holds several modalities or time points: pick one with "
            "`volume.array[..., k]`, or load it with ndim=4."
        )
    return Volume(array=array, affine=img.affine.copy(), header=img.header.copy(), path=path)


def load_label(path: str | Path) -> Volume:
    """Read a 3D label map, checking that it holds non-negative whole numbers.

    Args:
        path: A ``.nii`` or ``.nii.gz`` label file.

    Returns:
        A :class:`Volume` with an unsigned integer ``(x, y, z)`` array.

    Raises:
        FileNotFoundError, NiftiReadError, ShapeError: As :func:`load_nifti`.
        LabelValueError: If values are not whole numbers >= 0.
    """
    volume = load_nifti(path, ndim=3)
    return volume.with_array(as_label_map(volume.array, str(volume.path)))


def _save_dtype(array: np.ndarray) -> np.ndarray:
    if array.dtype == bool:
        return array.astype(np.uint8)
    if array.dtype == np.int64:
        if array.size == 0 or (
            array.min() >= np.iinfo(np.int32).min and array.max() <= np.iinfo(np.int32).max
        ):
            return array.astype(np.int32)
    if array.dtype == np.float16:
        return array.astype(np.float32)
    return array


def save_nifti(
    path: str | Path,
    array: np.ndarray,
    affine: np.ndarray,
    header: nib.Nifti1Header | None = None,
) -> Path:
    """Write an array as a NIfTI file, keeping its dtype and writing the affine as qform and sform.

    Args:
        path: Output file; ``.nii.gz`` is compressed. Parent folders are created.
        array: Voxels, ``(x, y, z)`` or ``(x, y, z, c)``. ``bool`` is written as ``uint8`` and
            ``int64`` as ``int32`` when the values fit (NIfTI readers handle these best).
        affine: ``(4, 4)`` voxel-to-world matrix.
        header: Header to start from (e.g. ``volume.header``); its dtype is replaced by the array's.

    Returns:
        The path written.
    """
    path = Path(path)
    array = _save_dtype(np.asarray(array))
    affine = np.asarray(affine, dtype=float)
    voxel_spacing(affine)  # validates the shape
    hdr = header.copy() if header is not None else None
    img = nib.Nifti1Image(array, affine, header=hdr)
    img.header.set_data_dtype(array.dtype)
    img.header.set_slope_inter(1.0, 0.0)  # the array already holds final values
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    with atomic_path(path) as tmp:  # a killed process leaves no half-written volume
        nib.save(img, tmp)
    return path

"""Reading and writing NIfTI volumes, voxel spacing, orientation and resampling.

A :class:`Volume` keeps a voxel array together with the affine that places it in the scanner's
world (millimetres) and the header it was read with. Every function that changes the voxel grid
(reorientation, resampling) returns a new :class:`Volume` whose affine describes the new grid, so
physical positions are never lost.

Arrays are channels-last: a 3D volume is ``(x, y, z)`` and a multi-modal volume ``(x, y, z, c)``.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel import orientations as ornt
from scipy import ndimage

from labkit.errors import (
    DatasetLayoutError,
    ImageValueError,
    LabelValueError,
    NiftiReadError,
    ShapeError,
)
from labkit.files import atomic_path

__all__ = [
    "Volume",
    "as_label_map",
    "check_declared_labels",
    "check_image",
    "check_same_grid",
    "load_label",
    "load_nifti",
    "nifti_files",
    "nifti_stem",
    "orientation",
    "reorient",
    "resample_to_shape",
    "resample_to_spacing",
    "save_nifti",
    "voxel_spacing",
]


@dataclass(frozen=True)
class Volume:
    """A voxel array on a grid placed in world space by an affine.

    Attributes:
        array: Voxel values, shape ``(x, y, z)`` or ``(x, y, z, c)`` (channels-last).
        affine: ``(4, 4)`` voxel-to-world matrix in millimetres (RAS+ world, as NIfTI defines).
        header: The NIfTI header the volume was read with, or ``None`` for a new array.
        path: The file the volume came from, or ``None``.
    """

    array: np.ndarray
    affine: np.ndarray
    header: nib.Nifti1Header | None = field(default=None, repr=False, compare=False)
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the voxel array."""
        return tuple(self.array.shape)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in millimetres along the three array axes, from the affine."""
        return voxel_spacing(self.affine)

    @property
    def name(self) -> str:
        """File name when the volume came from a file, else ``"<array>"``."""
        return str(self.path) if self.path is not None else "<array>"

    def with_array(self, array: np.ndarray, affine: np.ndarray | None = None) -> Volume:
        """Return a copy holding ``array`` (and ``affine``, when given) with the same header."""
        return replace(self, array=array, affine=self.affine if affine is None else affine)


def voxel_spacing(affine: np.ndarray) -> tuple[float, float, float]:
    """Return the voxel size in mm along each array axis: the norms of the affine's columns.

    Args:
        affine: ``(4, 4)`` voxel-to-world matrix.

    Returns:
        ``(sx, sy, sz)`` in millimetres; correct for oblique and flipped axes too.
    """
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4):
        raise ShapeError(f"an affine must be a (4, 4) matrix; got shape {affine.shape}.")
    return tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))


def orientation(affine: np.ndarray) -> str:
    """Return the axis codes of a grid, e.g. ``"RAS"`` or ``"LPS"``.

    Each letter names the world direction in which the array index grows along that axis
    (R/L right/left, A/P anterior/posterior, S/I superior/inferior).
    """
    return "".join(ornt.aff2axcodes(np.asarray(affine, dtype=float)))


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


def check_image(volume: Volume) -> Volume:
    """Refuse an image no training or prediction can use: NaN or infinite voxels, or one value
    in all its voxels (per channel).

    A NaN voxel turns every loss and every prediction that touches it into NaN; an all-zero file
    (a failed export, a mask saved as an image) or a degenerate 1x1x1 volume would be normalised
    by a zero range and trained on or predicted silently.

    Args:
        volume: An image ``(x, y, z)`` or ``(x, y, z, c)``.

    Returns:
        ``volume``, unchanged.

    Raises:
        ImageValueError: Naming the file, the shape, and what was found.
    """
    array = volume.array if volume.array.ndim == 4 else volume.array[..., None]
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        raise ImageValueError(
            f"{volume.name} holds {nan} NaN and {inf} infinite voxel(s) (shape {volume.shape}); "
            "expected finite values everywhere. Replace them (for example np.nan_to_num, or the "
            "background value) and save the file again, or leave the case out."
        )
    for c in range(array.shape[-1]):
        channel = array[..., c]
        lo, hi = channel.min(), channel.max()
        if lo == hi:
            where = f" (channel {c})" if array.shape[-1] > 1 else ""
            raise ImageValueError(
                f"{volume.name}{where} holds the single value {lo.item()!r} in all "
                f"{channel.size} voxel(s) (shape {volume.shape}); expected an image with "
                "contrast. The file may be empty, a mask saved as an image, or the wrong file: "
                "check it in a viewer."
            )
    return volume


def check_declared_labels(
    values: Iterable[int], declared: Iterable[int], source: str, fix: str
) -> None:
    """Refuse label values outside those a dataset declares (0, background, is always allowed).

    Args:
        values: The values found (e.g. ``np.unique(label_map)``).
        declared: The values the dataset declares.
        source: What holds them, for the message (a file, or two folders).
        fix: How to fix it, for the message.

    Raises:
        LabelValueError: Naming ``source``, the undeclared values and the declared ones.
    """
    found = sorted({int(v) for v in values})
    allowed = {0, *(int(v) for v in declared)}
    if undeclared := [v for v in found if v not in allowed]:
        raise LabelValueError(
            f"{source} holds label value(s) {undeclared} that the dataset does not declare (it "
            f"declares {sorted(allowed)}; found {found}). {fix}"
        )


def as_label_map(array: np.ndarray, source: str = "<array>") -> np.ndarray:
    """Check that ``array`` holds non-negative integer labels and return it as an integer array.

    Floating-point label files are common (two of the MSD hippocampus labels are float32); they
    are accepted when every value is a whole number, and cast to the smallest unsigned type.

    Args:
        array: Label values, any shape.
        source: File name or description used in error messages.

    Returns:
        The labels as ``uint8`` (or ``uint16``/``int32`` when larger values occur).

    Raises:
        LabelValueError: On NaN/inf, non-integer or negative values.
    """
    array = np.asarray(array)
    if array.dtype == bool:
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise LabelValueError(
                f"{source}: the label map holds NaN or infinite values; expected whole-number "
                "labels. Re-export the segmentation as an integer image."
            )
        frac = array[array != np.round(array)]
        if frac.size:
            examples = ", ".join(f"{v:g}" for v in np.unique(frac)[:5])
            raise LabelValueError(
                f"{source}: the label map holds non-integer values (e.g. {examples}); expected "
                "whole-number labels such as 0, 1, 2. Was an image passed as a label, or was the "
                "label resampled with linear interpolation? Resample labels with kind='label'."
            )
    elif not np.issubdtype(array.dtype, np.integer):
        raise LabelValueError(f"{source}: label dtype {array.dtype} is not numeric.")
    if array.size and array.min() < 0:
        raise LabelValueError(
            f"{source}: the label map holds negative values (min {array.min()}); expected "
            "labels >= 0 with 0 as background."
        )
    top = int(array.max()) if array.size else 0
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.int32
    return array.astype(dtype, copy=False)


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


def check_same_grid(image: Volume, label: Volume, atol: float = 1e-3) -> None:
    """Raise if two volumes do not share one voxel grid (same spatial shape and affine).

    Args:
        image: Image volume, ``(x, y, z)`` or ``(x, y, z, c)``.
        label: Label volume, ``(x, y, z)``.
        atol: Tolerance on affine entries in millimetres (headers round-trip through float32).

    Raises:
        ShapeError: Naming both files, their shapes or affines, and how to fix it.
    """
    if image.shape[:3] != label.shape[:3]:
        raise ShapeError(
            f"image {image.name} has spatial shape {image.shape[:3]} but label {label.name} has "
            f"{label.shape[:3]}; expected the same grid. Resample the label onto the image grid "
            "(labkit.io.resample_to_shape(label, image.shape[:3], kind='label')) or check that the "
            "files belong to the same case."
        )
    if not np.allclose(image.affine, label.affine, atol=atol):
        raise ShapeError(
            f"image {image.name} and label {label.name} have the same shape {image.shape[:3]} "
            f"but different affines:\n{np.round(image.affine, 3)}\n"
            f"vs\n{np.round(label.affine, 3)}\nexpected identical grids. The label was probably "
            "saved in another orientation or spacing: reorient both with labkit.io.reorient, or "
            "re-export the label on the image grid."
        )


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


def reorient(volume: Volume, target: str = "RAS") -> Volume:
    """Flip and permute the array axes so that they point along ``target`` (default RAS+).

    Only axis flips and permutations are applied (no interpolation), so values are untouched
    and labels stay labels. The affine is updated so every voxel keeps its world position.

    Args:
        volume: Input volume, ``(x, y, z)`` or ``(x, y, z, c)``.
        target: Three axis codes, e.g. ``"RAS"`` (NIfTI canonical) or ``"LPS"`` (DICOM/ITK).

    Returns:
        The reoriented volume.
    """
    target = target.upper()
    if len(target) != 3 or set(target) - set("RLAPSI"):
        raise ValueError(
            f"target orientation {target!r} must be three of R/L, A/P, S/I, e.g. 'RAS'."
        )
    current = ornt.io_orientation(volume.affine)
    transform = ornt.ornt_transform(current, ornt.axcodes2ornt(tuple(target)))
    array = ornt.apply_orientation(volume.array, transform)
    affine = volume.affine @ ornt.inv_ornt_aff(transform, volume.array.shape[:3])
    return volume.with_array(np.ascontiguousarray(array), affine)


def _zoom_axes(array: np.ndarray, shape: Sequence[int], order: int) -> np.ndarray:
    factors = [n / o for n, o in zip(shape, array.shape[:3], strict=True)]
    if array.ndim == 4:
        return np.stack(
            [_zoom_axes(array[..., c], shape, order) for c in range(array.shape[3])], -1
        )
    out = ndimage.zoom(array, factors, order=order, mode="nearest", grid_mode=True)
    return out


def resample_to_shape(volume: Volume, shape: Sequence[int], kind: str = "image") -> Volume:
    """Resample a volume to a new grid shape covering the same field of view.

    Voxel centres of the new grid are spread evenly over the old grid's extent (the outer voxel
    edges stay in place), and the affine is updated to match, so world positions are preserved.

    Args:
        volume: Input, ``(x, y, z)`` or ``(x, y, z, c)``.
        shape: New ``(x, y, z)`` shape.
        kind: ``"image"`` — linear interpolation, float32 result; ``"label"`` — nearest
            neighbour, the input's integer dtype, never a label value that was not there.

    Returns:
        The resampled volume with its new affine.
    """
    if kind not in ("image", "label"):
        raise ValueError(f"kind must be 'image' or 'label'; got {kind!r}.")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ShapeError(f"target shape must be three positive sizes (x, y, z); got {shape}.")
    old = np.array(volume.array.shape[:3], dtype=float)
    scale = old / np.array(shape, dtype=float)
    if kind == "label":
        array = _zoom_axes(as_label_map(volume.array, volume.name), shape, order=0)
    else:
        array = _zoom_axes(volume.array.astype(np.float32, copy=False), shape, order=1)
    step = np.eye(4)
    step[:3, :3] = np.diag(scale)
    step[:3, 3] = 0.5 * scale - 0.5
    return volume.with_array(array, volume.affine @ step)


def resample_to_spacing(
    volume: Volume, spacing: float | Sequence[float], kind: str = "image"
) -> Volume:
    """Resample a volume to (about) a given voxel size in millimetres.

    The new shape is ``round(old_shape * old_spacing / spacing)``; the exact spacing of the result
    is ``old_spacing * old_shape / new_shape`` (it differs from the request by under half a voxel
    over the field of view), and is what the returned affine records.

    Args:
        volume: Input, ``(x, y, z)`` or ``(x, y, z, c)``.
        spacing: One size for all axes, or ``(sx, sy, sz)`` in mm.
        kind: ``"image"`` (linear) or ``"label"`` (nearest neighbour), as :func:`resample_to_shape`.

    Returns:
        The resampled volume.
    """
    target = np.broadcast_to(np.asarray(spacing, dtype=float), (3,))
    if np.any(target <= 0):
        raise ValueError(f"spacing must be positive millimetres; got {tuple(target)}.")
    old_shape = np.array(volume.array.shape[:3], dtype=float)
    shape = np.maximum(1, np.round(old_shape * np.array(volume.spacing) / target)).astype(int)
    return resample_to_shape(volume, tuple(shape), kind=kind)

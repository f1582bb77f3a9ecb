"""The WMH recipe: white-matter hyperintensities in FLAIR with a 3D U-Net, scored per subject.

After the study "Segmentation of white matter hyperintensities using modified 3D U-net" (course
write-up 001): the WMH Segmentation Challenge's training set (60 subjects, 20 from each of three
sites), the bias-corrected FLAIR only, every volume resized to 128x128x16, affine augmentation
growing the set to 240 volumes (three copies of each), and a 3D U-Net after Cicek et al. (2016)
with 3x3x1 kernels and no batch normalisation. The study reported a Dice of 0.73 without and 0.77
with augmentation (0.70 ± 0.12 per volume on 54 un-augmented volumes).

What the write-up does not say, this recipe chooses and says so: the loss (soft Dice, as it
reported Dice, summed over the batch: per volume, a volume or patch without WMH drove the
networks, which have no batch norm, into predicting nothing), the optimiser (Adam), the
intensity normalisation (a z-score over the head), the split (stratified by site, so every site
is in training and test), and the prediction on the source grid (the probability is resized
back, then thresholded). Evaluation follows the
challenge: label 2 (other pathology) is left out, and every subject gets Dice, HD95 (mm), the
absolute volume difference (%), lesion recall and lesion F1.

Profiles:

- ``full`` — the study's input (128x128x16), a Cicek-width U-Net (32 filters, three poolings).
- ``quick`` — a CPU budget of seconds per run: 64x64x16 input and 8 filters.

Settings change per run (``train(..., overrides={"copies": 0})``); ``test_site`` turns the split
into leave-one-site-out (train on the other sites, test on every subject of that one).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from labkit import experiments, losses
from labkit import metrics as keras_metrics
from labkit.augment import augmented_copies, volume_augmentation
from labkit.datasets.base import Cohort, load_case
from labkit.datasets.wmh import IGNORE_LABEL, LABELS, load_wmh, write_wmh_twin
from labkit.evaluation import dice, evaluate_labels, summarize
from labkit.inference import sliding_window
from labkit.intensity import zscore
from labkit.io import Volume, check_image, load_nifti, nifti_files
from labkit.models import unet
from labkit.pipeline import fixed_patch_dataset, patch_dataset, slice_dataset
from labkit.splits import leave_group_out, stratified_split_ids
from labkit.studies import register
from labkit.studies.recipe import Inputs, Recipe, RunContext
from labkit.studies.runs import progress
from labkit.transforms import Resize, resize, undo

__all__ = [
    "CHALLENGE_METRICS",
    "INPUTS",
    "PROFILES",
    "RECIPE",
    "THRESHOLDS",
    "WMHProfile",
    "WMHRecipe",
    "ablation_variants",
    "build_model",
    "challenge_rows",
    "choose_threshold",
    "input_grid",
    "normalise",
    "predict",
    "predict_probability",
    "predict_volume",
    "prepare",
    "preprocess",
    "repeat_runs",
    "resize_ceiling",
    "resized_grid_dice",
    "run_threshold",
    "settings",
    "site_groups",
    "split_cohort",
    "synth",
    "train",
    "training_data",
    "validation_data",
]

#: How a FLAIR becomes network input: the study's whole-volume resize, or patches at resolution.
INPUTS = ("resize", "patches")

#: Candidate thresholds for ``tune_threshold``.
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)

#: The challenge's five metrics, in its order.
CHALLENGE_METRICS = ("dice", "hd95", "avd_pct", "lesion_recall", "lesion_f1")


@dataclass(frozen=True)
class WMHProfile:
    """Settings of one profile of the WMH recipe.

    Attributes:
        shape: Input grid every FLAIR is resized to (the study: 128x128x16).
        epochs: Training epochs.
        batch_size: Volumes per batch.
        learning_rate: Adam's learning rate.
        filters: Filters of the U-Net's first level (doubling at each level down).
        depth: Poolings of the U-Net (2x2x2 each).
        kernel: Convolution kernel (the study: 3x3x1, in-plane only).
        loss: A :func:`labkit.losses.get` name.
        copies: Augmented copies of each training volume (the study: 3, 60 -> 240 volumes).
        rotate_degrees: Largest in-plane rotation of the augmentation.
        scale: Largest in-plane scaling of the augmentation (a fraction).
        shift_voxels: Largest in-plane shift of the augmentation, in input voxels.
        fractions: Subject shares of train, validation and test, within every site.
        test_site: Leave this site out: test on all its subjects, train on the others.
        threshold: Probability above which a voxel is WMH.
        input: ``"resize"`` (the study: every volume resized to ``shape``) or ``"patches"``
            (volumes resampled to ``spacing``, keeping their resolution; the network trains on
            ``shape``-sized patches and predicts with a sliding window).
        spacing: Voxel size in mm of the ``"patches"`` input.
        patches_per_volume: Patches drawn from each training volume per epoch.
        foreground: Share of the patches centred on a WMH voxel.
        tune_threshold: Choose ``threshold`` after training: the candidate of
            :data:`THRESHOLDS` with the best mean Dice on the validation subjects.
        split_seed: Seed of the split (-1: the run's seed), so that runs with other seeds can
            test the same subjects.
    """

    shape: tuple[int, int, int]
    epochs: int
    batch_size: int
    learning_rate: float
    filters: int
    depth: int = 3
    kernel: tuple[int, int, int] = (3, 3, 1)
    loss: str = "batch_dice"
    copies: int = 3
    rotate_degrees: float = 10.0
    scale: float = 0.1
    shift_voxels: float = 4.0
    fractions: tuple[float, float, float] = (0.6, 0.1, 0.3)
    test_site: str = ""
    threshold: float = 0.5
    input: str = "resize"
    spacing: tuple[float, float, float] = (2.0, 2.0, 3.0)
    patches_per_volume: int = 4
    foreground: float = 0.5
    tune_threshold: bool = False
    split_seed: int = -1


PROFILES = {
    # Adam at 1e-3 (was 3e-3) and batch Dice (was per-volume soft Dice): with either old
    # choice, runs fell to predicting nothing and never left it (benchmarks/README.md, "WMH
    # collapse")
    "quick": WMHProfile(shape=(64, 64, 16), epochs=12, batch_size=4, learning_rate=1e-3, filters=8),
    "full": WMHProfile(
        shape=(128, 128, 16), epochs=60, batch_size=4, learning_rate=1e-4, filters=32
    ),
}


def settings(profile: str, overrides: Mapping[str, Any] | None = None) -> WMHProfile:
    """The settings of a profile, with some of them replaced.

    Args:
        profile: ``"quick"`` or ``"full"``.
        overrides: Field name to new value (e.g. ``{"kernel": (3, 3, 3)}``).

    Raises:
        ValueError: For an unknown profile or field, or a kernel that is not three odd sizes.
    """
    return RECIPE.settings(profile, overrides)


def normalise(image: np.ndarray) -> np.ndarray:
    """Z-score a FLAIR ``(x, y, z, 1)`` over its head: voxels above a tenth of the 99th
    percentile (sites store FLAIR on scales a hundred times apart; the background is noise)."""
    head = image[..., 0] > 0.1 * np.percentile(image[..., 0], 99)
    return zscore(image, head)


def input_grid(shape: Sequence[int], spacing: Sequence[float], prof: WMHProfile) -> tuple[int, ...]:
    """The grid a FLAIR of ``shape`` and ``spacing`` (mm) is resized to: the study's fixed
    ``prof.shape``, or, for ``"patches"``, whatever keeps its field of view at ``prof.spacing``."""
    if prof.input == "resize":
        return tuple(prof.shape)
    return tuple(
        max(1, round(n * s / t)) for n, s, t in zip(shape[:3], spacing, prof.spacing, strict=True)
    )


def preprocess(
    image: np.ndarray,
    spacing: Sequence[float],
    prof: WMHProfile,
    label: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, list[Resize]]:
    """Resize a FLAIR to the input grid (:func:`input_grid`), then normalise it.

    Args:
        image: FLAIR ``(x, y, z, 1)``.
        spacing: Its voxel size in mm.
        prof: Settings (``input``, ``shape``, ``spacing``).
        label: Challenge labels ``(x, y, z)``; WMH (1) becomes the target, everything else
            (other pathology included) background. Resized by nearest neighbour.

    Returns:
        ``(image (*grid, 1), target (*grid) uint8 or None, records)``; the records take a
        prediction back to the source grid with :func:`labkit.transforms.undo`.
    """
    grid = input_grid(image.shape, spacing, prof)
    resized, record = resize(np.asarray(image, np.float32), grid, order=1)
    target = None
    if label is not None:
        target = resize((np.asarray(label) == 1).astype(np.uint8), grid, order=0)[0]
    return normalise(resized), target, [record]


def build_model(prof: WMHProfile) -> keras.Model:
    """A compiled 3D U-Net for ``(*shape, 1)`` FLAIR volumes, no batch norm, sigmoid output."""
    model = unet(
        (*prof.shape, 1),
        1,
        depth=prof.depth,
        filters=prof.filters,
        kernel_size=prof.kernel,
        pool_size=2,
        batch_norm=False,
        name="unet3d_wmh",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(prof.learning_rate),
        loss=losses.get(prof.loss),
        metrics=[keras_metrics.DiceScore(1)],
    )
    return model


def site_groups(cohort: Cohort) -> dict[str, list[str]]:
    """Case ids per acquisition site."""
    groups: dict[str, list[str]] = {}
    for case in cohort.cases:
        groups.setdefault(case.meta["site"], []).append(case.case_id)
    return groups


def split_cohort(cohort: Cohort, prof: WMHProfile, seed: int) -> dict[str, list[str]]:
    """Train / val / test ids: stratified by site, or leave-one-site-out when ``test_site``.

    Raises:
        ValueError: If ``test_site`` is not a site of the cohort.
    """
    groups = site_groups(cohort)
    train, val, test = prof.fractions
    if not prof.test_site:
        return stratified_split_ids(groups, {"train": train, "val": val, "test": test}, seed)
    if prof.test_site not in groups:
        raise ValueError(
            f"test_site {prof.test_site!r} is not a site of {cohort.root}; its sites are "
            f"{sorted(groups)}."
        )
    rest = {"train": train / (train + val), "val": val / (train + val)}
    return leave_group_out(groups, prof.test_site, rest, seed)


def prepare(
    cohort: Cohort, ids: Sequence[str], prof: WMHProfile, label: str = "volumes"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Preprocessed volumes ``(*grid, 1)`` float32 and targets ``(*grid, 1)`` uint8, per case
    (one grid for all with ``"resize"``; each keeps its own with ``"patches"``)."""
    by_id = {c.case_id: c for c in cohort.cases}
    xs, ys = [], []
    for case_id in progress(list(ids), label):
        loaded = load_case(by_id[case_id])
        image = loaded.image.array[..., :1]
        x, y, _ = preprocess(image, loaded.image.spacing, prof, loaded.label.array)
        xs.append(x)
        ys.append(y[..., None])
    return xs, ys


def training_data(
    xs: list[np.ndarray], ys: list[np.ndarray], prof: WMHProfile, seed: int
) -> tuple[tf.data.Dataset, int]:
    """The training dataset (augmented copies added) and the number of training volumes.

    Whole volumes with ``"resize"``; fresh patches every epoch with ``"patches"``.
    """
    transform = volume_augmentation(prof.rotate_degrees, prof.scale, prof.shift_voxels, seed)
    pairs = [
        augmented_copies(x[None], y[None], prof.copies, transform)
        for x, y in zip(xs, ys, strict=True)
    ]
    xs = [v for p in pairs for v in p[0]]
    ys = [v for p in pairs for v in p[1]]
    if prof.input == "resize":
        data = slice_dataset(np.stack(xs), np.stack(ys), prof.batch_size, shuffle=True, seed=seed)
    else:
        data = patch_dataset(
            xs, ys, prof.shape, prof.patches_per_volume, prof.batch_size, prof.foreground, seed
        )
    return data, len(xs)


def validation_data(xs: list[np.ndarray], ys: list[np.ndarray], prof: WMHProfile, seed: int):
    """The validation dataset: whole volumes, or a fixed draw of patches from each."""
    if prof.input == "resize":
        return slice_dataset(np.stack(xs), np.stack(ys), prof.batch_size)
    return fixed_patch_dataset(xs, ys, prof.shape, prof.patches_per_volume, prof.batch_size, seed)


def predict_probability(
    model: keras.Model, image: np.ndarray, spacing: Sequence[float], prof: WMHProfile
) -> np.ndarray:
    """WMH probability ``(x, y, z)`` float32 on the source grid of one FLAIR ``(x, y, z, 1)``.

    The whole resized volume in one pass (``"resize"``), or overlapping patches blended with
    Gaussian weights (``"patches"``); then resized back to the source grid, linearly.
    """
    x, _, records = preprocess(image, spacing, prof)
    if prof.input == "resize":
        prob = np.asarray(model(x[None], training=False))[0]
    else:
        prob = sliding_window(model, x, prof.shape, overlap=0.25, batch_size=4)
    return undo(prob[..., 0], records)


def predict_volume(
    model: keras.Model,
    image: np.ndarray,
    spacing: Sequence[float],
    prof: WMHProfile,
    threshold: float | None = None,
) -> np.ndarray:
    """WMH mask ``(x, y, z)`` uint8 on the source grid of one FLAIR ``(x, y, z, 1)``.

    The probability is resized back to the source grid and thresholded there (at
    ``threshold``, default ``prof.threshold``), so the mask follows the source's voxels rather
    than the coarse input grid's.
    """
    prob = predict_probability(model, image, spacing, prof)
    return (prob >= (prof.threshold if threshold is None else threshold)).astype(np.uint8)


def resized_grid_dice(
    model: Any,
    image: np.ndarray,
    spacing: Sequence[float],
    label: np.ndarray,
    prof: WMHProfile,
) -> tuple[float, int, int]:
    """The study's measure for one subject: Dice on the input grid, not on the subject's own.

    The output thresholded at ``prof.threshold`` is compared with the WMH mask resized to the
    input grid (nearest neighbour), as a pipeline that resizes first and scores after sees it.

    Args:
        model: Keras model (or callable ``model(x, training=False)``) for ``(1, *grid, 1)``.
        image: FLAIR ``(x, y, z, 1)``.
        spacing: Its voxel size in mm.
        label: Challenge labels ``(x, y, z)``.
        prof: Settings.

    Returns:
        ``(Dice, 2 * overlap, predicted + reference voxels)``; summing the last two over subjects
        gives the pooled Dice the study reported ("for all validation image arrays").
    """
    x, target, _ = preprocess(image, spacing, prof, label)
    pred = np.asarray(model(x[None], training=False))[0, ..., 0] >= prof.threshold
    ref = target == 1
    overlap = 2 * int(np.count_nonzero(pred & ref))
    return dice(pred, ref), overlap, int(np.count_nonzero(pred) + np.count_nonzero(ref))


def resize_ceiling(label: np.ndarray, shape: Sequence[int]) -> float:
    """Dice of a WMH mask sent to an input grid and back, against itself (label 2 left out).

    What the resize alone costs: a network that reproduced the coarse mask perfectly would score
    this on the subject's own grid. The mask is resized linearly (each coarse voxel holds the
    lesion's share of it), back the same way, and thresholded at one half.

    Args:
        label: Challenge labels ``(x, y, z)`` (1 WMH, 2 other pathology).
        shape: The input grid, e.g. ``prof.shape``.
    """
    wmh_mask = (np.asarray(label) == 1).astype(np.float32)
    small, record = resize(wmh_mask, tuple(shape), order=1)
    back = undo(small, [record]) >= 0.5
    return dice(back & (label != IGNORE_LABEL), label == 1)


def run_threshold(config: Mapping[str, Any], prof: WMHProfile) -> float:
    """The threshold a run predicts with: the one it chose on its validation subjects
    (``config.json``'s ``threshold``, with ``tune_threshold``), else its settings' own."""
    return float(config.get("threshold", prof.threshold))


def choose_threshold(
    probs: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    candidates: Sequence[float] = THRESHOLDS,
) -> tuple[float, dict[float, float]]:
    """The threshold with the best mean Dice over some subjects (ties go to the one nearest 0.5).

    Args:
        probs: WMH probabilities ``(x, y, z)``, one per subject.
        refs: Challenge labels ``(x, y, z)`` (label 2 is left out of the Dice).
        candidates: Thresholds to try.

    Returns:
        ``(best threshold, {threshold: mean Dice})``.
    """
    if not probs or len(probs) != len(refs):
        raise ValueError(
            f"choose_threshold needs one reference per probability map; got {len(probs)} and "
            f"{len(refs)}."
        )
    means = {}
    for t in candidates:
        scores = []
        for p, r in zip(probs, refs, strict=True):
            keep = r != IGNORE_LABEL
            scores.append(dice((p >= t) & keep, r == 1))
        means[float(t)] = float(np.mean(scores))
    best = max(means, key=lambda t: (round(means[t], 6), -abs(t - 0.5)))
    return best, means


def challenge_rows(
    pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float], case: str, site: str = ""
) -> list[dict[str, Any]]:
    """The challenge's per-subject metrics of a WMH mask, label 2 left out.

    Args:
        pred: Predicted mask or labels ``(x, y, z)`` (1 is WMH).
        ref: Challenge labels ``(x, y, z)``: 0, 1 WMH, 2 other pathology.
        spacing: Voxel size in mm.
        case: Case id.
        site: Acquisition site, written into the row.

    Returns:
        One row: the columns of :func:`labkit.evaluation.evaluate_labels` with lesion-wise
        columns (components fully connected, as the challenge counts them), plus ``site``.
    """
    rows = evaluate_labels(
        pred, ref, LABELS, spacing, case=case, lesions=True, ignore=(IGNORE_LABEL,)
    )
    return [{**row, "site": site} for row in rows]


def ablation_variants(prof: WMHProfile) -> dict[str, dict[str, Any]]:
    """The study's ablation as overrides of a profile: each choice undone on its own.

    Without augmentation the training set is ``1 + copies`` times smaller, so that variant
    trains that many times more epochs: the same number of gradient steps as the faithful run,
    so that augmentation is not credited with what is only longer training.
    """
    return {
        "faithful": {},
        "no augmentation": {"copies": 0, "epochs": prof.epochs * (1 + prof.copies)},
        "3x3x3 kernels": {"kernel": (3, 3, 3)},
    }


def repeat_runs(
    data: Path,
    out: Path,
    profile: str,
    seeds: Sequence[int],
    variants: Mapping[str, Mapping[str, Any]],
    unseen_sites: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Train every variant with every seed on the same split, and leave-one-site-out runs.

    Args:
        data: A folder in the challenge layout.
        out: Folder for the run folders.
        profile: ``"quick"`` or ``"full"``.
        seeds: Seeds (each draws the weights, the shuffling and the augmentation; the split is
            drawn with seed 0 for all, so that every run tests the same subjects).
        variants: Name to overrides (see :func:`ablation_variants`).
        unseen_sites: Sites to leave out in turn, with the first variant's settings (variant
            name ``"unseen <site>"``).

    Returns:
        One record per run: ``seed``, ``variant``, ``dice`` (test subject to Dice on its own
        grid), ``train_seconds``.
    """
    same_split = {"split_seed": 0}
    records = experiments.repeat(train, data, out, profile, seeds, variants, same_split)
    first = dict(next(iter(variants.values()), {}))
    unseen = {f"unseen {s}": {**first, "test_site": s} for s in unseen_sites}
    return records + experiments.repeat(train, data, out, profile, seeds, unseen, same_split)


def _flairs(input_dir: Path) -> Iterator[tuple[str, Path]]:
    folder = Path(input_dir)
    if any(folder.glob("**/pre/FLAIR.nii.gz")):
        for case in load_wmh(folder).cases:
            yield case.case_id, case.images[0]
        return
    files = nifti_files(folder)
    if not files:
        raise FileNotFoundError(
            f"no FLAIR images in {folder}; expected the challenge layout "
            "(<site>/<subject>/pre/FLAIR.nii.gz) or a folder of FLAIR .nii.gz files."
        )
    yield from files.items()


class WMHRecipe(Recipe):
    """The WMH study's hooks of the recipe skeleton (:class:`labkit.studies.recipe.Recipe`)."""

    name = "wmh"
    description = "white-matter hyperintensities in FLAIR (WMH challenge), 3D U-Net, 3x3x1"
    profiles = PROFILES
    labels = LABELS
    modalities = ("FLAIR",)
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {"input": INPUTS}
    metrics = CHALLENGE_METRICS

    def settings(self, profile: str, overrides: Mapping[str, Any] | None = None) -> WMHProfile:
        """The settings of a profile; the kernel must be three odd sizes."""
        prof = super().settings(profile, overrides)
        if len(prof.kernel) != 3 or any(k < 1 or k % 2 == 0 for k in prof.kernel):
            raise ValueError(
                f"kernel must be three odd sizes such as (3, 3, 1); got {prof.kernel}."
            )
        return prof

    def load(self, data: Path, prof: WMHProfile) -> Cohort:
        return load_wmh(data)

    def split(self, cohort: Cohort, prof: WMHProfile, seed: int) -> dict[str, list[str]]:
        return split_cohort(cohort, prof, seed)

    def inputs(self, run: RunContext) -> Inputs:
        """Whole resized volumes or patches (:func:`training_data`, :func:`validation_data`)."""
        prof, seed = run.settings, run.seed
        xs, ys = prepare(run.cohort, run.split["train"], prof, "training volumes")
        train_data, n_train = training_data(xs, ys, prof, seed)
        val_volumes = prepare(run.cohort, run.split["val"], prof, "validation volumes")
        facts = {"train_volumes": n_train, "val_volumes": len(run.split["val"])}
        return Inputs(train_data, validation_data(*val_volumes, prof, seed), facts)

    def model(self, run: RunContext) -> keras.Model:
        return build_model(run.settings)

    def tune(self, run: RunContext, model: keras.Model) -> dict[str, Any]:
        """With ``tune_threshold``, the threshold with the best validation Dice
        (:func:`choose_threshold`) and the Dice of each candidate."""
        if not run.settings.tune_threshold:
            return {}
        probs, refs = [], []
        for case in progress(run.cases("val"), "choosing the threshold"):
            loaded = load_case(case)
            image = loaded.image.array[..., :1]
            probs.append(predict_probability(model, image, loaded.image.spacing, run.settings))
            refs.append(loaded.label.array)
        threshold, tuning = choose_threshold(probs, refs)
        return {"threshold": threshold, "val_dice": tuning}

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        """The challenge's metrics of one subject, with its site."""
        prof = run.settings
        case = run.case(case_id)
        loaded = self.read(run.cohort, case)
        threshold = run_threshold(run.config, prof)
        pred = predict_volume(
            model, loaded.image.array[..., :1], loaded.image.spacing, prof, threshold
        )
        spacing = loaded.image.spacing
        return challenge_rows(pred, loaded.label.array, spacing, case_id, case.meta["site"])

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The metrics per site, the training volumes and the threshold used."""
        return {
            "sites": {
                site: summarize([r for r in rows if r["site"] == site], CHALLENGE_METRICS)[0]
                for site in dict.fromkeys(r["site"] for r in rows)
            },
            "train_volumes": run.config["train_volumes"],
            "threshold": run_threshold(run.config, run.settings),
        }

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """The FLAIRs of a challenge folder or of a plain folder of ``.nii.gz`` files."""
        for case_id, path in progress(list(_flairs(input_dir)), "predicting"):
            yield case_id, check_image(load_nifti(path, ndim=3))

    def segment(
        self, model: keras.Model, volume: Volume, prof: WMHProfile, config: Mapping[str, Any]
    ) -> np.ndarray:
        """The mask at the run's threshold (the one chosen on validation, if it chose one)."""
        threshold = run_threshold(config, prof)
        return predict_volume(model, volume.array[..., None], volume.spacing, prof, threshold)

    def synth(self, out: Path, cases: int = 20, seed: int = 0) -> Path:
        """Write a synthetic WMH cohort in the challenge layout: ``cases`` subjects per site."""
        write_wmh_twin(out, n_per_site=cases, seed=seed)
        return Path(out)


RECIPE = register(WMHRecipe())
train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth

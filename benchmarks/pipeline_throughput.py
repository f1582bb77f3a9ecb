"""Input pipeline throughput against the model's consumption, for a 2D and a 3D study recipe.

For the PHH recipe (2D slices, MONAI noise and rotation augmentation) and the BraTS recipe (3D
patches, half of them centred on tumour), both on their ``quick`` profile and a twin cohort
written to a temporary folder as NIfTI, it measures:

- **load + preprocess**: the recipe's own preparation of every training volume from the NIfTI
  files (read, resample, crop, normalise, slice), in volumes per second; a run does it once;
- **pipeline alone**: one epoch of the recipe's training dataset iterated without a model
  (sampling or augmentation, batching), in samples per second;
- **model alone**: the recipe's compiled model stepping on one fixed batch, in samples per
  second;
- **training epoch**: one epoch of ``model.fit`` on the real dataset against the same number of
  steps on the fixed batch; the ratio is what the pipeline costs a training run (1.00: nothing).

Each recipe is measured with both of its pipelines, on the TensorFlow backend with the same model:
``tf.data`` (what labkit builds on TensorFlow) and the backend-neutral one (a
``keras.utils.PyDataset`` of NumPy batches, :mod:`labkit.batches`, what labkit builds on JAX and
PyTorch), so that the two compare side by side in one run.

The pipeline is not the bottleneck when it delivers more samples per second than the model takes
and the real epoch is as fast as the fixed-batch one. Run (4.7 minutes on 2 CPUs with tf.data
only, 2026-11-22)::

    python benchmarks/pipeline_throughput.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np


def phh_recipe(root: Path) -> dict:
    """The PHH quick recipe's pieces on a 10-patient twin (7 training patients)."""
    from labkit.augment import augmented_dataset, slice_augmentation
    from labkit.datasets.phh import load_phh, write_phh_twin
    from labkit.studies import phh

    settings = phh.settings("quick")
    write_phh_twin(root, n_cases=10, seed=0)
    cases = load_phh(root).cases[:7]

    def prepare() -> tuple:
        return phh.prepare(cases, settings, "load + preprocess")

    def dataset(x: np.ndarray, y: np.ndarray) -> object:
        augment = slice_augmentation(
            settings.noise_std, settings.rotate_degrees, settings.augment_prob, 0
        )
        return augmented_dataset(x, y, settings.batch_size, augment, seed=0)

    return {
        "name": "PHH (2D slices, noise + rotation)",
        "volumes": len(cases),
        "prepare": prepare,
        "dataset": dataset,
        "model": lambda x, y: phh.build_model(settings),
    }


def brats_recipe(root: Path) -> dict:
    """The BraTS quick recipe's pieces on a 6-case twin."""
    from labkit.datasets.brats import load_brats, write_brats_twin
    from labkit.pipeline import patch_dataset
    from labkit.studies import brats

    settings = brats.settings("quick")
    write_brats_twin(root, n_cases=6, seed=0)
    cohort = load_brats(root)

    def prepare() -> tuple:
        xs, ys = brats.prepare(cohort, cohort.case_ids, settings, "load + preprocess")
        return xs, ys

    def dataset(xs: list, ys: list) -> object:
        per_volume = -(-settings.patches_per_epoch // len(xs))
        return patch_dataset(
            xs, ys, settings.patch, per_volume, settings.batch_size, settings.foreground, seed=0
        )

    def model(xs: list, ys: list) -> object:
        n_classes = len(brats.class_values(cohort.convention))
        return brats.build_model(settings, xs[0].shape[-1], n_classes)

    return {
        "name": "BraTS (3D patches, tumour-centred share)",
        "volumes": len(cohort.cases),
        "prepare": prepare,
        "dataset": dataset,
        "model": model,
    }


@contextlib.contextmanager
def neutral_pipelines(on: bool) -> Iterator[None]:
    """Inside the block, labkit builds its backend-neutral pipelines (when ``on``), as without
    TensorFlow."""
    import labkit.augment
    import labkit.pipeline

    saved = labkit.augment.use_tf_data, labkit.pipeline.use_tf_data
    if on:
        labkit.augment.use_tf_data = labkit.pipeline.use_tf_data = lambda: False
    try:
        yield
    finally:
        labkit.augment.use_tf_data, labkit.pipeline.use_tf_data = saved


def _fixed_batches(first: tuple, steps: int, tf_data: bool) -> object:
    """``steps`` copies of the batch ``first``, in the pipeline's own kind of dataset."""
    if tf_data:
        import tensorflow as tf

        return tf.data.Dataset.from_tensors(first).repeat(steps)
    from labkit.batches import EpochBatches

    x = np.repeat(np.asarray(first[0]), steps, axis=0)
    y = np.repeat(np.asarray(first[1]), steps, axis=0)
    return EpochBatches(lambda epoch: (x, y), len(x), len(first[0]))


def measure(recipe: dict, rounds: int, tf_data: bool = True) -> dict:
    """Every stage of one recipe, each repeated ``rounds`` times (medians), with its ``tf.data``
    pipeline or its backend-neutral one."""
    from _perf import summary

    from labkit.batches import one_epoch

    prep_times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        x, y = recipe["prepare"]()
        prep_times.append(time.perf_counter() - t0)
    epoch_times, samples = [], 0
    for _ in range(rounds):
        ds = recipe["dataset"](x, y)
        t0 = time.perf_counter()
        samples = sum(int(bx.shape[0]) for bx, _ in one_epoch(ds))
        epoch_times.append(time.perf_counter() - t0)
    batches = one_epoch(recipe["dataset"](x, y))
    steps, first = len(batches), batches[0]
    fixed = _fixed_batches(first, steps, tf_data)
    model = recipe["model"](x, y)
    model.optimizer.build(model.trainable_variables)
    # trace the step for both element specs (the fixed batch's shape is static, the real
    # datasets' batch axis is not), so that no timed epoch pays for tracing
    model.fit(_fixed_batches(first, 2, tf_data), epochs=1, verbose=0)
    real = recipe["dataset"](x, y)
    # two batches of tf.data suffice; a PyDataset's last, smaller batch needs the whole epoch
    model.fit(real.take(2) if tf_data else real, epochs=1, verbose=0)
    step_times = []
    for _ in range(5 * rounds):
        t0 = time.perf_counter()
        model.train_on_batch(*first)
        step_times.append(time.perf_counter() - t0)
    batch = int(first[0].shape[0])
    fit_real, fit_fixed = [], []
    for _ in range(rounds):
        for data, out in ((fixed, fit_fixed), (recipe["dataset"](x, y), fit_real)):
            t0 = time.perf_counter()
            model.fit(data, epochs=1, verbose=0)
            out.append(time.perf_counter() - t0)
    prep, epoch, step = summary(prep_times), summary(epoch_times), summary(step_times)
    real, const = summary(fit_real), summary(fit_fixed)
    return {
        "pipeline": "tf.data" if tf_data else "PyDataset (backend-neutral)",
        "volumes": recipe["volumes"],
        "samples_per_epoch": samples,
        "steps_per_epoch": steps,
        "batch": batch,
        "prepare_s": prep,
        "prepare_volumes_per_s": recipe["volumes"] / prep["median_s"],
        "pipeline_epoch_s": epoch,
        "pipeline_samples_per_s": samples / epoch["median_s"],
        "model_step_s": step,
        "model_samples_per_s": batch / step["median_s"],
        "fit_epoch_real_s": real,
        "fit_epoch_fixed_batch_s": const,
        "epoch_ratio_real_to_fixed": real["median_s"] / const["median_s"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out-dir", type=Path, help="default: benchmarks/results")
    args = parser.parse_args(argv)

    from _perf import machine, markdown_table, verdict, write_results

    result: dict = {"machine": machine(), "command": "python benchmarks/pipeline_throughput.py"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for key, make in (("phh", phh_recipe), ("brats", brats_recipe)):
            recipe = make(Path(tmp) / key)
            for tf_data in (True, False):
                with neutral_pipelines(not tf_data):
                    r = measure(recipe, args.rounds, tf_data)
                name = key if tf_data else f"{key}_neutral"
                result[name] = {"recipe": recipe["name"], **r}
                rows.append(
                    [
                        recipe["name"],
                        r["pipeline"],
                        f"{r['prepare_s']['median_s'] / r['volumes']:.2f} s "
                        f"({r['volumes']} volumes)",
                        f"{r['pipeline_samples_per_s']:.0f}",
                        f"{r['model_samples_per_s']:.1f}",
                        f"{r['pipeline_samples_per_s'] / r['model_samples_per_s']:.0f}x",
                        f"{r['fit_epoch_real_s']['median_s']:.1f} / "
                        f"{r['fit_epoch_fixed_batch_s']['median_s']:.1f} "
                        f"({r['epoch_ratio_real_to_fixed']:.2f})",
                    ]
                )
    table = markdown_table(
        [
            "recipe (quick profile)",
            "pipeline",
            "load + preprocess, per volume (once a run)",
            "pipeline alone, samples / s",
            "model alone, samples / s",
            "pipeline is faster by",
            "fit epoch, s: real data / fixed batch (ratio)",
        ],
        rows,
    )
    targets = []
    for key in ("phh", "phh_neutral", "brats", "brats_neutral"):
        r = result[key]
        ratio = r["pipeline_samples_per_s"] / r["model_samples_per_s"]
        targets.append(
            f"{r['recipe']}, {r['pipeline']}: the pipeline delivers {ratio:.0f}x what the "
            "model takes "
            f"(target 1x: {verdict(ratio, 1.0)}); a real epoch takes "
            f"{r['epoch_ratio_real_to_fixed']:.2f}x the fixed-batch epoch"
        )
    result["targets"] = targets
    table += "\n\n" + "\n".join(f"- {t}" for t in targets)
    write_results("pipeline_throughput", result, table, args.out_dir)
    return result


if __name__ == "__main__":
    main()

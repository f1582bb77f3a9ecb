"""Patient-level k-fold cross-validation of any study: :func:`train_folds`.

One of the three moves of nnU-Net (Isensee et al. 2021) that every recipe offers: the split's
test cases are set aside, the other cases cut by patient into k folds, one run trained per fold,
then the folds' ensemble scored on the test cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labkit.ensemble import Averaged
from labkit.lock import hold
from labkit.runfolder import RunFolder
from labkit.studies.context import RunContext, bounded_split
from labkit.studies.heldout import choose_components, write_held_out

__all__ = ["train_folds"]


def train_folds(
    recipe: Any,
    data: Path,
    out: Path,
    folds: int,
    profile: str = "quick",
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """K-fold cross-validation: one run a fold, then the folds' ensemble on the test cases.

    The split's test cases are set aside as :meth:`Recipe.train` sets them aside; the training
    and validation cases are pooled and cut by patient into ``folds`` folds
    (:func:`labkit.splits.fold_split`). Run ``i`` (``out/fold_i``) validates on fold ``i`` and
    trains on the others, so every pooled case is a validation case exactly once and no test
    case is ever seen. The ensemble (every fold's model, probabilities averaged) then predicts
    the test cases; with ``largest_component="auto"`` its post-processing is chosen on the
    pooled validation cases, each predicted by its own fold's model (the out-of-fold
    predictions nnU-Net chooses on).

    ``out`` then holds ``folds.json`` (the fold folders), ``config.json`` (what predicting with
    ``ensemble=True`` needs, the recipe's ``combine``), ``split.json`` (the test cases and every
    fold's), ``metrics.csv`` and ``summary.json`` (the ensemble's held-out results, with each
    fold's own beside them).

    Args:
        recipe: The study's recipe.
        data, profile, seed, overrides: As :meth:`Recipe.train`.
        out: Folder of the cross-validation (created).
        folds: Number of folds, at least 2.

    Returns:
        The ensemble's summary.
    """
    if folds < 2:
        raise ValueError(
            f"--folds must be at least 2 (each fold validates on 1/k of the training cases); "
            f"got {folds}. Train without --folds for a single run."
        )
    out = Path(out)
    folder = RunFolder(out)
    with hold(out):
        names = [f"fold_{i}" for i in range(folds)]
        fold_summaries = [
            recipe.train(data, out / name, profile, seed, overrides, fold=(i, folds))
            for i, name in enumerate(names)
        ]
        runs = [RunFolder(out / n) for n in names]
        splits, configs = [r.split() for r in runs], [r.config() for r in runs]
        models = [r.model() for r in runs]
        settings = recipe.run_settings(out / names[0], configs[0])
        cohort = recipe.load(Path(data), settings)
        pooled = sorted(i for sp in splits for i in sp["val"])
        split = {"train": pooled, "val": [], "test": splits[0]["test"]}
        run = RunContext(out, profile, settings, seed, cohort, bounded_split(split, settings))
        run.config = {**recipe.combine(configs), "folds": folds}
        if settings.largest_component == "auto":
            pairs = [(m, sp["val"]) for m, sp in zip(models, splits, strict=True)]
            run.config["largest_component"] = choose_components(recipe, run, pairs)
        folder.write_config(run.config)
        folder.write_split(
            {
                "test": split["test"],
                "folds": [{"train": sp["train"], "val": sp["val"]} for sp in splits],
            }
        )
        folder.write_folds(recipe.name, profile, seed, names)
        per_fold = [
            {"run": n, "labels": s["labels"]} for n, s in zip(names, fold_summaries, strict=True)
        ]
        return write_held_out(recipe, run, Averaged(models), {"folds": per_fold})

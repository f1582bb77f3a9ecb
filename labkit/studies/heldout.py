"""What the skeleton does with a trained model and the cases it did not train on.

:func:`choose_components` makes nnU-Net's post-processing choice on validation cases;
:func:`write_held_out` scores the test cases into ``metrics.csv`` and ``summary.json``. Both
call a study's hooks (``read``, ``segment``, ``score``, ``report``) and are used by
:meth:`labkit.studies.recipe.Recipe.train`, :func:`labkit.studies.crossval.train_folds` and
:meth:`labkit.studies.trained.TrainedRun.evaluate`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from labkit.evaluation import summarize
from labkit.postprocessing import choose_largest_component
from labkit.progress import progress
from labkit.runfolder import RunFolder
from labkit.studies.context import RunContext

__all__ = ["choose_components", "write_held_out"]


def write_held_out(
    recipe: Any,
    run: RunContext,
    model: Any,
    extra: Mapping[str, Any],
    since: float | None = None,
) -> dict[str, Any]:
    """Score the test cases (the recipe's ``score``) into ``metrics.csv`` and write
    ``summary.json``: per label the means of the recipe's ``metrics``, what its ``report``
    adds, ``extra``, and ``predict_seconds`` since the ``time.perf_counter()`` value ``since``,
    if given. Returns the summary."""
    rows: list[dict[str, Any]] = []
    for case_id in progress(run.split["test"], "evaluating"):
        rows += recipe.score(run, model, case_id)
    summary = {
        "study": recipe.name,
        "profile": run.profile,
        "labels": summarize(rows, metrics=recipe.metrics),
        **recipe.report(run, model, rows),
        **extra,
    }
    if since is not None:
        summary["predict_seconds"] = round(time.perf_counter() - since, 1)
    RunFolder(run.out).write_results(rows, summary)
    return summary


def choose_components(
    recipe: Any, run: RunContext, models: Sequence[tuple[Any, Sequence[str]]]
) -> dict[str, Any]:
    """The largest-component choice (:func:`labkit.postprocessing.choose_largest_component`)
    made on validation cases, each predicted by the model it belongs to (``(model, its
    validation case ids)`` pairs: one for a run, one per fold for a cross-validation), without
    any post-processing."""
    preds, refs, ids = [], [], []
    for model, cases in models:
        for case_id in progress(list(cases), "choosing the post-processing"):
            loaded = recipe.read(run.cohort, run.case(case_id))
            preds.append(recipe.segment(model, loaded.image, run.settings, run.config))
            refs.append(loaded.label.array)
            ids.append(case_id)
    labels = [int(k) for k in run.config.get("labels", {}) if int(k) != 0]
    return choose_largest_component(preds, refs, labels, ids, recipe.ignore_label)

"""Which image modalities a multi-modal cohort is read with, when its cases do not all agree.

A model reads the channels it was trained on, in one order, for every case. When some subjects
of a folder lack a modality (a sequence that was not acquired, a file that was not exported),
loading "what every case has" would silently drop that modality for the whole cohort; so
:func:`pick_modalities` refuses, naming the cases, and lets the user choose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from labkit.errors import DatasetLayoutError

__all__ = ["pick_modalities"]


def pick_modalities(
    available: Mapping[str, Sequence[str]],
    wanted: Sequence[str] | None,
    root: Path,
    known: Sequence[str],
) -> tuple[str, ...]:
    """The modalities to load: ``wanted``, checked, or those every case has.

    Args:
        available: Case id to the modalities its files hold.
        wanted: The modalities asked for, in channel order, or ``None`` for every modality the
            cases have.
        root: The dataset folder, for the messages.
        known: Every modality name, in channel order (e.g. ``("FLAIR", "T1", "T1Gd", "T2")``).

    Returns:
        The modalities, in channel order.

    Raises:
        DatasetLayoutError: If a wanted modality is unknown or missing from some case; or, with
            ``wanted=None``, if some cases have a modality that others lack (the cases are
            named, with the two ways out), or the cases share none.
    """
    if wanted is not None:
        wanted = tuple(wanted)
        if unknown := [m for m in wanted if m not in known]:
            raise DatasetLayoutError(
                f"unknown modalities {unknown}; labkit names them {list(known)}."
            )
        lacking = {cid: [m for m in wanted if m not in have] for cid, have in available.items()}
        lacking = {cid: miss for cid, miss in lacking.items() if miss}
        if lacking:
            first = next(iter(lacking))
            raise DatasetLayoutError(
                f"{len(lacking)} case(s) in {root} lack modalities asked for {list(wanted)}: "
                f"{first} has only {list(available[first])} (missing {lacking[first]}). A model "
                "reads the modalities it was trained on; train one on the modalities this data "
                'has (e.g. --set \'modalities=["FLAIR", "T1Gd"]\'), or add the missing images.'
            )
        return wanted
    common = [m for m in known if all(m in have for have in available.values())]
    partial = [m for m in known if m not in common and any(m in h for h in available.values())]
    if partial:
        lacking = {m: sorted(c for c, have in available.items() if m not in have) for m in partial}
        named = "; ".join(
            f"{m} missing in {len(ids)} of {len(available)} case(s): {', '.join(ids[:10])}"
            for m, ids in lacking.items()
        )
        raise DatasetLayoutError(
            f"the cases in {root} do not all have the same modalities ({named}). Reading the "
            f"modalities every case has ({common}) would drop {partial} for the whole cohort. "
            "Either remove those cases from the folder (or add their missing images), or choose "
            f"the modalities yourself: --set 'modalities={json.dumps(common)}' "
            f"(load_brats(..., modalities={tuple(common)}))."
        )
    if not common:
        raise DatasetLayoutError(
            f"the cases in {root} share no modality (each holds some of {list(known)}); "
            "load a subset of cases that have one in common."
        )
    return tuple(common)

"""Patient-level splits: every case of one patient lands in exactly one subset.

Splitting slices or patches instead of patients leaks the same anatomy into training and test
and inflates every score; the functions here take patient (case) identifiers, never samples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "assert_disjoint",
    "fold_split",
    "kfold",
    "leave_group_out",
    "split_ids",
    "stratified_split_ids",
]


def split_ids(
    ids: Sequence[str], fractions: Mapping[str, float], seed: int = 0
) -> dict[str, list[str]]:
    """Shuffle case ids with a seed and cut them into named subsets.

    Sizes are ``round(fraction * n)`` for every subset but the last, which takes the rest, so
    ``{"train": 0.7, "val": 0.1, "test": 0.2}`` of 10 patients gives 7 / 1 / 2.

    Args:
        ids: Unique case (patient) identifiers.
        fractions: Subset name to fraction; fractions must sum to 1.
        seed: Shuffle seed.

    Returns:
        Subset name to sorted ids.
    """
    ids = list(ids)
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ValueError(f"case ids must be unique (one per patient); duplicated: {dup}.")
    if not np.isclose(sum(fractions.values()), 1.0):
        raise ValueError(
            f"fractions must sum to 1; got {dict(fractions)} (sum {sum(fractions.values()):.3f})."
        )
    order = np.random.default_rng(seed).permutation(len(ids))
    shuffled = [ids[i] for i in order]
    names = list(fractions)
    out, start = {}, 0
    for k, name in enumerate(names):
        stop = len(ids) if k == len(names) - 1 else start + round(fractions[name] * len(ids))
        out[name] = sorted(shuffled[start:stop])
        start = stop
    empty = [n for n, v in out.items() if not v]
    if empty:
        shares = {n: round(float(f), 3) for n, f in fractions.items()}
        raise ValueError(
            f"{len(ids)} cases are too few for the split {shares}: {empty} would be empty. This "
            f"split needs at least {_minimum_cases(list(fractions.values()))} cases; add cases "
            "or change the fractions."
        )
    assert_disjoint(out)
    return out


def _minimum_cases(fractions: Sequence[float]) -> int:
    """The fewest cases for which :func:`split_ids` leaves no subset empty."""
    n = len(fractions)
    while True:
        sizes = [round(f * n) for f in fractions[:-1]]
        if all(s > 0 for s in sizes) and n - sum(sizes) > 0:
            return n
        n += 1


def stratified_split_ids(
    groups: Mapping[str, Sequence[str]], fractions: Mapping[str, float], seed: int = 0
) -> dict[str, list[str]]:
    """Split every group (e.g. acquisition site) on its own, so each subset holds every group.

    Args:
        groups: Group name to its case ids (ids unique across groups).
        fractions: Subset name to fraction, as :func:`split_ids` takes them.
        seed: Shuffle seed (each group is shuffled with ``[seed, k]``, ``k`` its position).

    Returns:
        Subset name to sorted ids; e.g. 8 subjects per site and ``{"train": 0.6, "val": 0.1,
        "test": 0.3}`` give 5 / 1 / 2 per site.
    """
    out: dict[str, list[str]] = {name: [] for name in fractions}
    for k, ids in enumerate(groups.values()):
        part = split_ids(ids, fractions, int(np.random.default_rng([seed, k]).integers(2**31)))
        for name in fractions:
            out[name] += part[name]
    out = {name: sorted(ids) for name, ids in out.items()}
    assert_disjoint(out)
    return out


def leave_group_out(
    groups: Mapping[str, Sequence[str]],
    test_group: str,
    fractions: Mapping[str, float],
    seed: int = 0,
) -> dict[str, list[str]]:
    """Test on one whole group (a site never seen in training); split the others into the rest.

    Args:
        groups: Group name to its case ids.
        test_group: The group that becomes the test set.
        fractions: The other subsets (e.g. ``{"train": 0.85, "val": 0.15}``), stratified by group
            as :func:`stratified_split_ids` does.
        seed: Shuffle seed.

    Returns:
        The subsets of ``fractions`` plus ``test``.

    Raises:
        KeyError: If ``test_group`` is not a group.
    """
    if test_group not in groups:
        raise KeyError(f"no group {test_group!r} to leave out; the groups are {sorted(groups)}.")
    rest = {g: ids for g, ids in groups.items() if g != test_group}
    out = stratified_split_ids(rest, fractions, seed)
    out["test"] = sorted(groups[test_group])
    assert_disjoint(out)
    return out


def kfold(ids: Sequence[str], k: int, seed: int = 0) -> list[dict[str, list[str]]]:
    """K folds of ``{"train", "test"}`` in which every case is tested exactly once."""
    if not 2 <= k <= len(ids):
        raise ValueError(f"k must be between 2 and the number of cases ({len(ids)}); got {k}.")
    order = np.random.default_rng(seed).permutation(len(ids))
    parts = np.array_split(order, k)
    folds = []
    for i in range(k):
        test = sorted(ids[j] for j in parts[i])
        train = sorted(ids[j] for p, part in enumerate(parts) if p != i for j in part)
        folds.append({"train": train, "test": test})
    return folds


def fold_split(
    split: Mapping[str, Sequence[str]], fold: int, k: int, seed: int = 0
) -> dict[str, list[str]]:
    """Fold ``fold`` of a ``k``-fold cross-validation inside a train / val / test split.

    The test cases stay the test cases; the training and validation cases are pooled and cut
    into ``k`` folds by patient (:func:`kfold`, drawn with ``seed``). Fold ``fold`` validates
    on its own part and trains on the others, so over the ``k`` folds every pooled case is
    validated on exactly once and no test case is ever trained or validated on.

    Args:
        split: ``{"train", "val", "test"}`` case ids.
        fold: Which fold, ``0 <= fold < k``.
        k: Number of folds.
        seed: Seed of the cut.

    Returns:
        ``{"train", "val", "test"}`` sorted case ids.

    Raises:
        ValueError: If ``fold`` is out of range, or ``k`` is below 2 or above the pooled cases.
    """
    if not 0 <= fold < k:
        raise ValueError(f"fold must be between 0 and k - 1 = {k - 1}; got {fold}.")
    pool = sorted({*split["train"], *split["val"]})  # a split may validate on its train cases
    part = kfold(pool, k, seed)[fold]
    out = {"train": part["train"], "val": part["test"], "test": sorted(split["test"])}
    assert_disjoint(out)
    return out


def assert_disjoint(split: Mapping[str, Sequence[str]]) -> None:
    """Raise if any case id appears in two subsets of a split."""
    seen: dict[str, str] = {}
    for name, ids in split.items():
        for i in ids:
            if i in seen:
                raise ValueError(
                    f"case {i!r} is in both {seen[i]!r} and {name!r}: the split leaks."
                )
            seen[i] = name

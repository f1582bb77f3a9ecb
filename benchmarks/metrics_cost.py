"""Evaluation cost per case: Dice + HD95 + NSD on a 256^3 volume, labkit against MONAI's metrics.

Two cases on a 256^3 grid (1 mm voxels): a large, irregular structure (about the size of a
brain tumour's whole extent) and a small lesion (about 4 mL). The prediction is the reference
deformed and shifted. Each side computes the Dice, the 95th-percentile Hausdorff distance and
the normalised surface Dice at 1 mm:

- ``labkit``: :func:`labkit.measures.binary_metrics` (which also computes IoU, sensitivity,
  specificity, HD, ASSD and volumes, all from one pair of distance transforms inside the
  masks' bounding box);
- ``MONAI``: ``compute_dice``, ``compute_hausdorff_distance(percentile=95)`` and
  ``compute_surface_dice`` on one-hot tensors, each finding the surfaces and their distance
  transforms again (inside the masks' bounding box, as labkit does).

The values of both sides are reported beside the times, to show that they agree. Timed in
interleaved rounds in one process; peak memory of each alone in a fresh process. Run (2 min 13 s on
2 CPUs, 2026-11-22)::

    python benchmarks/metrics_cost.py [--rounds 3] [--no-memory]
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

SIZE = 256
CASES = {"organ-sized structure": 55.0, "small lesion": 10.0}  # radius in voxels
CANDIDATES = {"labkit": "labkit binary_metrics", "monai": "MONAI Dice + HD95 + surface Dice"}


def case(radius: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A reference and a prediction ``(256, 256, 256)`` bool: a lumpy ball of about ``radius``
    voxels, and the same ball deformed differently and shifted by two voxels."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    grid = np.indices((SIZE,) * 3, dtype=np.float32)
    centre = np.array([SIZE / 2] * 3, dtype=np.float32)[:, None, None, None]
    dist = np.sqrt(((grid - centre) ** 2).sum(0))
    masks = []
    for shift in (0, 2):
        bumps = ndimage.gaussian_filter(rng.standard_normal((SIZE,) * 3).astype(np.float32), 8)
        bumps *= radius * 0.1 / bumps.std()
        masks.append(np.roll(dist < radius + bumps, shift, axis=0))
    return masks[0], masks[1]


def build(name: str, ref: np.ndarray, pred: np.ndarray) -> object:
    """A candidate's metric computation for one case, returning ``{dice, hd95, nsd}``."""
    if name == "labkit":
        from labkit.measures import binary_metrics

        def run() -> dict:
            m = binary_metrics(pred, ref, (1.0, 1.0, 1.0), nsd_tolerance_mm=1.0)
            return {k: m[k] for k in ("dice", "hd95", "nsd")}

        return run
    import torch
    from monai.metrics import compute_dice, compute_hausdorff_distance, compute_surface_dice

    def run() -> dict:
        p = torch.from_numpy(pred)[None, None].float()
        r = torch.from_numpy(ref)[None, None].float()
        return {
            "dice": float(compute_dice(p, r, include_background=True)),
            "hd95": float(
                compute_hausdorff_distance(
                    p, r, include_background=True, percentile=95, spacing=1.0
                )
            ),
            "nsd": float(compute_surface_dice(p, r, [1.0], include_background=True, spacing=1.0)),
        }

    return run


def memory_run(spec: str) -> None:
    """Child process: the candidate's peak memory over its inputs, for one case."""
    import tensorflow  # noqa: F401
    import torch  # noqa: F401
    from _perf import peak_mib, start_peak

    case_name, name = spec.split(":")
    ref, pred = case(CASES[case_name])
    base = start_peak()
    build(name, ref, pred)()
    print(f"PEAK_MIB {peak_mib() - base:.1f}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    from _perf import arguments

    args = arguments(__doc__, argv, rounds=3)
    if args.memory_of:
        memory_run(args.memory_of)
        return {}

    from _perf import compare, interleaved, machine, markdown_table, timing_cells, write_results

    result: dict = {"machine": machine(), "command": "python benchmarks/metrics_cost.py"}
    rows = []
    for case_name, radius in CASES.items():
        ref, pred = case(radius)
        runs = {name: build(name, ref, pred) for name in CANDIDATES}
        values = {name: run() for name, run in runs.items()}
        times = interleaved(runs, args.rounds, per_round=1, warmup=0)
        found = compare(times, __file__, case_name, args.no_memory)
        entry = {"reference_ml": float(ref.sum()) / 1000.0, "candidates": {}}
        for name in CANDIDATES:
            entry["candidates"][name] = {**found[name], **values[name]}
            v = values[name]
            rows.append(
                [
                    f"{case_name} ({ref.sum() / 1000:.0f} mL)",
                    CANDIDATES[name],
                    *timing_cells(found[name]),
                    f"{v['dice']:.4f} / {v['hd95']:.2f} / {v['nsd']:.4f}",
                ]
            )
        result[case_name] = entry
    table = markdown_table(
        [
            "case on a 256x256x256 grid",
            "metrics",
            "s / case, median (quartiles)",
            "labkit is faster by",
            "peak memory, MiB",
            "Dice / HD95 (mm) / NSD at 1 mm",
        ],
        rows,
    )
    write_results("metrics_cost", result, table, args.out_dir)
    return result


if __name__ == "__main__":
    main()

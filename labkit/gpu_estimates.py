"""What a study's ``full`` profile is estimated to cost on a GPU, read from one record.

``benchmarks/t4_estimates.py`` compiles each ``full`` network's training step on a CPU (its FLOPs
and memory, from XLA), calibrates it on H100 measurements of the same networks, and writes
``labkit/records/t4_estimates.json`` (package data, so a chapter opened alone on Colab finds it).
A chapter that runs ``full`` prints :func:`t4_line` before training; ``auto``
(:func:`labkit.config.choose_profile`) picks ``full`` only where :func:`needed_mib` fits the
visible GPU.
"""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from typing import Any

__all__ = ["ESTIMATES_FILE", "estimate", "gpu_memory_mib", "needed_mib", "t4_line"]

#: The record :func:`estimate` reads (in :mod:`labkit.records`).
ESTIMATES_FILE = "t4_estimates.json"


def _record() -> dict[str, Any] | None:
    # read here, not through labkit.config.recorded_results: config's choose_profile reads this
    # module, which must not import config back
    path = resources.files("labkit.records").joinpath(ESTIMATES_FILE)
    return json.loads(path.read_text()) if path.is_file() else None


def estimate(study: str, record: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The estimate of a study's ``full`` profile (``t4_mib``, ``t4_step_s``,
    ``t4_run_minutes``, ...) in ``record`` (default: the shipped one), or ``None``."""
    record = _record() if record is None else record
    if record is None:
        return None
    return next((row for row in record["rows"] if row["study"] == study), None)


def needed_mib(study: str) -> float | None:
    """GPU memory, MiB, that one training step of the study's ``full`` profile is estimated to
    take (``None`` without an estimate)."""
    found = estimate(study)
    return None if found is None else float(found["t4_mib"])


def t4_line(study: str) -> str:
    """One line for a chapter running ``full``: memory and minutes on a T4, and their source.

    Example:
        >>> t4_line("phh")  # doctest: +SKIP
        'full profile: ~3.0 GiB, ~19 min of training on a T4 (estimated 2026-12-08 from ...)'
    """
    record = _record() or {"rows": []}
    found = estimate(study, record)
    if found is None:
        return f"full profile: no estimate of its GPU cost for {study} yet"
    minutes = found.get("t4_run_minutes")
    time = (
        f"~{minutes:.0f} min of training"
        if minutes is not None
        else f"~{found['t4_minutes_per_1000_steps']:.0f} min per 1,000 training steps"
    )
    return (
        f"full profile: ~{found['t4_mib'] / 1024:.1f} GiB, {time} on a T4 (estimated "
        f"{record.get('date', '')} from its compiled step and an H100's measured steps: "
        "benchmarks/t4_estimates.py)"
    )


def gpu_memory_mib() -> float | None:
    """The first visible NVIDIA GPU's memory, MiB, as ``nvidia-smi`` lists it (``None`` where
    there is no ``nvidia-smi`` or it says nothing)."""
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.stdout.strip().splitlines()[:1]
    try:
        return float(first[0]) if first else None
    except ValueError:
        return None

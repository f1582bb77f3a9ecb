"""What the PHH recipe's ``full`` profile costs: seconds per training step and peak memory.

Builds the full profile's U-Net (256x256x1 slices, 64 filters, depth 4), compiles it exactly as
``labkit train phh --profile full`` does, and times training steps on batches of the profile's
size. On a GPU it reports TensorFlow's peak GPU memory; on a CPU, the growth of the process's peak
resident memory. From the step time it extrapolates an epoch and the 25-epoch run, using the
study's cohort size (7 training patients x 256 axial slices).

Run (a few minutes on a GPU, about a minute per step on a 2-core CPU)::

    python benchmarks/phh_full_profile.py [--steps 10] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import sys
import time

import numpy as np


def _peak_rss_gib() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10, help="timed steps (after one warm-up)")
    parser.add_argument("--out", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from labkit.studies import phh

    settings = phh.settings("full")
    gpus = tf.config.list_physical_devices("GPU")
    base_rss = _peak_rss_gib()
    model = phh.build_model(settings)
    rng = np.random.default_rng(0)
    shape = (settings.batch_size, settings.size, settings.size, 1)
    x = rng.random(shape, dtype=np.float32)
    y = (rng.random(shape) < 0.05).astype(np.uint8)
    model.train_on_batch(x, y)  # warm-up: tracing and memory allocation
    if gpus:
        tf.config.experimental.reset_memory_stats("GPU:0")
    start = time.perf_counter()
    for _ in range(args.steps):
        model.train_on_batch(x, y)
    seconds = (time.perf_counter() - start) / args.steps
    steps_per_epoch = math.ceil(7 * settings.size / settings.batch_size)
    result = {
        "device": gpus[0].name if gpus else f"CPU ({platform.processor() or platform.machine()})",
        "settings": {
            "size": settings.size,
            "batch_size": settings.batch_size,
            "filters": settings.filters,
            "depth": settings.depth,
            "epochs": settings.epochs,
        },
        "parameters": model.count_params(),
        "seconds_per_step": round(seconds, 3),
        "steps_per_epoch": steps_per_epoch,
        "minutes_per_epoch": round(seconds * steps_per_epoch / 60, 2),
        "hours_for_the_run": round(seconds * steps_per_epoch * settings.epochs / 3600, 2),
    }
    if gpus:
        peak = tf.config.experimental.get_memory_info("GPU:0")["peak"]
        result["peak_gpu_memory_gib"] = round(peak / 2**30, 2)
    else:
        result["peak_process_memory_growth_gib"] = round(_peak_rss_gib() - base_rss, 2)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)

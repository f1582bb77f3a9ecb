"""Sliding-window 3D inference: labkit against MONAI's ``sliding_window_inference``, equal networks.

Both sides predict the same volume with the same network: labkit's Keras U-Net through
:func:`labkit.inference.sliding_window`, and its PyTorch twin (``_torch_unet.TorchUNet``, the
Keras weights copied into it) through ``monai.inferers.sliding_window_inference``, with the same
patch size, overlap, Gaussian blending and patches per forward pass. The largest difference of
the two blended probability maps is reported, to show they computed the same thing. Timed in
interleaved rounds in one process; peak memory of each alone in a fresh process.

Two settings: the BraTS chapter's ``quick`` geometry (a 2 mm twin-sized volume of 4 channels,
32^3 patches, overlap 0.5, its 8-filter depth-3 network) and a 1 mm-style one (64^3 patches of a
16-filter depth-4 network, MONAI's default overlap 0.25). Run (4 minutes on 2 CPUs, 2026-11-22)::

    python benchmarks/sliding_window.py [--rounds 3] [--no-memory]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

SETTINGS = {
    "quick": {
        "volume": (120, 120, 78),
        "channels": 4,
        "classes": 4,
        "roi": (32, 32, 32),
        "filters": 8,
        "depth": 3,
        "overlap": 0.5,
        "batch": 4,
    },
    "64^3": {
        "volume": (160, 160, 128),
        "channels": 1,
        "classes": 2,
        "roi": (64, 64, 64),
        "filters": 16,
        "depth": 4,
        "overlap": 0.25,
        "batch": 2,
    },
}
CANDIDATES = {
    "labkit": "labkit sliding_window (Keras)",
    "monai": "MONAI sliding_window_inference (PyTorch, same net)",
}


def build(setting: str, name: str, pair: dict | None = None) -> tuple:
    """A candidate's whole-volume prediction as a callable returning ``(*volume, classes)``
    probabilities; ``pair`` shares one Keras model (and its weights) between the two sides."""
    cfg = SETTINGS[setting]
    pair = pair if pair is not None else {}
    if "keras" not in pair:
        from labkit.models import unet

        pair["keras"] = unet(
            (*cfg["roi"], cfg["channels"]), cfg["classes"], cfg["depth"], cfg["filters"]
        )
        rng = np.random.default_rng(0)
        pair["image"] = rng.standard_normal((*cfg["volume"], cfg["channels"])).astype(np.float32)
    model, image = pair["keras"], pair["image"]
    if name == "labkit":
        from labkit.inference import sliding_window

        def run() -> np.ndarray:
            return sliding_window(
                model, image, cfg["roi"], cfg["overlap"], "gaussian", batch_size=cfg["batch"]
            )

        return run
    import torch
    from _torch_unet import TorchUNet, copy_keras_weights
    from monai.inferers import sliding_window_inference

    net = TorchUNet(3, cfg["channels"], cfg["classes"], cfg["depth"], cfg["filters"]).eval()
    copy_keras_weights(model, net)
    tensor = torch.from_numpy(np.ascontiguousarray(np.moveaxis(image, -1, 0)[None]))

    def run() -> np.ndarray:
        with torch.inference_mode():
            out = sliding_window_inference(
                tensor,
                cfg["roi"],
                cfg["batch"],
                lambda t: torch.softmax(net(t), 1),
                overlap=cfg["overlap"],
                mode="gaussian",
                sigma_scale=0.125,
            )
        return np.moveaxis(out[0].numpy(), 0, -1)

    return run


def memory_run(spec: str) -> None:
    """Child process: the candidate's peak memory over its imports for two volumes."""
    import tensorflow  # noqa: F401
    import torch  # noqa: F401
    from _perf import peak_mib, start_peak

    setting, name = spec.split(":")
    base = start_peak()
    run = build(setting, name)
    run()
    run()
    print(f"PEAK_MIB {peak_mib() - base:.1f}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    from _perf import arguments

    def settings(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))

    args = arguments(__doc__, argv, rounds=3, extra=settings)
    if args.memory_of:
        memory_run(args.memory_of)
        return {}

    from _perf import (
        compare,
        interleaved,
        machine,
        markdown_table,
        timing_cells,
        verdict,
        write_results,
    )

    from labkit.inference import patch_starts

    result: dict = {"machine": machine(), "command": "python benchmarks/sliding_window.py"}
    rows = []
    for setting in args.settings:
        cfg = SETTINGS[setting]
        pair: dict = {}
        runs = {name: build(setting, name, pair) for name in CANDIDATES}
        outputs = {name: run() for name, run in runs.items()}
        diff = float(np.abs(outputs["labkit"] - outputs["monai"]).max())
        starts = [
            len(patch_starts(s, r, cfg["overlap"]))
            for s, r in zip(cfg["volume"], cfg["roi"], strict=True)
        ]
        windows = int(np.prod(starts))
        times = interleaved(runs, args.rounds, per_round=1, warmup=0)
        found = compare(times, __file__, setting, args.no_memory)
        result[setting] = {
            "config": cfg,
            "windows": windows,
            "max_abs_difference": diff,
            "candidates": found,
        }
        for name in CANDIDATES:
            rows.append(
                [
                    f"{'x'.join(map(str, cfg['volume']))}x{cfg['channels']}, "
                    f"{'x'.join(map(str, cfg['roi']))} patches, overlap {cfg['overlap']}, "
                    f"{windows} windows",
                    CANDIDATES[name],
                    *timing_cells(found[name]),
                    f"{diff:.1e}",
                ]
            )
    table = markdown_table(
        [
            "volume and windows",
            "inference",
            "s / volume, median (quartiles)",
            "labkit is faster by",
            "peak memory, MiB",
            "largest difference of the two outputs",
        ],
        rows,
    )
    targets = []
    for setting in args.settings:
        ratio = result[setting]["candidates"]["monai"]["labkit_speedup"]
        targets.append(
            f"{setting}: labkit against MONAI {ratio:.2f}x (target 1.0x: {verdict(ratio, 1.0)})"
        )
    result["targets"] = targets
    table += "\n\n" + "\n".join(f"- {t}" for t in targets)
    table = (
        "One volume predicted whole by each side, Gaussian blending (sigma 0.125 of the patch), "
        "the same network and weights on both sides.\n\n" + table
    )
    write_results("sliding_window", result, table, args.out_dir)
    return result


if __name__ == "__main__":
    main()

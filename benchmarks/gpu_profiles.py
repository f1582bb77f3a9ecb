"""GPU cost of each study's ``full`` profile network: training-step time and peak GPU memory.

For every study chapter, the network its ``full`` profile trains (read from
``labkit.studies.settings.<study>``, which imports no recipe) trains on
random batches of the profile's batch size; each candidate runs alone in a fresh process, so that
its peak GPU memory is its own:

- ``labkit``: :func:`labkit.models.unet` compiled with Adam, float32;
- ``labkit, mixed precision``: the same under Keras' ``mixed_bfloat16`` policy;
- ``PyTorch, same net``: ``_torch_unet.TorchUNet`` (where the network has batch norm and 3x3
  kernels), float32.

Keras runs on whichever backend ``KERAS_BACKEND`` names; the peak memory is read from that
backend (TensorFlow: ``get_memory_info``; JAX: ``memory_stats``; PyTorch:
``max_memory_allocated``). Run on a GPU machine (about 10
minutes on an H100 with the JAX backend, 2026-11-22)::

    KERAS_BACKEND=tensorflow python benchmarks/gpu_profiles.py [--steps 20] [--out-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
from _perf import keras_peak_gpu_bytes


class Net(NamedTuple):
    """The network and batch of one study's ``full`` profile."""

    spatial: tuple[int, ...]
    channels: int
    classes: int
    filters: int
    depth: int
    kernel: int | tuple[int, ...]
    batch_norm: bool
    batch: int


def _full(study: str) -> Net:
    """The network and batch of a study's ``full`` profile. What the settings do not hold is
    written here: the inputs' channels and classes (PHH, ICH and WMH: one modality, one sigmoid;
    the Decathlon chapter's hippocampus: one modality, three classes; BraTS: four modalities,
    four classes), and WMH's U-Net without batch norm."""
    from labkit.studies.settings import brats, ich, msd, phh, wmh

    if study in ("phh", "ich"):
        s = {"phh": phh, "ich": ich}[study].PROFILES["full"]
        return Net((s.size, s.size), 1, 1, s.filters, s.depth, 3, True, s.batch_size)
    if study == "msd":
        s = msd.PROFILES["full"]
        return Net((s.max_size, s.max_size), 1, 3, s.filters, s.depth, 3, True, s.batch_size)
    if study == "wmh":
        s = wmh.PROFILES["full"]
        return Net(tuple(s.shape), 1, 1, s.filters, s.depth, tuple(s.kernel), False, s.batch_size)
    s = brats.PROFILES["full"]
    return Net(tuple(s.patch), 4, 4, s.filters, s.depth, 3, True, s.batch_size)


PROFILES = {study: _full(study) for study in ("phh", "ich", "msd", "wmh", "brats")}
CANDIDATES = {
    "labkit": "labkit (Keras), float32",
    "labkit_mixed": "labkit (Keras), mixed bfloat16",
    "torch": "PyTorch, same net, float32",
}


def _batch(study: str) -> tuple[np.ndarray, np.ndarray]:
    spatial, channels, classes, *_, batch = PROFILES[study]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *spatial, channels)).astype(np.float32)
    labels = rng.integers(0, max(classes, 2), size=(batch, *spatial))
    y = labels[..., None].astype(np.float32) if classes == 1 else np.eye(classes)[labels]
    return x, y.astype(np.float32)


def child(study: str, name: str, steps: int) -> dict:
    """One candidate on one study's network, in this (fresh) process."""
    spatial, channels, classes, filters, depth, kernel, bn, batch = PROFILES[study]
    x, y = _batch(study)
    times = []
    if name.startswith("labkit"):
        import keras

        from labkit.models import unet

        if name == "labkit_mixed":
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
        model = unet(
            (*spatial, channels), classes, depth, filters, kernel_size=kernel, batch_norm=bn
        )
        loss = "binary_crossentropy" if classes == 1 else "categorical_crossentropy"
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=loss)
        params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        for i in range(steps + 3):
            t0 = time.perf_counter()
            model.train_on_batch(x, y)  # returns the loss as a number: the step has finished
            if i >= 3:
                times.append(time.perf_counter() - t0)
        peak = keras_peak_gpu_bytes()
        backend = keras.backend.backend()
    else:
        import torch
        from _torch_unet import TorchUNet
        from torch import nn

        dev = torch.device("cuda")
        net = TorchUNet(len(spatial), channels, classes, depth, filters, bn).to(dev)
        params = int(sum(p.numel() for p in net.parameters()))
        opt = torch.optim.Adam(net.parameters(), lr=1e-4)
        tx = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1))).to(dev)
        if classes == 1:
            ty = torch.from_numpy(np.moveaxis(y, -1, 1).copy()).to(dev)
            loss_fn = nn.BCEWithLogitsLoss()
        else:
            ty = torch.from_numpy(y.argmax(-1)).to(dev)
            loss_fn = nn.CrossEntropyLoss()
        for i in range(steps + 3):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss_fn(net(tx), ty).backward()
            opt.step()
            torch.cuda.synchronize()
            if i >= 3:
                times.append(time.perf_counter() - t0)
        peak = int(torch.cuda.max_memory_allocated())
        backend = "torch"
    med = float(np.median(times))
    return {
        "study": study,
        "candidate": name,
        "backend": backend,
        "parameters": params,
        "batch": batch,
        "median_step_s": med,
        "samples_per_s": batch / med,
        "peak_gpu_mib": peak / 2**20,
    }


def write_table(runs: list[dict], out_dir: Path, gpu: str, steps: int) -> str:
    """Write ``gpu_profiles.json`` and the table ``gpu_profiles.md`` of some runs."""
    rows = []
    for r in runs:
        spatial = "x".join(map(str, PROFILES[r["study"]].spatial))
        rows.append(
            f"| {r['study']} ({spatial}, batch {r['batch']}) | {CANDIDATES[r['candidate']]} "
            f"({r['backend']}) | {r['parameters'] / 1e6:.1f} M | {r['samples_per_s']:.1f} | "
            f"{1e3 * r['median_step_s']:.0f} | {r['peak_gpu_mib']:.0f} |"
        )
    table = "\n".join(
        [
            "| study (`full` profile network) | training step | parameters | samples / s | "
            "ms / step | peak GPU memory, MiB |",
            "| --- | --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    footer = (
        f"\n\nMeasured {time.strftime('%Y-%m-%d')} on {gpu}; {steps} timed steps after 3 "
        "warm-up steps, median. Rerun: `KERAS_BACKEND=... python benchmarks/gpu_profiles.py`.\n"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "gpu_profiles.json").write_text(
        json.dumps({"gpu": gpu, "steps": steps, "runs": runs}, indent=1) + "\n"
    )
    (out_dir / "gpu_profiles.md").write_text(table + footer)
    return table + footer


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--studies", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        study, name = args.child.split(":")
        print("RESULT " + json.dumps(child(study, name, args.steps)), flush=True)
        return {}
    gpu = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    runs = []
    for study in args.studies:
        for name in args.candidates:
            if name == "torch" and not (PROFILES[study].batch_norm and PROFILES[study].kernel == 3):
                # the PyTorch twin has batch norm and 3x3(x3) kernels only
                continue
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    f"{study}:{name}",
                    "--steps",
                    str(args.steps),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            found = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
            if out.returncode or not found:
                print(f"{study} {name} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            runs.append(json.loads(found[-1][7:]))
            print(runs[-1], file=sys.stderr, flush=True)
            write_table(runs, args.out_dir, gpu, args.steps)  # a run cut short keeps its rows
    print(write_table(runs, args.out_dir, gpu, args.steps))
    return {"runs": runs}


if __name__ == "__main__":
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    main()

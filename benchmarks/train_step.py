"""Training-step throughput: labkit's U-Net against the same network in PyTorch and MONAI's U-Nets.

For a 2D and a 3D input shape, every candidate trains on one fixed batch (Adam, cross-entropy,
two classes) and is timed in interleaved rounds in one process, so the ratios hold on a noisy
machine:

- ``labkit``: :func:`labkit.models.unet` compiled as the chapters compile it (Keras defaults,
  no XLA), stepped with ``train_on_batch``;
- ``labkit with Keras' BatchNormalization``: the same network built with
  ``fused_batch_norm=False``, as labkit built it before :mod:`labkit.layers` (the speed-up);
- ``labkit XLA``: the same model compiled with ``jit_compile=True``;
- ``PyTorch, same net``: ``_torch_unet.TorchUNet``, the same layers (whose outputs are checked
  against the Keras model's with copied weights before timing), channels-first;
- ``PyTorch, same net, channels-last``: the same with ``torch.channels_last`` memory;
- ``MONAI BasicUNet``: ``monai.networks.nets.BasicUNet`` with its defaults;
- ``MONAI UNet``: ``monai.networks.nets.UNet`` with labkit's widths and two residual units a
  level, as MONAI's tutorials build it.

Reported per candidate: samples per second (median step), labkit's speed-up over it, achieved
GFLOP/s and its share of this machine's float32 matrix-multiply peak, and the peak memory of a
training run of the candidate alone in a fresh process. Run (17.5 minutes on 2 CPUs, 2026-11-22)::

    python benchmarks/train_step.py [--dims 2d 3d] [--rounds 5] [--no-memory]
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

CONFIGS = {
    "2d": {"spatial": (128, 128), "batch": 8, "channels": 1, "classes": 2},
    "3d": {"spatial": (64, 64, 64), "batch": 2, "channels": 1, "classes": 2},
}
FILTERS, DEPTH = 16, 4
CANDIDATES = {
    "labkit": "labkit (Keras 3, TensorFlow)",
    "labkit_keras_bn": "labkit with Keras' own BatchNormalization (before the fused layer)",
    "labkit_xla": "labkit, XLA (jit_compile=True)",
    "torch": "PyTorch, same net",
    "torch_cl": "PyTorch, same net, channels-last",
    "basicunet": "MONAI BasicUNet (defaults)",
    "monai_unet": "MONAI UNet (same widths, 2 residual units)",
}


def batch(dim: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One batch: images ``(n, *spatial, c)`` float32 and class indices ``(n, *spatial)``."""
    cfg = CONFIGS[dim]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((cfg["batch"], *cfg["spatial"], cfg["channels"])).astype(np.float32)
    y = (x[..., 0] > 0.5).astype(np.int64)
    return x, y


def build(dim: str, name: str) -> tuple[object, int, object]:
    """A candidate's training step, its parameter count, and a PyTorch net with its FLOPs
    (labkit's candidates count their FLOPs on the identical PyTorch net)."""
    cfg = CONFIGS[dim]
    ndim = len(cfg["spatial"])
    x, y = batch(dim)
    if name.startswith("labkit"):
        import keras
        import tensorflow as tf

        from labkit.models import unet

        model = unet(
            (*cfg["spatial"], cfg["channels"]),
            cfg["classes"],
            DEPTH,
            FILTERS,
            fused_batch_norm=name != "labkit_keras_bn",
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="categorical_crossentropy",
            jit_compile=name == "labkit_xla",
        )
        model.optimizer.build(model.trainable_variables)
        tx = tf.constant(x)
        ty = tf.constant(np.eye(cfg["classes"], dtype=np.float32)[y])
        params = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        return (lambda: model.train_on_batch(tx, ty)), params, model

    import torch
    from _torch_unet import TorchUNet
    from monai.networks import nets
    from torch import nn

    widths = tuple(FILTERS * 2**k for k in range(DEPTH + 1))
    if name in ("torch", "torch_cl"):
        net = TorchUNet(ndim, cfg["channels"], cfg["classes"], DEPTH, FILTERS)
    elif name == "basicunet":
        net = nets.BasicUNet(ndim, cfg["channels"], cfg["classes"])
    else:
        net = nets.UNet(
            ndim, cfg["channels"], cfg["classes"], widths, (2,) * DEPTH, num_res_units=2
        )
    tx = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
    ty = torch.from_numpy(y)
    if name == "torch_cl":
        fmt = torch.channels_last if ndim == 2 else torch.channels_last_3d
        net = net.to(memory_format=fmt)
        tx = tx.contiguous(memory_format=fmt)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss_fn(net(tx), ty).backward()
        opt.step()

    params = sum(p.numel() for p in net.parameters())
    return step, params, net


def same_function(dim: str) -> float:
    """Largest difference between the Keras U-Net's and the PyTorch twin's probabilities on one
    batch, with the Keras weights copied over (inference mode)."""
    import torch
    from _torch_unet import TorchUNet, copy_keras_weights

    from labkit.models import unet

    cfg = CONFIGS[dim]
    x, _ = batch(dim, seed=1)
    model = unet((*cfg["spatial"], cfg["channels"]), cfg["classes"], DEPTH, FILTERS)
    net = TorchUNet(len(cfg["spatial"]), cfg["channels"], cfg["classes"], DEPTH, FILTERS)
    copy_keras_weights(model, net.eval())
    with torch.no_grad():
        p = torch.softmax(net(torch.from_numpy(np.moveaxis(x[:1], -1, 1).copy())), 1).numpy()
    k = np.asarray(model(x[:1], training=False))
    return float(np.abs(np.moveaxis(p, 1, -1) - k).max())


def memory_run(spec: str) -> None:
    """Child process: the candidate's peak memory over its imports, for 4 training steps."""
    import tensorflow  # noqa: F401
    import torch  # noqa: F401
    from _perf import peak_mib, start_peak

    dim, name = spec.split(":")
    base = start_peak()
    step, _, _ = build(dim, name)
    for _ in range(4):
        step()
    print(f"PEAK_MIB {peak_mib() - base:.1f}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    from _perf import arguments

    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--dims", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
        parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES))

    args = arguments(__doc__, argv, rounds=5, extra=options)
    if args.memory_of:
        memory_run(args.memory_of)
        return {}

    import torch
    from _perf import (
        compare,
        interleaved,
        machine,
        markdown_table,
        matmul_peak,
        torch_conv_flops,
        verdict,
        write_results,
    )

    result: dict = {"machine": machine(), "command": "python benchmarks/train_step.py"}
    peak = matmul_peak()
    result["matmul"] = peak
    rows = []
    for dim in args.dims:
        cfg = CONFIGS[dim]
        print(f"{dim}: {cfg}", file=sys.stderr, flush=True)
        built = {name: build(dim, name) for name in args.candidates}
        x, _ = batch(dim)
        tx = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1)))
        twin = build(dim, "torch")[2] if "torch" not in built else built["torch"][2]
        flops = {}
        for name, (_, _, net) in built.items():
            flops[name] = torch_conv_flops(twin if name.startswith("labkit") else net, tx)
        # XLA compiles for minutes and then steps slowly on a CPU: one timed step a round
        per_round = {n: 1 if n == "labkit_xla" else 2 for n in built}
        entry = {
            "config": {**cfg, "filters": FILTERS, "depth": DEPTH},
            "max_abs_difference_keras_vs_torch": same_function(dim),
            "candidates": {},
        }
        times = interleaved({n: b[0] for n, b in built.items()}, args.rounds, per_round)
        found = compare(times, __file__, dim, args.no_memory)
        for name, (_, params, _) in built.items():
            stats = found[name]
            rate = cfg["batch"] / stats["median_s"]
            gflops = flops[name] / stats["median_s"] / 1e9
            mem, speedup = stats["peak_memory_mib"], stats["labkit_speedup"]
            entry["candidates"][name] = {
                **stats,
                "parameters": params,
                "samples_per_s": rate,
                "train_gflop_per_step": flops[name] / 1e9,
                "gflops": gflops,
                "share_of_matmul_peak": gflops / peak["peak_gflops"],
            }
            rows.append(
                [
                    dim.upper(),
                    CANDIDATES[name],
                    f"{params / 1e6:.2f} M",
                    f"{rate:.2f}",
                    f"{1e3 * stats['median_s']:.0f} ({1e3 * stats['q1_s']:.0f}-"
                    f"{1e3 * stats['q3_s']:.0f})",
                    "" if speedup is None else f"{speedup:.2f}x",
                    f"{gflops:.1f} ({100 * gflops / peak['peak_gflops']:.0f}%)",
                    "not measured" if mem is None else f"{mem:.0f}",
                ]
            )
        result[dim] = entry
        del built
    shapes = "; ".join(
        f"{d.upper()}: batch {CONFIGS[d]['batch']} of {'x'.join(map(str, CONFIGS[d]['spatial']))}"
        for d in args.dims
    )
    table = markdown_table(
        [
            "",
            "network",
            "parameters",
            "samples / s",
            "ms / step, median (quartiles)",
            "labkit is faster by",
            "GFLOP/s (share of matmul peak)",
            "peak memory, MiB",
        ],
        rows,
    )
    table = (
        f"{shapes}; one input channel, two classes, Adam, cross-entropy. Matrix-multiply peak "
        f"of this machine: {peak['peak_gflops']:.0f} GFLOP/s (float32, "
        f"{peak['n']}x{peak['n']}).\n\n{table}"
    )
    targets = []
    for dim in args.dims:
        c = result[dim]["candidates"]
        for name, target in (("torch", 1.0), ("basicunet", 2.0)):
            if "labkit" in c and name in c:
                ratio = c[name]["labkit_speedup"]
                targets.append(
                    f"{dim.upper()}, labkit against {CANDIDATES[name]}: {ratio:.2f}x "
                    f"(target {target:.1f}x: {verdict(ratio, target)})"
                )
    result["targets"] = targets
    table += "\n\n" + "\n".join(f"- {t}" for t in targets)
    write_results("train_step", result, table, args.out_dir)
    return result


if __name__ == "__main__":
    main()

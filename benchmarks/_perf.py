"""What the performance benchmarks share: interleaved timing, peak memory of a child process,
a matrix-multiply peak, the machine they ran on, and the tables they write for the book.

Timings of two frameworks on a shared, noisy machine are only comparable side by side, so
:func:`interleaved` runs every candidate a few steps in turn, round after round, and reports
medians; the ratios between candidates are the result, the absolute times are context.
Each script writes ``benchmarks/results/<name>.json`` (everything measured) and
``benchmarks/results/<name>.md`` (the table the book's Performance page includes).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """The machine and library versions a result was measured with."""
    import keras
    import monai
    import tensorflow as tf
    import torch

    cpu = platform.processor() or platform.machine()
    info = Path("/proc/cpuinfo")
    if info.is_file():
        names = [ln for ln in info.read_text().splitlines() if ln.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    return {
        "measured": datetime.date.today().isoformat(),
        "cpu": cpu,
        "cpus": len(os.sched_getaffinity(0)),
        "gpu": ", ".join(d.name for d in tf.config.list_physical_devices("GPU")) or "none",
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "monai": monai.__version__,
    }


def arguments(
    doc: str, argv: list[str] | None, rounds: int, extra: Callable | None = None
) -> argparse.Namespace:
    """Parse what every comparison script takes: ``--rounds``, ``--no-memory``, ``--out-dir``
    and the hidden ``--memory-of`` of its child processes; ``extra(parser)`` adds its own."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if extra is not None:
        extra(parser)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--out-dir", type=Path, help="default: benchmarks/results")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def compare(
    times: Mapping[str, Sequence[float]], script: str, tag: str, no_memory: bool
) -> dict[str, dict]:
    """Each candidate's timing summary, peak memory (alone, in a fresh process started as
    ``script --memory-of tag:name``; ``None`` with ``no_memory``) and labkit's speed-up over it
    (its median over labkit's; ``None`` when labkit was not timed)."""
    base = summary(times["labkit"])["median_s"] if "labkit" in times else None
    out = {}
    for name, seconds in times.items():
        stats = summary(seconds)
        mem = None if no_memory else child_peak_mib(script, ["--memory-of", f"{tag}:{name}"])
        speedup = stats["median_s"] / base if base else None
        out[name] = {**stats, "peak_memory_mib": mem, "labkit_speedup": speedup}
    return out


def timing_cells(c: Mapping[str, object]) -> list[str]:
    """Table cells of one :func:`compare` entry: seconds (median and quartiles), labkit's
    speed-up over it, peak memory."""
    mem = c["peak_memory_mib"]
    return [
        f"{c['median_s']:.2f} ({c['q1_s']:.2f}-{c['q3_s']:.2f})",
        "" if c["labkit_speedup"] is None else f"{c['labkit_speedup']:.2f}x",
        "not measured" if mem is None else f"{mem:.0f}",
    ]


def interleaved(
    steps: Mapping[str, Callable[[], object]],
    rounds: int,
    per_round: int | Mapping[str, int] = 2,
    warmup: int = 2,
    pause_s: float = 0.2,
) -> dict[str, list[float]]:
    """Time candidates in turn: ``warmup`` untimed calls each, then ``rounds`` rounds in which
    every candidate makes ``per_round`` timed calls.

    Args:
        steps: Name to a callable that does one unit of work and returns when it is done.
        rounds: Rounds of timed calls.
        per_round: Timed calls per candidate per round (one number, or one per name).
        warmup: Untimed calls per candidate before the first round (tracing, allocation).
        pause_s: Sleep between candidates, so one framework's spinning worker threads have
            gone idle before the next one starts.

    Returns:
        Name to the seconds of each timed call.
    """
    counts = per_round if isinstance(per_round, Mapping) else dict.fromkeys(steps, per_round)
    for name, step in steps.items():
        for _ in range(warmup):
            step()
        print(f"  warmed up {name}", file=sys.stderr, flush=True)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(rounds):
        for name, step in steps.items():
            time.sleep(pause_s)
            for _ in range(counts[name]):
                t0 = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - t0)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return times


def summary(seconds: Sequence[float]) -> dict:
    """Median, quartiles and count of some timings, in seconds."""
    s = np.asarray(seconds, dtype=float)
    q1, med, q3 = np.percentile(s, [25, 50, 75])
    return {"median_s": float(med), "q1_s": float(q1), "q3_s": float(q3), "n": int(s.size)}


def _status_kib(key: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(text.split(f"{key}:", 1)[1].split()[0])


def start_peak() -> float:
    """Reset this process's peak resident memory to its current size and return that size in
    MiB (Linux: ``/proc/self/clear_refs``). Importing TensorFlow and PyTorch peaks higher than
    where it settles, so without the reset a small candidate's peak would hide under it."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS") / 1024.0


def peak_mib() -> float:
    """Peak resident memory of this process since :func:`start_peak`, in MiB."""
    return _status_kib("VmHWM") / 1024.0


def keras_peak_gpu_bytes() -> int:
    """Peak GPU memory of this process as Keras' backend reports it (TensorFlow:
    ``get_memory_info``; JAX: ``memory_stats``; PyTorch: ``max_memory_allocated``)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    if backend == "jax":
        import jax

        return int(jax.devices()[0].memory_stats()["peak_bytes_in_use"])
    import torch

    return int(torch.cuda.max_memory_allocated())


def child_peak_mib(script: str, args: Sequence[str], timeout_s: float = 1800) -> float:
    """Run ``python script --memory-of ...`` in a fresh process and return the peak memory it
    reports (its peak resident set minus its resident set after the imports, see
    :func:`start_peak`).

    The timings share one process; memory cannot (a peak only grows, and one framework's freed
    memory is reused by the next), so each candidate's memory is measured alone.
    """
    out = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("PEAK_MIB ")]
    if out.returncode or not lines:
        raise RuntimeError(f"memory run {args} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return float(lines[-1].split()[1])


def matmul_peak(n: int = 2048, repeats: int = 10) -> dict:
    """The float32 matrix-multiply rate of this machine, from PyTorch and from TensorFlow.

    The larger of the two is the peak a convolution's FLOP/s is compared with: convolutions are
    computed as (or like) matrix products, and a large product is the best this machine does.
    """
    import tensorflow as tf
    import torch

    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    ta, tt = torch.from_numpy(a), tf.constant(a)
    flops = 2.0 * n**3
    runs = {
        "torch": lambda: torch.matmul(ta, ta),
        "tensorflow": lambda: tf.matmul(tt, tt).numpy(),
    }
    times = interleaved(runs, rounds=repeats, per_round=1, warmup=2)
    rates = {k: flops / float(np.median(v)) / 1e9 for k, v in times.items()}
    return {"n": n, "gflops": rates, "peak_gflops": max(rates.values())}


def torch_conv_flops(net: object, example: object) -> float:
    """FLOPs of one training step of a PyTorch network on ``example``: three times the forward
    pass's multiply-adds of every (transposed) convolution, counted as two FLOPs each.

    Three: the forward pass, the gradient with respect to the input and the one with respect to
    the weights cost about the same. Normalisations, activations and pooling are left out (a few
    percent of a U-Net's work).
    """
    import torch
    from torch import nn

    total = [0.0]
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    transposed = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        w = module.weight
        per_position = w.numel() / module.groups
        if isinstance(module, transposed):
            positions = inputs[0].numel() / inputs[0].shape[1]
        else:
            positions = output.numel() / output.shape[1]
        total[0] += 2.0 * per_position * positions

    handles = [
        m.register_forward_hook(hook) for m in net.modules() if isinstance(m, convs + transposed)
    ]
    with torch.no_grad():
        net(example)
    for h in handles:
        h.remove()
    return 3.0 * total[0]


def write_results(name: str, result: dict, table: str, out_dir: Path | None = None) -> Path:
    """Write ``<name>.json`` and ``<name>.md`` (the table, with the machine under it) into
    ``benchmarks/results`` (or ``out_dir``), print the table, and return the JSON path."""
    out_dir = out_dir or RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    m = result["machine"]
    footer = (
        f"\n\nMeasured {m['measured']} on {m['cpus']} CPUs ({m['cpu']}), GPU: {m['gpu']}; "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}, PyTorch {m['torch']} "
        f"({m['torch_threads']} threads), MONAI {m['monai']}. "
        f"Rerun: `{result['command']}`.\n"
    )
    (out_dir / f"{name}.md").write_text(table + footer)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(table + footer)
    return path


def verdict(ratio: float, target: float) -> str:
    """``"met"``, or by how much a ratio falls short of its target."""
    return "met" if ratio >= target else f"missed by {100 * (1 - ratio / target):.0f}%"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """:func:`labkit.tables.markdown_table` for rows given as lists in the header's order."""
    from labkit.tables import markdown_table as table

    return table([dict(zip(header, row, strict=True)) for row in rows], header)

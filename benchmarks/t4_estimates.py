"""What each ``full`` profile costs on a Colab T4, estimated from its compiled training step.

No GPU is lent to this project's tasks for now, so the cost of a ``full`` run on the 16 GB T4 a
student gets on Colab is estimated, not measured. For each study's ``full`` network and batch
(``gpu_profiles.PROFILES``: the same networks ``benchmarks/gpu_profiles.py`` timed on an H100),
one training step (forward, loss, gradients, Adam) is compiled with JAX on this machine's CPU
under ``mixed_bfloat16`` (16-bit activations, as the ``full`` profiles' ``mixed_float16``), and
XLA reports its FLOPs (``cost_analysis``) and its memory (``memory_analysis``: arguments, that is
weights, optimizer state and batch, plus temporaries). Then, per network:

- **time**: the H100 record (``results/gpu_profiles.json``, mixed bfloat16, the same network and
  batch) gives the FLOP/s the H100 reached, a share of its dense 16-bit tensor-core peak
  (:data:`H100_PEAK`); the T4 is assumed to reach the same share of its own (:data:`T4_PEAK`).
  The ratio of the peaks is the assumption; nothing here measures a T4.
- **memory**: the H100's measured peak under mixed precision (the same network, batch and
  16-bit width; only the convolution algorithms' scratch differs between GPUs), with the
  compiled CPU figure beside it as a cross-check.
- **a run's minutes**: training steps only (validation and prediction left out), over the
  study's data where its write-up gives the count (:data:`RUN_STEPS`).

Run (a few minutes on a 2-core CPU)::

    python benchmarks/t4_estimates.py   # results/t4_estimates.{json,md}, labkit/records/ copy
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # before gpu_profiles imports labkit, and with it Keras
    os.environ["KERAS_BACKEND"] = "jax"

from gpu_profiles import PROFILES

from labkit.full_runs import T4_MIB

RESULTS = Path(__file__).resolve().parent / "results"
RECORDS = Path(__file__).resolve().parents[1] / "labkit" / "records"

#: Dense 16-bit tensor-core peaks from the vendors' data sheets, FLOP/s: H100 SXM (bfloat16)
#: and T4 (float16).
H100_PEAK = 989e12
T4_PEAK = 65e12


#: Training steps of a whole ``full`` run on the study's own data: (steps, how they are counted).
RUN_STEPS = {
    "phh": (25 * 112, "25 epochs x 112 steps: 7 training volumes x 256 slices, batch 16"),
    "ich": (50 * 71, "50 epochs x 71 steps: the study's 563 training slices, batch 8"),
    "msd": (None, "depends on the task's slices: per 1,000 steps only"),
    "wmh": (60 * 60, "60 epochs x 60 steps: the study's 240 augmented volumes, batch 4"),
    "brats": (120 * 100, "120 epochs x 100 steps: 800 patches an epoch, batch 8"),
}


def child(study: str) -> dict:
    """Compile one training step of a study's ``full`` network on the CPU (this process)."""
    import jax
    import keras

    from labkit.models import unet

    spatial, channels, classes, filters, depth, kernel, bn, batch = PROFILES[study]
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = unet((*spatial, channels), classes, depth, filters, kernel_size=kernel, batch_norm=bn)
    optimizer = keras.optimizers.Adam(1e-4)
    optimizer.build(model.trainable_variables)
    loss = (
        keras.losses.BinaryCrossentropy()
        if classes == 1
        else keras.losses.CategoricalCrossentropy()
    )

    def loss_and_state(trainable, other, x, y):
        y_pred, other = model.stateless_call(trainable, other, x, training=True)
        return loss(y, y_pred), other

    def step(trainable, other, state, x, y):
        (value, other), grads = jax.value_and_grad(loss_and_state, has_aux=True)(
            trainable, other, x, y
        )
        trainable, state = optimizer.stateless_apply(state, grads, trainable)
        return trainable, other, state, value

    values = [
        [v.value for v in group]
        for group in (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
    ]
    x = jax.ShapeDtypeStruct((batch, *spatial, channels), "float32")
    y = jax.ShapeDtypeStruct((batch, *spatial, classes), "float32")
    start = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=(0, 1, 2)).lower(*values, x, y).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    memory = compiled.memory_analysis()
    return {
        "study": study,
        "parameters": int(model.count_params()),
        "batch": batch,
        "flops": float(cost["flops"]),
        "compiled_mib": (memory.argument_size_in_bytes + memory.temp_size_in_bytes) / 2**20,
        "compile_seconds": round(time.perf_counter() - start, 1),
    }


def estimate(compiled: dict, h100: dict) -> dict:
    """The T4 estimate of one network from its compiled step and its H100 record."""
    achieved = compiled["flops"] / h100["median_step_s"]
    share = achieved / H100_PEAK
    t4_step = compiled["flops"] / (share * T4_PEAK)
    steps, counted = RUN_STEPS[compiled["study"]]
    return {
        **compiled,
        "h100_step_ms": 1e3 * h100["median_step_s"],
        "h100_peak_mib": h100["peak_gpu_mib"],
        "h100_share_of_peak": share,
        "t4_step_s": t4_step,
        "t4_minutes_per_1000_steps": 1000 * t4_step / 60,
        "run_steps": steps,
        "run_steps_counted": counted,
        "t4_run_minutes": None if steps is None else steps * t4_step / 60,
        "t4_mib": h100["peak_gpu_mib"],
        "fits_t4": h100["peak_gpu_mib"] <= T4_MIB,  # as labkit.full_runs counts a fit
    }


def table(rows: list[dict], h100_gpu: str) -> str:
    lines = [
        "| study (`full` network, batch) | parameters | GFLOP / step | compiled memory, MiB "
        "| H100: ms / step, share of peak, peak MiB | T4 (estimated): s / step, min / 1,000 "
        "steps | T4: a whole run, min | fits a 16 GB T4 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        spatial = "x".join(map(str, PROFILES[r["study"]].spatial))
        run = "" if r["t4_run_minutes"] is None else f"~{r['t4_run_minutes']:.0f}"
        lines.append(
            f"| {r['study']} ({spatial}, {r['batch']}) | {r['parameters'] / 1e6:.1f} M | "
            f"{r['flops'] / 1e9:.0f} | {r['compiled_mib']:.0f} | {r['h100_step_ms']:.0f}, "
            f"{100 * r['h100_share_of_peak']:.1f}%, {r['h100_peak_mib']:.0f} | "
            f"{r['t4_step_s']:.2f}, {r['t4_minutes_per_1000_steps']:.0f} | "
            f"{run} ({r['run_steps_counted']}) | "
            f"{'yes' if r['fits_t4'] else 'no'} ({r['t4_mib'] / 1024:.1f} GiB) |"
        )
    return "\n".join(lines) + (
        f"\n\nEstimated {time.strftime('%Y-%m-%d')}: FLOPs and compiled memory from one training "
        "step compiled by JAX (XLA) on a CPU under mixed bfloat16; step times and peaks measured "
        f"on {h100_gpu} (`results/gpu_profiles.json`, mixed bfloat16). Assumption: a T4 reaches "
        f"the same share of its {T4_PEAK / 1e12:.0f} TFLOP/s float16 peak as the H100 reached of "
        f"its {H100_PEAK / 1e12:.0f} TFLOP/s bfloat16 peak on the same network; memory as on the "
        "H100. Training steps only. Rerun: `python benchmarks/t4_estimates.py`.\n"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", nargs="+", default=list(PROFILES), choices=list(PROFILES))
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child(args.child)), flush=True)
        return []
    record = json.loads((RESULTS / "gpu_profiles.json").read_text())
    h100 = {r["study"]: r for r in record["runs"] if r["candidate"] == "labkit_mixed"}
    rows = []
    for study in args.studies:
        out = subprocess.run(
            [sys.executable, __file__, "--child", study], capture_output=True, text=True
        )
        found = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        if out.returncode or not found:
            raise RuntimeError(f"{study}: the compile failed:\n{out.stderr[-2000:]}")
        rows.append(estimate(json.loads(found[-1][7:]), h100[study]))
        print(rows[-1], file=sys.stderr, flush=True)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    result = {"date": time.strftime("%Y-%m-%d"), "h100": record["gpu"], "rows": rows}
    # the chapters read the package's copy: a partial run (--studies) or a run elsewhere
    # (--out-dir) leaves it alone
    whole = set(args.studies) == set(PROFILES) and args.out_dir == RESULTS
    for folder in (args.out_dir, RECORDS) if whole else (args.out_dir,):
        (folder / "t4_estimates.json").write_text(json.dumps(result, indent=1) + "\n")
    text = table(rows, record["gpu"].split(",")[0])
    (args.out_dir / "t4_estimates.md").write_text(text)
    print(text)
    return rows


if __name__ == "__main__":
    main()

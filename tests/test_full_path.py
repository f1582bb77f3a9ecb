"""The ``full`` profiles run end to end on a CPU, bounded: the path a student on a Colab GPU takes.

Each (study, task) pair trains its ``full`` network at its real input size (PHH 256x256 with 64
filters, ICH 512x512, WMH 128x128x16, MSD up to 256x256, BraTS 64-voxel patches at 1 mm) with its
loss, for two steps, then predicts and scores one test case and writes the run folder. What is
bounded, and why:

- ``steps_per_epoch=2``, ``epochs=1``, ``max_test_cases=1``: the proof is that every step runs,
  not that the network learns (the chapters' quick runs and their floors show that);
- ``precision=float32``: CPUs emulate float16, so one mixed-float16 step of the PHH network took
  over 50 s here; the policy itself is proven through the same recipe on the quick network
  (:func:`test_the_full_profiles_precision_runs_through_the_recipe`) and on a toy U-Net in
  ``tests/test_hardware.py``;
- ``batch_size=2``: a full batch's memory is a GPU's question, estimated in
  ``benchmarks/results/t4_estimates.md``.
"""

from __future__ import annotations

import keras
import pytest

from labkit.runfolder import RunFolder
from labkit.studies import get as get_recipe

pytestmark = pytest.mark.full_path

#: The bounds every run here takes on top of its ``full`` profile.
BOUNDED = {
    "epochs": 1,
    "steps_per_epoch": 2,
    "max_test_cases": 1,
    "precision": "float32",
    "batch_size": 2,
}

#: Pair to (study, synth keyword arguments, cases of the twin, more bounds): the smallest twin
#: whose split leaves a case in each subset (WMH: three subjects a site, split in thirds), and
#: BraTS draws the 8 patches two steps of 2 take (and half as many to validate), not 800.
PAIRS = {
    "phh": ("phh", {}, 6, {}),
    "wmh": ("wmh", {}, 3, {"fractions": [0.34, 0.33, 0.33]}),
    "ich": ("ich", {}, 6, {}),
    "msd_liver": ("msd", {"task": "liver"}, 6, {}),
    "msd_spleen": ("msd", {"task": "spleen"}, 6, {}),
    "brats": ("brats", {}, 4, {"patches_per_epoch": 8}),
}


@pytest.mark.parametrize("pair", list(PAIRS))
def test_every_full_profile_trains_predicts_and_scores_bounded(pair, tmp_path):
    study, synth_args, cases, more = PAIRS[pair]
    recipe = get_recipe(study)
    data = recipe.synth(tmp_path / "data", cases=cases, seed=0, **synth_args)
    overrides = {**BOUNDED, **more}
    summary = recipe.train(data, tmp_path / "run", profile="full", overrides=overrides)

    folder = RunFolder(tmp_path / "run")
    config, split = folder.config(), folder.split()
    full = recipe.settings("full")
    assert config["profile"] == "full"
    for name in ("filters", "depth", "loss", "learning_rate"):
        assert config["settings"][name] == getattr(full, name), name
    for name in ("size", "shape", "patch", "spacing", "max_size"):
        if hasattr(full, name):  # the real input size, not a shrunken one
            value = getattr(full, name)
            assert config["settings"][name] == (list(value) if isinstance(value, tuple) else value)
    model = folder.model()  # the full network: its width and depth
    assert model.get_layer("enc0_conv1").filters == full.filters
    pools = [layer for layer in model.layers if layer.name.endswith("_pool")]
    assert len(pools) == full.depth
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    assert len(history) == 2, history  # a header and one epoch
    assert len(split["test"]) >= 1 and {r["case"] for r in folder.metrics()} == {split["test"][0]}
    assert all(label["n"] == 1 for label in summary["labels"])


def test_the_full_profiles_precision_runs_through_the_recipe(tmp_path):
    """mixed_float16 through the whole recipe (train, save, reload, predict, score) on the quick
    network, where a CPU's emulated float16 costs seconds."""
    recipe = get_recipe("phh")
    data = recipe.synth(tmp_path / "data", cases=6, seed=0)
    overrides = {**BOUNDED, "precision": "mixed_float16", "size": 32, "depth": 2, "filters": 4}
    recipe.train(data, tmp_path / "run", profile="quick", overrides=overrides)
    model = RunFolder(tmp_path / "run").model()
    assert model.get_layer("enc0_conv1").compute_dtype == "float16"
    assert model.get_layer("probabilities").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # restored after training

"""The command line's acceptance run on the 200 real MSD hippocampus cases.

``labkit train msd`` with the quick profile cut to two epochs (``--set epochs=2``, about three
minutes on a 2-core CPU), then ``labkit predict`` + ``labkit evaluate``, which must reproduce the
run's own metrics. It runs only when the real data are present (``../shared/data`` or
``LABKIT_DATA_ROOT``). The quality of the recipe is asserted elsewhere: the Decathlon chapter
holds a 0.77 floor with four epochs, and ``benchmarks/msd_hippocampus.py`` measures the full
twelve-epoch quick profile.
"""

import json
import shutil

import numpy as np
import pytest

from labkit.evaluation import read_metrics_csv
from labkit_cli import main

#: Held-out Dice of this two-epoch run over seeds 0-2 with one and two TensorFlow threads on a
#: 2-core CPU (2026-11-24): anterior 0.800 ± 0.021, posterior 0.790 ± 0.036, lowest 0.735 (seed
#: 0, two threads, the run of this test). The former floor, 0.75 from one run, failed here; this
#: one sits 0.035 below the lowest (benchmarks/README.md).
DICE_FLOOR = 0.70


@pytest.mark.shared_data
def test_cli_on_real_hippocampus(hippocampus_root, tmp_path):
    run, pred, images = tmp_path / "run", tmp_path / "pred", tmp_path / "test_images"
    train = ["train", "msd", "--data", str(hippocampus_root), "--out", str(run)]
    assert main([*train, "--set", "epochs=2"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    by_label = {row["label"]: row for row in summary["labels"]}
    assert set(by_label) == {"Anterior", "Posterior"}
    for row in by_label.values():
        assert row["n"] == 40
        assert row["dice_mean"] > DICE_FLOOR, row

    images.mkdir()
    for case in json.loads((run / "split.json").read_text())["test"]:
        shutil.copy(hippocampus_root / "imagesTr" / f"{case}.nii.gz", images)
    assert main(["predict", str(run), "--input", str(images), "--output", str(pred)]) == 0
    out = tmp_path / "evaluate.csv"
    assert (
        main(["evaluate", "--pred", str(pred), "--ref", str(hippocampus_root), "--out", str(out)])
        == 0
    )
    ours, theirs = read_metrics_csv(run / "metrics.csv"), read_metrics_csv(out)
    key = lambda r: (r["case"], r["label"])  # noqa: E731
    ours, theirs = sorted(ours, key=key), sorted(theirs, key=key)
    assert [key(r) for r in ours] == [key(r) for r in theirs]
    np.testing.assert_allclose([r["dice"] for r in theirs], [r["dice"] for r in ours])

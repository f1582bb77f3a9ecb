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
from labkit.floors import check_floor
from labkit_cli import main


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
        # floors and their spread: labkit/records/floors.json (benchmarks/floor_spread.py msd_cli)
        print(check_floor(f"msd_cli: {row['label']} Dice", row["dice_mean"]))

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

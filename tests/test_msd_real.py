"""The core's acceptance run: the msd recipe on the 200 real MSD hippocampus cases (quick profile).

Trains for several minutes on a 2-core CPU, so it runs only when the real data are present
(``../shared/data`` or ``LABKIT_DATA_ROOT``). It asserts the held-out Dice floor of the quick
profile and that ``labkit predict`` + ``labkit evaluate`` reproduce the run's own metrics.
"""

import json
import shutil

import numpy as np
import pytest

from labkit import cli
from labkit.evaluation import read_metrics_csv

#: Measured held-out Dice of this run on a 2-core CPU: anterior 0.862, posterior 0.845 (README).
DICE_FLOOR = 0.80


@pytest.mark.shared_data
def test_quick_profile_on_real_hippocampus(hippocampus_root, tmp_path):
    run, pred, images = tmp_path / "run", tmp_path / "pred", tmp_path / "test_images"
    assert cli.main(["train", "msd", "--data", str(hippocampus_root), "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    by_label = {row["label"]: row for row in summary["labels"]}
    assert set(by_label) == {"Anterior", "Posterior"}
    for row in by_label.values():
        assert row["n"] == 40
        assert row["dice_mean"] > DICE_FLOOR, row

    images.mkdir()
    for case in json.loads((run / "split.json").read_text())["test"]:
        shutil.copy(hippocampus_root / "imagesTr" / f"{case}.nii.gz", images)
    assert cli.main(["predict", str(run), "--input", str(images), "--output", str(pred)]) == 0
    out = tmp_path / "evaluate.csv"
    assert (
        cli.main(
            ["evaluate", "--pred", str(pred), "--ref", str(hippocampus_root), "--out", str(out)]
        )
        == 0
    )
    ours, theirs = read_metrics_csv(run / "metrics.csv"), read_metrics_csv(out)
    key = lambda r: (r["case"], r["label"])  # noqa: E731
    ours, theirs = sorted(ours, key=key), sorted(theirs, key=key)
    assert [key(r) for r in ours] == [key(r) for r in theirs]
    np.testing.assert_allclose([r["dice"] for r in theirs], [r["dice"] for r in ours])

import re

import numpy as np
import pytest

from labkit import animation, charts, viz
from labkit.errors import ShapeError
from labkit.volume import Volume


def test_axial_plane_follows_radiological_convention():
    # RAS array: a marker at high x (patient's right) and high y (anterior)
    array = np.zeros((4, 6, 3))
    array[3, 5, 1] = 1
    cut, aspect = viz.plane(Volume(array, np.diag([1.0, 2.0, 3.0, 1.0])), "axial", 1)
    assert cut.shape == (6, 4)  # rows run along y, columns along x
    assert cut[0, 0] == 1  # anterior at the top, patient's right on the left
    assert aspect == 2.0


def test_plane_reorients_stored_lps_volumes():
    ras = np.zeros((4, 6, 3))
    ras[3, 5, 1] = 1
    lps_affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    lps_affine[:2, 3] = [3, 5]
    lps = Volume(ras[::-1, ::-1].copy(), lps_affine)
    np.testing.assert_array_equal(
        viz.plane(lps, "axial", 1)[0], viz.plane(Volume(ras, np.eye(4)), "axial", 1)[0]
    )


def test_plane_rejects_unknown_view():
    with pytest.raises(ValueError, match="view must be one of"):
        viz.plane(Volume(np.zeros((2, 2, 2)), np.eye(4)), "oblique")


def test_show_planes_and_montage_draw_panels(rng):
    image = Volume(rng.random((10, 12, 8)), np.eye(4))
    label = np.zeros((10, 12, 8), np.uint8)
    label[3:6, 4:9, 2:6] = 2
    fig = viz.show_planes(image, Volume(label, np.eye(4)), title="t")
    assert [ax.get_title() for ax in fig.axes] == [
        "axial 4",
        "coronal 6",
        "sagittal 4",
    ]  # centre of mass (4, 6, 3.5)
    assert all(len(ax.images) == 2 for ax in fig.axes)  # image + overlay
    fig = viz.montage(image, Volume(label, np.eye(4)), view="axial", count=4)
    assert [ax.get_title() for ax in fig.axes] == ["2", "3", "4", "5"]


def test_learning_curves_from_history_rows():
    rows = [{"epoch": 0, "loss": 1.0, "val_loss": 1.2}, {"epoch": 1, "loss": 0.5, "val_loss": 0.7}]
    fig = charts.learning_curves(rows, ("loss",))
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["training", "validation"]
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [1.2, 0.7])
    with pytest.raises(KeyError, match="metric 'dice' is not in the history"):
        charts.learning_curves(rows, ("dice",))


def test_case_bars_marks_nan_cases():
    rows = [
        {"case": "a", "label": "x", "dice": 0.8},
        {"case": "b", "label": "x", "dice": float("nan")},
        {"case": "a", "label": "y", "dice": 0.1},
    ]
    ax = charts.case_bars(rows, "dice", label="x")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert any(t.get_text() == "NaN" for t in ax.texts)
    assert ax.get_legend().get_texts()[0].get_text() == "mean 0.8"


def test_contours_draws_one_outline_per_mask(rng):
    image = Volume(rng.random((12, 12, 6)), np.eye(4))
    a = np.zeros((12, 12, 6), np.uint8)
    a[3:8, 3:8, 2:4] = 1
    b = np.roll(a, 2, axis=0)
    ax = viz.contours(
        image, {"reference": Volume(a, np.eye(4)), "prediction": Volume(b, np.eye(4))}
    )
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["reference", "prediction"]


def test_slice_animation_has_one_frame_per_shown_slice(tmp_path, rng):
    image = Volume(rng.random((6, 5, 7)).astype(np.float32), np.eye(4))
    label = image.with_array((image.array > 0.5).astype(np.uint8))
    anim = animation.slice_animation(image, {"reference": label, "prediction": label}, step=2)
    assert list(anim.new_frame_seq()) == [0, 2, 4, 6]  # axial slices 0, 2, 4, 6 of 7
    gif = tmp_path / "slices.gif"
    anim.save(gif, writer="pillow", fps=4)
    assert gif.read_bytes()[:6] == b"GIF89a"


def test_slice_animation_rejects_labels_off_the_image_grid(rng):
    image = Volume(rng.random((6, 5, 7)).astype(np.float32), np.eye(4))
    wrong = Volume(np.zeros((6, 5, 6), np.uint8), np.eye(4))
    with pytest.raises(ShapeError, match=r"has spatial shape \(6, 5, 7\) but label <array> has"):
        animation.slice_animation(image, {"U-Net": wrong})
    shifted = Volume(np.zeros((6, 5, 7), np.uint8), np.diag([2.0, 1.0, 1.0, 1.0]))
    with pytest.raises(ShapeError, match="different affines"):
        animation.slice_animation(image, {"U-Net": shifted})
    with pytest.raises(ValueError, match="step must be >= 1"):
        animation.slice_animation(image, {}, step=0)


def test_feature_maps_show_the_strongest_channels_of_each_layer():
    maps = {
        "enc0": np.zeros((8, 8, 4, 3), np.float32),
        "bottleneck": np.zeros((2, 2, 1, 6), np.float32),
    }
    maps["enc0"][..., 2] = 1.0  # the strongest channel comes first
    fig = charts.feature_maps(maps, channels=4)
    axes = np.array(fig.axes).reshape(2, 4)
    assert axes[0, 0].get_ylabel().startswith("enc0") and "8x8" in axes[0, 0].get_ylabel()
    assert axes[0, 0].images[0].get_array().max() == 1.0
    assert not axes[0, 3].axison  # three channels: the fourth panel is blank


def test_slice_viewer_embeds_a_slider_with_at_most_max_frames(rng):
    image = Volume(rng.random((6, 5, 7)).astype(np.float32), np.eye(4))
    label = image.with_array((image.array > 0.5).astype(np.uint8))
    html = animation.slice_viewer(image, {"reference": label}, max_frames=3).data
    assert 'type="range"' in html  # the slider
    assert re.findall(r"frames\[(\d+)\] =", html) == ["0", "1", "2"]  # slices 0, 3, 6: 3 apart
    with pytest.raises(ValueError, match="max_frames must be >= 1; got 0"):
        animation.slice_viewer(image, {"reference": label}, max_frames=0)

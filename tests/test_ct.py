"""CT windows and skull removal by rule, on hand-built heads with known answers."""

import numpy as np
import pytest

from labkit.ct import CT_WINDOWS, apply_window, brain_median_hu, intracranial_mask
from labkit.errors import ShapeError


def test_windows_map_level_and_width():
    hu = np.array([-1000.0, 0.0, 40.0, 80.0, 2000.0])
    # brain window: level 40, width 80 -> [0, 80] HU
    np.testing.assert_allclose(apply_window(hu, "brain"), [0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(apply_window(hu, (0.0, 2000.0)), [0, 0.5, 0.52, 0.54, 1])
    assert set(CT_WINDOWS) == {"brain", "subdural", "bone", "blood"}
    with pytest.raises(ValueError, match=r"unknown CT window 'lung'.*'blood'"):
        apply_window(hu, "lung")
    # a display window as (level, width): level 40, width 400 -> [-160, 240] HU
    hu = np.array([-1000.0, -160.0, 40.0, 240.0, 3000.0])
    np.testing.assert_allclose(apply_window(hu, (40, 400)), [0.0, 0.0, 0.5, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"width must be positive; got level 0, width 0"):
        apply_window(hu, (0, 0))


def _head(shape=(48, 48, 10), hole=True):
    """Air, a scalp ring (20 HU), a skull ring (1200 HU) and brain (35 HU) inside it."""
    x, y = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    r = np.hypot(x - 23.5, y - 23.5)
    plane = np.full(shape[:2], -1000.0, np.float32)
    plane[r < 22] = 20.0  # scalp
    plane[r < 19] = 1200.0  # skull
    plane[r < 16] = 35.0  # brain
    hu = np.repeat(plane[..., None], shape[2], axis=2)
    brain = np.repeat((r < 16)[..., None], shape[2], axis=2)
    hu[20:26, 20:26, 4:6] = 70.0  # a bleed, brighter than the soft-tissue range
    if hole:  # a foramen: the brain touches the scalp through the skull in one slice
        hu[40:45, 22:26, 0] = 30.0
    return hu, brain


def test_intracranial_mask_removes_skull_and_scalp_and_keeps_blood():
    hu, brain = _head()
    mask = intracranial_mask(hu, (1.0, 1.0, 5.0))
    assert mask[hu == 70.0].all()  # the bleed is inside
    assert not mask[hu == 1200.0].any()  # no bone
    scalp = hu == 20.0
    assert not mask[scalp].any()  # the scalp stays out, despite the foramen
    # the brain is recovered up to the bone (a voxel of the foramen may join it)
    assert np.count_nonzero(mask & ~brain) <= 10
    assert np.count_nonzero(brain & ~mask) == 0


def test_intracranial_mask_errors():
    with pytest.raises(ShapeError, match=r"got shape \(4, 4, 4, 1\).*image\[\.\.\., 0\]"):
        intracranial_mask(np.zeros((4, 4, 4, 1)), (1, 1, 1))
    with pytest.raises(ValueError, match=r"no brain found in a CT of shape \(8, 8, 8\)"):
        intracranial_mask(np.full((8, 8, 8), -1000.0), (1, 1, 1))
    with pytest.raises(ValueError, match=r"spacing needs three values"):
        intracranial_mask(np.zeros((8, 8, 8)), (1, 1))


def test_brain_median_leaves_out_csf_and_blood():
    hu = np.array([5.0, 30.0, 32.0, 34.0, 70.0, 1000.0]).reshape(1, 1, 6)
    mask = np.ones_like(hu, bool)
    assert brain_median_hu(hu, mask) == 32.0
    with pytest.raises(ValueError, match=r"no brain tissue \(15 to 55 HU\) inside the mask of 0"):
        brain_median_hu(hu, np.zeros_like(mask))

"""Clean-ups of binary masks and label maps (labkit.morphology), on tiny hand-counted masks."""

import numpy as np

from labkit import morphology


def test_postprocessing():
    mask = np.zeros((12, 12, 12), bool)
    mask[1:6, 1:6, 1:6] = True  # 125 voxels
    mask[8:10, 8:10, 8:10] = True  # 8 voxels
    assert morphology.keep_largest_component(mask).sum() == 125
    assert morphology.remove_small_components(mask, 10.0).sum() == 125
    assert (
        morphology.remove_small_components(mask, 10.0, spacing=(2, 2, 2)).sum() == 133
    )  # 8 voxels = 64 mm3
    shell = np.zeros((9, 9, 9), bool)
    shell[1:8, 1:8, 1:8] = True
    shell[3:6, 3:6, 3:6] = False
    assert morphology.fill_holes(shell).sum() == 343
    tube = np.zeros((9, 9, 9), bool)
    tube[2:7, 2:7, :] = True
    tube[4, 4, :] = False  # a channel open at both ends: not a hole in 3D, a hole in every slice
    assert morphology.fill_holes(tube).sum() == tube.sum()
    assert morphology.fill_holes(tube, axis=2).sum() == tube.sum() + 9


def test_per_label_cleanup_keeps_labels_apart():
    labels = np.zeros((10, 10, 10), np.uint8)
    labels[1:5, 1:5, 1:5] = 1
    labels[7, 7, 7] = 1  # speck of label 1
    labels[5:9, 1:5, 1:5] = 2
    out = morphology.per_label(labels, morphology.keep_largest_component)
    assert out[7, 7, 7] == 0 and (out == 1).sum() == 64 and (out == 2).sum() == 64

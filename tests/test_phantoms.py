import numpy as np
import pytest
from scipy import ndimage

from labkit import phantoms


def test_mni_brain_maps_are_probabilities():
    brain = phantoms.mni_brain(2)
    assert brain.shape == (98, 116, 94)
    assert brain.spacing == 2.0
    total = brain.csf + brain.gm + brain.wm
    for prob in (brain.csf, brain.gm, brain.wm, total):
        assert prob.min() >= 0 and prob.max() <= 1 + 1e-5
    assert brain.csf[~brain.brain].max() <= 0.5  # partial volume at the mask edge only
    # the adult lateral ventricles hold roughly 10-60 mL
    assert 10 < brain.ventricles.sum() * 8 / 1000 < 60
    assert brain.ventricles.sum() < (brain.csf > 0.5).sum()


def test_mni_brain_grid_keeps_world_extent():
    one, two = phantoms.mni_brain(1), phantoms.mni_brain(2)
    # voxel (0, 0, 0) of the 2 mm grid averages 1 mm voxels 0 and 1: its centre is at +0.5 mm
    np.testing.assert_allclose(two.affine[:3, 3], one.affine[:3, 3] + 0.5)
    assert np.isclose(two.brain.sum() * 8, one.brain.sum(), rtol=0.05)


def test_mni_brain_rejects_other_resolutions():
    with pytest.raises(ValueError, match="resolution_mm must be 1, 2, 3 or 4"):
        phantoms.mni_brain(5)


def test_head_layers_are_disjoint_shells_of_given_thickness():
    brain = np.zeros((40, 40, 40), bool)
    brain[10:30, 10:30, 10:30] = True
    layers = phantoms.head_layers(brain, spacing=1.0, csf_mm=2, skull_mm=3, scalp_mm=4)
    masks = [brain, layers["extra_csf"], layers["skull"], layers["scalp"]]
    assert sum(m.astype(int) for m in masks).max() == 1
    # along a line leaving the brain face: 2 voxels CSF, 3 skull, 4 scalp
    line = [
        next(k for k, m in enumerate(masks) if m[i, 20, 20])
        if any(m[i, 20, 20] for m in masks)
        else -1
        for i in range(30, 40)
    ]
    assert line == [1, 1, 2, 2, 2, 3, 3, 3, 3, -1]


def test_tissue_image_mixes_by_hand():
    gm = np.array([[[1.0, 0.5, 0.0, 0.25, 1.0]]], np.float32)
    wm = np.array([[[0.0, 0.5, 0.0, 0.0, 1.0]]], np.float32)
    img = phantoms.tissue_image({"gm": gm, "wm": wm}, {"gm": 10.0, "wm": 20.0, "background": -5.0})
    # pure gm; half and half; nothing (background); a quarter gm; over-full (rescaled to 1/2 each)
    np.testing.assert_allclose(img[0, 0], [10.0, 15.0, -5.0, 2.5 - 3.75, 15.0])


def test_overlay_takes_its_share_from_the_tissue_beneath():
    tissues = {"gm": np.array([0.6, 0.6]), "wm": np.array([0.4, 0.4])}
    out = phantoms.overlay(tissues, "lesion", np.array([0.0, 0.5]))
    np.testing.assert_allclose(out["gm"], [0.6, 0.3])
    np.testing.assert_allclose(out["wm"], [0.4, 0.2])
    np.testing.assert_allclose(sum(out.values()), [1.0, 1.0])


def test_tissue_image_unknown_tissue():
    with pytest.raises(KeyError, match=r"tissues \['bone'\] have no intensity"):
        phantoms.tissue_image({"bone": np.ones((1, 1, 1))}, "T1")


def test_contrasts_order_tissues_as_in_real_scans():
    c = phantoms.BRAIN_CONTRASTS
    assert c["T1"]["wm"] > c["T1"]["gm"] > c["T1"]["csf"]
    assert c["T2"]["csf"] > c["T2"]["gm"] > c["T2"]["wm"]
    assert c["FLAIR"]["lesion"] > c["FLAIR"]["gm"] > c["FLAIR"]["csf"]
    assert c["neonatal_T2"]["csf"] > c["neonatal_T2"]["wm"] > c["neonatal_T2"]["gm"]
    assert c["CT"]["skull"] > 700 and c["CT"]["background"] == -1000
    assert c["CT"]["lesion"] > c["CT"]["gm"] > c["CT"]["wm"] > c["CT"]["csf"]


def test_irregular_blob_without_roughness_is_an_ellipsoid(rng):
    blob = phantoms.irregular_blob((60, 60, 60), (30, 30, 30), (10, 10, 10), rng, roughness=0.0)
    assert blob.sum() == pytest.approx(4 / 3 * np.pi * 1000, rel=0.03)
    assert blob[30, 30, 30] and not blob[30, 30, 41]


def test_irregular_blob_is_irregular_and_local(rng):
    smooth = phantoms.irregular_blob((50, 50, 50), (25, 25, 25), (8, 8, 8), rng, roughness=0.0)
    rough = phantoms.irregular_blob((50, 50, 50), (25, 25, 25), (8, 8, 8), rng, roughness=0.4)
    assert (smooth ^ rough).sum() > 0.1 * smooth.sum()
    assert not phantoms.irregular_blob((10, 10, 10), (50, 50, 50), (3, 3, 3), rng).any()


def test_scatter_lesions_stay_in_region_and_respect_count(rng):
    region = np.zeros((40, 40, 40), bool)
    region[5:20, 5:35, 5:35] = True
    lesions = phantoms.scatter_lesions(region, rng, 6, (1.5, 4.0))
    assert lesions.any() and not np.any(lesions & ~region)
    assert not phantoms.scatter_lesions(region, rng, 0, (1.5, 4.0)).any()


def test_scatter_lesions_are_round_in_millimetres(rng):
    centre = np.zeros((40, 40, 40), bool)
    centre[20, 20, 20] = True
    spacing = (1.0, 1.0, 4.0)
    blob = phantoms.scatter_lesions(
        centre, rng, 1, (8.0, 8.0), spacing, roughness=0.0, confine=False
    )
    idx = np.argwhere(blob)
    extent_mm = (idx.max(0) - idx.min(0) + 1) * np.array(spacing)
    # a 16 mm wide ball: 15 voxels of 1 mm across x, 3 voxels of 4 mm across z
    assert extent_mm[0] == 15 and extent_mm[2] == 12


def test_bias_field_is_smooth_positive_and_near_one(rng):
    field = phantoms.bias_field((32, 32, 32), rng, strength=0.2)
    assert np.exp(-0.2) - 1e-6 <= field.min() and field.max() <= np.exp(0.2) + 1e-6
    assert np.exp(np.log(field).mean()) == pytest.approx(1.0, abs=1e-3)
    assert field.max() / field.min() > 1.2  # it does vary ...
    assert np.abs(np.diff(field, axis=0)).max() < 0.05  # ... smoothly


def test_rician_noise_on_zero_signal_has_rayleigh_mean(rng):
    sigma = 2.0
    noisy = phantoms.add_noise(np.zeros((64, 64, 64)), rng, sigma, "rician")
    assert noisy.min() >= 0
    assert noisy.mean() == pytest.approx(sigma * np.sqrt(np.pi / 2), rel=0.02)


def test_gaussian_noise_std(rng):
    noisy = phantoms.add_noise(np.full((64, 64, 64), 40.0), rng, 12.0, "gaussian")
    assert noisy.mean() == pytest.approx(40.0, abs=0.2)
    assert noisy.std() == pytest.approx(12.0, rel=0.02)
    with pytest.raises(ValueError, match="noise kind must be"):
        phantoms.add_noise(noisy, rng, 1.0, "poisson")


def test_warp_identity_and_rotation():
    vol = np.zeros((9, 9, 9), np.float32)
    vol[8, 4, 4] = 1.0
    (same,) = phantoms.warp([vol])
    np.testing.assert_array_equal(same, vol)
    quarter = np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1]], float)
    (turned,) = phantoms.warp([vol], rotation=quarter, orders=[0])
    assert turned.sum() == 1 and turned[4, 0, 4] == 1


def test_smooth_displacement_shape_and_scale(rng):
    field = phantoms.smooth_displacement((30, 20, 10), rng, magnitude_vox=2.0)
    assert field.shape == (3, 30, 20, 10)
    assert 0.5 < field.std() < 4.0


def test_random_rotation_is_a_rotation(rng):
    rot = phantoms.random_rotation(rng, (10, 10, 10))
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-10)
    assert np.linalg.det(rot) == pytest.approx(1.0)


def test_abdominal_ct_anatomy_and_units():
    ph = phantoms.abdominal_ct(np.random.default_rng(5), tumours=(3, 3))
    m, hu = ph.masks, ph.image
    assert set(m) == set(phantoms.ABDOMEN_LABELS)
    assert np.median(hu[~m["body"]]) == pytest.approx(-1000, abs=5)
    assert 90 < np.median(hu[m["liver"] & ~m["tumour"]]) < 135
    assert m["tumour"].any() and not np.any(m["tumour"] & ~m["liver"])
    assert np.median(hu[m["tumour"]]) < np.median(hu[m["liver"] & ~m["tumour"]]) - 20
    assert np.median(hu[m["spine"]]) > 200
    # patient's right is +x in RAS: the liver lies right of the spleen
    assert np.argwhere(m["liver"])[:, 0].mean() > np.argwhere(m["spleen"])[:, 0].mean()
    assert np.allclose(np.diag(ph.affine)[:3], (2.5, 2.5, 5.0))


def test_phantoms_are_deterministic_per_seed():
    a = phantoms.abdominal_ct(np.random.default_rng(9))
    b = phantoms.abdominal_ct(np.random.default_rng(9))
    c = phantoms.abdominal_ct(np.random.default_rng(10))
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)
    h1 = phantoms.hippocampus_mri(np.random.default_rng(4))
    h2 = phantoms.hippocampus_mri(np.random.default_rng(4))
    np.testing.assert_array_equal(h1.image, h2.image)
    np.testing.assert_array_equal(h1.label, h2.label)


def test_hippocampus_crop_resembles_task04():
    crops = [phantoms.hippocampus_mri(np.random.default_rng(s)) for s in range(6)]
    for crop in crops:
        assert crop.image.shape == crop.label.shape
        assert all(30 <= s <= 56 for s in crop.image.shape)
        assert set(np.unique(crop.label)) == {0, 1, 2}
        anterior, posterior = (crop.label == 1).sum(), (crop.label == 2).sum()
        # Task04 hippocampi hold about 1-2.5 mL per label at 1 mm
        assert 800 < anterior < 3000 and 800 < posterior < 3000
        # T1: the hippocampus (grey matter) is darker than its surroundings on average
        assert crop.image[crop.label > 0].mean() < crop.image[crop.label == 0].mean()
    sides = {np.sign(c.affine[0, 3] + c.image.shape[0] / 2) for c in crops}
    assert sides == {-1.0, 1.0}


def test_hippocampus_labels_side():
    with pytest.raises(ValueError, match="side must be 'left' or 'right'"):
        phantoms.hippocampus_labels("middle")


def test_synthetic_head_contrasts_agree_voxel_for_voxel():
    head = phantoms.synthetic_head(np.random.default_rng(2), lesion_count=(6, 6))
    assert set(head.images) == {"T1", "T2", "FLAIR", "CT"}
    assert head.lesion.any()
    t = head.tissues
    wm = (t["wm"] > 0.9) & ~head.lesion
    csf = head.ventricles & (t["csf"] > 0.9)
    lesion = head.lesion
    for name, img in head.images.items():
        assert img.shape == head.ventricles.shape, name
    # the tissue order each contrast is known for, measured on the synthetic subject
    t1, t2, flair, ct = (head.images[k] for k in ("T1", "T2", "FLAIR", "CT"))
    assert np.median(t1[wm]) > np.median(t1[csf])
    assert np.median(t2[csf]) > np.median(t2[wm])
    assert np.median(flair[lesion]) > np.median(flair[wm]) > np.median(flair[csf])
    assert np.median(ct[t["skull"] > 0.5]) > 700
    assert 20 < np.median(ct[wm]) < 40
    assert np.median(ct[lesion]) > np.median(ct[wm]) + 20  # a bleed on CT


def test_lesions_fall_in_the_requested_region():
    head = phantoms.synthetic_head(
        np.random.default_rng(3),
        ("FLAIR",),
        lesion_region="periventricular_wm",
        lesion_count=(5, 5),
    )
    regions = phantoms.lesion_regions(head.tissues, head.ventricles, 2.0)
    assert head.lesion.sum() > 0
    # lesions are confined to white matter near the ventricles (10 mm, plus a voxel of margin)
    near = ndimage.distance_transform_edt(~head.ventricles) * 2.0 <= 12.0
    assert np.mean(near[head.lesion]) > 0.95
    assert set(regions) == set(phantoms.LESION_REGIONS)


def test_synthetic_head_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown contrasts"):
        phantoms.synthetic_head(rng, ("PET",))
    with pytest.raises(ValueError, match="lesion_region 'lung'"):
        phantoms.synthetic_head(rng, lesion_region="lung")


def test_smooth_noise_is_smooth_with_unit_scale(rng):
    field = phantoms.smooth_noise((40, 40, 40), rng, control_spacing_vox=10, count=2)
    assert field.shape == (2, 40, 40, 40)
    assert 0.3 < field.std() < 1.5
    # neighbours differ by a small share of the spread (white noise: about 1.1 times it)
    assert np.abs(np.diff(field, axis=1)).mean() < 0.2 * field.std()


def test_padding_the_anatomy_keeps_world_positions():
    brain = phantoms.mni_brain(2)
    padded = brain.pad(16.0)  # 8 voxels of 2 mm
    assert padded.shape == tuple(s + 16 for s in brain.shape)
    ijk = np.argwhere(brain.ventricles)[0]
    world = brain.affine @ np.append(ijk, 1)
    np.testing.assert_allclose(padded.affine @ np.append(ijk + 8, 1), world)
    assert padded.ventricles[tuple(ijk + 8)] and padded.ventricles.sum() == brain.ventricles.sum()

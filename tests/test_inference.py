import numpy as np
import pytest
import torch
from monai.inferers import sliding_window_inference

from labkit import inference as inf
from labkit.errors import ShapeError
from labkit.io import load_label
from labkit.transforms import crop_to_box, pad_to_multiple, resize
from labkit.volume import Volume

#: Backend-neutral: make test runs this module under JAX and PyTorch too.
pytestmark = pytest.mark.backends


def _positional(batch: np.ndarray) -> np.ndarray:
    """A 'model' whose output depends on where a patch is cut: it exposes any blending error."""
    x = batch[..., :1]
    grid = np.indices(batch.shape[1:-1], dtype=np.float32)
    pos = grid.sum(0)[None, ..., None] / 10.0
    return np.concatenate([np.tanh(x + pos), np.sin(x * 3) ** 2 + 0.1], axis=-1)


@pytest.mark.parametrize(
    "shape,roi,overlap,mode",
    [
        ((20, 17, 9), (8, 8, 8), 0.25, "gaussian"),
        ((20, 17, 9), (8, 6, 4), 0.5, "constant"),
        ((6, 17, 9), (8, 8, 4), 0.25, "gaussian"),
    ],
)
def test_sliding_window_matches_monai(rng, shape, roi, overlap, mode):
    image = rng.normal(size=(*shape, 1)).astype(np.float32)
    ours = inf.sliding_window(_positional, image, roi, overlap=overlap, mode=mode, batch_size=3)

    def torch_fn(t: torch.Tensor) -> torch.Tensor:  # channels-first wrapper of the same function
        out = _positional(np.moveaxis(t.numpy(), 1, -1))
        return torch.from_numpy(np.moveaxis(out, -1, 1).copy())

    theirs = sliding_window_inference(
        torch.from_numpy(np.moveaxis(image, -1, 0)[None].copy()),
        roi,
        3,
        torch_fn,
        overlap=overlap,
        mode=mode,
    )
    np.testing.assert_allclose(ours, np.moveaxis(theirs.numpy()[0], 0, -1), atol=1e-5)


def test_patch_starts_cover_the_axis():
    assert inf.patch_starts(20, 8, 0.25) == [0, 6, 12]
    assert inf.patch_starts(8, 8, 0.5) == [0]
    assert inf.patch_starts(5, 8, 0.5) == [0]
    for n, p, o in [(37, 10, 0.5), (100, 32, 0.25), (11, 3, 0.9)]:
        starts = inf.patch_starts(n, p, o)
        covered = np.zeros(n, bool)
        for s in starts:
            covered[s : s + p] = True
        assert covered.all() and starts[-1] + p == n


def test_gaussian_importance_peaks_at_the_centre():
    w = inf.gaussian_importance((9, 9), sigma_scale=0.125)
    assert w[4, 4] == pytest.approx(1.0) and w.min() >= 1e-3
    assert w[4, 4] > w[4, 6] > w[4, 8]


def test_sliding_window_errors(rng):
    with pytest.raises(ShapeError, match="roi_size \\(8, 8\\) has 2 axes; the image"):
        inf.sliding_window(_positional, rng.normal(size=(8, 8, 8, 1)), (8, 8))
    with pytest.raises(ValueError, match="mode must be 'gaussian' or 'constant'"):
        inf.sliding_window(_positional, rng.normal(size=(8, 8, 8, 1)), (8, 8, 8), mode="mean")


def test_predict_slices_pads_and_crops_back(rng):
    seen = []

    def model(batch):
        seen.append(batch.shape)
        return np.concatenate([1 - batch, batch], axis=-1)

    image = rng.random((10, 13, 5, 1)).astype(np.float32)
    probs = inf.predict_slices(model, image, axis=2, batch_size=2, multiple=8)
    assert probs.shape == (10, 13, 5, 2)
    np.testing.assert_allclose(probs[..., 1], image[..., 0], atol=1e-6)
    assert seen[0] == (2, 16, 16, 1) and len(seen) == 3
    probs0 = inf.predict_slices(model, image, axis=0, multiple=8)
    np.testing.assert_allclose(probs0[..., 1], image[..., 0], atol=1e-6)


def test_save_prediction_undoes_preprocessing(tmp_path, rng):
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    affine[:3, 3] = [10, -20, 5]
    source = Volume(rng.random((30, 26, 9)).astype(np.float32), affine)
    truth = np.zeros((30, 26, 9), np.uint8)
    truth[8:20, 6:18, 2:7] = 2
    # preprocessing: crop, resize by 2 in-plane, pad to a multiple of 8
    cropped, crop = crop_to_box(truth, (4, 2, 0), (28, 26, 9))
    small, size = resize(cropped, (12, 12, 9), order=0)
    padded, pad = pad_to_multiple(small, 8, ndim=2)
    path = inf.save_prediction(padded, source, tmp_path / "case.nii.gz", [crop, size, pad])
    back = load_label(path)
    assert back.shape == (30, 26, 9)
    np.testing.assert_allclose(back.affine, affine)
    assert (back.array == truth).mean() > 0.97  # only the resize's rounding at the border differs
    with pytest.raises(ShapeError, match="after undoing 1 preprocessing step"):
        inf.save_prediction(padded, source, tmp_path / "bad.nii.gz", [pad])

"""Shared fixtures: real datasets when present, a private cache, and small NIfTI files."""

from __future__ import annotations

import functools
import http.server
import os
import threading

import _backend  # noqa: F401  (first: on JAX and PyTorch it makes TensorFlow unimportable)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib

matplotlib.use("Agg")

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from labkit import config
from labkit.io import save_nifti


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Keep every test's generated files out of the user's cache and the repository."""
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    yield
    plt.close("all")


def _real(name: str) -> Path:
    path = config.find_real_dataset(name)
    if path is None:
        pytest.skip(f"real dataset {name} not present (set LABKIT_DATA_ROOT or add ../shared/data)")
    return path


@pytest.fixture
def hippocampus_root() -> Path:
    """The real MSD Task04_Hippocampus folder (skips when absent)."""
    return _real("Task04_Hippocampus")


@pytest.fixture
def brats2013_root() -> Path:
    """The real BraTS 2013 sample folder (skips when absent)."""
    return _real("BraTS2013")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def nifti_pair(tmp_path: Path, rng: np.random.Generator) -> tuple[Path, Path]:
    """A small image (float32) and label (uint8, values 0-2) on one 2x2x3 mm grid."""
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 7.5]
    image = rng.normal(size=(6, 5, 4)).astype(np.float32)
    label = rng.integers(0, 3, size=(6, 5, 4)).astype(np.uint8)
    return (
        save_nifti(tmp_path / "img.nii.gz", image, affine),
        save_nifti(tmp_path / "lab.nii.gz", label, affine),
    )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log on stderr
        pass


@pytest.fixture
def serve(tmp_path):
    """Serve ``tmp_path`` over HTTP on a free local port; yields a function name -> URL."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield lambda name: f"http://127.0.0.1:{server.server_address[1]}/{name}"
    server.shutdown()
    server.server_close()

"""What a chapter's Colab install cell does to the machine it runs on.

Colab comes with TensorFlow, Keras, NumPy, PyTorch and JAX installed, and a chapter that
replaced any of them would break the runtime for the rest of the session. The built wheel is
installed (``pip install --dry-run --report``) into a fresh environment that already holds
other releases of those packages, and pip must leave every one of them alone.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Colab-like preinstalled releases, each different from requirements/constraints.txt.
PREINSTALLED = {
    "tensorflow": "2.19.0",
    "keras": "3.10.0",
    "numpy": "2.0.2",
    "torch": "2.8.0",
    "jax": "0.5.3",
    "jaxlib": "0.5.3",
    "scipy": "1.16.3",
    "matplotlib": "3.10.0",
}


def _build_wheel(out: Path) -> Path:
    """Build labkit's wheel from a copy of its sources (the build writes beside them)."""
    src = out / "src"
    shutil.copytree(ROOT / "labkit", src / "labkit", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE", "labkit_cli.py"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
        check=True,
    )
    (wheel,) = out.glob("*.whl")
    return wheel


def _pretend_installed(site_packages: Path, name: str, version: str) -> None:
    """Record ``name==version`` as installed, as pip sees it: its metadata, no code."""
    info = site_packages / f"{name}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text("")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_is_named_for_the_course_and_ships_the_recorded_results(wheel):
    assert wheel.name.startswith("unet_course_labkit-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "labkit/records/wmh_ablation_quick.json" in names
    assert "labkit/records/brats_real_quick.json" in names
    assert "labkit/records/hippocampus_options_quick.json" in names
    assert "labkit/records/hippocampus_frontier_quick.json" in names
    assert "labkit_cli.py" in names  # the command's front door (labkit --help without Keras)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "labkit = labkit_cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installing_labkit_leaves_colabs_preinstalled_stack_alone(wheel, tmp_path):
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    (site_packages,) = env.glob("lib/python*/site-packages")
    for name, version in PREINSTALLED.items():
        _pretend_installed(site_packages, name, version)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--dry-run",
            "--report",
            str(report),
            str(wheel),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    planned = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert "unet-course-labkit" in planned
    replaced = {name: planned[name] for name in PREINSTALLED if name in planned}
    assert not replaced, f"pip would replace Colab's {replaced}; loosen labkit's requirements"

"""``make release-check`` and the release workflow refuse a release whose pieces disagree."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import release_check

HOME = {"repository": {"url": "https://github.com/someone/unet-course"}, "labkit_release": "0.2.0"}


def test_a_release_needs_a_real_home_and_one_version_everywhere():
    assert release_check.problems(HOME, "0.2.0", "v0.2.0") == []
    assert release_check.problems(HOME, "0.2.0") == []
    placeholder = {**HOME, "repository": {"url": release_check.PLACEHOLDERS[0] + "/"}}
    (found,) = release_check.problems(placeholder, "0.2.0", "v0.2.0")
    assert "repository.url is" in found and "the placeholder" in found
    (found,) = release_check.problems(HOME, "0.3.0")
    assert "labkit_release is '0.2.0' but labkit.__version__ is '0.3.0'" in found
    (found,) = release_check.problems(HOME, "0.2.0", "v0.2")
    assert "the tag is 'v0.2' but labkit.__version__ is '0.2.0'" in found


def test_the_repository_as_it_stands_is_refused_for_its_placeholder(capsys):
    config = yaml.safe_load((release_check.ROOT / "_config.yml").read_text())
    assert config["repository"]["url"] in release_check.PLACEHOLDERS
    assert release_check.main([]) == 1
    assert "the placeholder" in capsys.readouterr().err

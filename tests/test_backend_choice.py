"""Importing labkit where TensorFlow is missing picks another backend, unless one was chosen."""

import json
import os
import subprocess
import sys

import pytest

CODE = """
import sys
sys.modules["tensorflow"] = None  # as on a machine without it
import labkit, keras
print(keras.backend.backend())
"""


def _backend(tmp_path, keras_json: dict | None) -> str:
    if keras_json is not None:
        (tmp_path / "keras.json").write_text(json.dumps(keras_json))
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()[-1]


@pytest.mark.parametrize(
    ("keras_json", "expected"),
    [(None, "jax"), ({"backend": "tensorflow"}, "jax"), ({"backend": "torch"}, "torch")],
    ids=["no keras.json", "keras.json names tensorflow", "keras.json names torch"],
)
def test_without_tensorflow_labkit_picks_jax_unless_keras_json_chose(
    tmp_path, keras_json, expected
):
    assert _backend(tmp_path, keras_json) == expected

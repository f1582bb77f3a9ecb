"""The Keras backend of a test run, imported by conftest before anything imports Keras.

``KERAS_BACKEND`` picks it (``tensorflow`` unless set). On JAX and PyTorch, TensorFlow is made
unimportable, as on a machine without it (the lent GPUs, a Colab runtime without it), so that a
test which still needs it fails there rather than passing on a TensorFlow it happened to find.
"""

import os
import sys

import pytest

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
if BACKEND != "tensorflow":
    sys.modules["tensorflow"] = None  # import fails; importlib.util.find_spec gives None

#: Marks a test that needs TensorFlow itself (``tf.distribute``, ``tf.data``'s own API).
tensorflow_only = pytest.mark.skipif(
    BACKEND != "tensorflow", reason=f"needs TensorFlow; this run is on {BACKEND}"
)

#: Script lines that split a fresh process's CPU into two logical TensorFlow devices, before
#: TensorFlow runs anything: what the data-parallel tests train on (JAX takes ``XLA_FLAGS``).
TF_TWO_CPUS = (
    "import tensorflow as tf\n"
    "cpu = tf.config.list_physical_devices('CPU')[0]\n"
    "two = [tf.config.LogicalDeviceConfiguration()] * 2\n"
    "tf.config.set_logical_device_configuration(cpu, two)\n"
)

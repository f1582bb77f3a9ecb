"""Keras layers of the course's networks that Keras itself does not provide as fast.

:class:`FusedBatchNormalization` is Keras' ``BatchNormalization`` (Ioffe and Szegedy 2015, ICML)
computed, on the TensorFlow backend, by TensorFlow's fused batch-norm kernel instead of the
separate reductions and element-wise operations Keras 3 builds it from. It has the same weights,
configuration and results (tested against ``keras.layers.BatchNormalization`` to 1e-4). What
it saves per training step is measured by ``benchmarks/train_step.py`` (its table is
``benchmarks/results/train_step.md``). On other backends, or for settings the fused kernel does
not cover, it is plain ``BatchNormalization``.

Its class is named ``BatchNormalization`` for Keras (``__name__``), so that Keras files its weights
where it files its own layer's: :func:`labkit.saving.save_model` then writes it as
``keras.layers.BatchNormalization`` and the file loads where labkit is not installed.
Importing :mod:`labkit` registers it (as ``labkit>BatchNormalization``).
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["FusedBatchNormalization"]


@keras.saving.register_keras_serializable(package="labkit", name="BatchNormalization")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` over the last axis, with TensorFlow's fused kernel.

    Input and output are channels-last, ``(batch, *spatial, channels)``, with 2 or 3 spatial
    axes (4D or 5D tensors); other ranks, another axis, ``center=False`` or ``scale=False`` use
    the Keras implementation. The moving statistics follow Keras' rule
    ``moving = momentum * moving + (1 - momentum) * batch``, with the batch variance biased
    (divided by the number of values), as Keras computes it.
    """

    def _fusable(self, inputs: Any) -> bool:
        return (
            keras.backend.backend() == "tensorflow"
            and self.center
            and self.scale
            and self.axis in (-1, len(inputs.shape) - 1)
            and len(inputs.shape) in (4, 5)
        )

    def call(self, inputs: Any, training: Any = None, mask: Any = None) -> Any:
        if mask is not None or not self._fusable(inputs) or not isinstance(training, bool | None):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        fmt = "NHWC" if len(inputs.shape) == 4 else "NDHWC"
        gamma = tf.cast(self.gamma.value, tf.float32)
        beta = tf.cast(self.beta.value, tf.float32)
        if not (training and self.trainable):
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                gamma,
                beta,
                mean=tf.cast(self.moving_mean.value, tf.float32),
                variance=tf.cast(self.moving_variance.value, tf.float32),
                epsilon=self.epsilon,
                data_format=fmt,
                is_training=False,
            )
            return y
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, gamma, beta, epsilon=self.epsilon, data_format=fmt, is_training=True
        )
        # the kernel returns the unbiased batch variance (n - 1 in the denominator); Keras
        # keeps the biased one
        n = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], tf.float32)
        variance = variance * (n - 1.0) / tf.maximum(n, 1.0)
        m = self.momentum
        self.moving_mean.assign(
            self.moving_mean * m + tf.cast(mean, self.moving_mean.dtype) * (1.0 - m)
        )
        self.moving_variance.assign(
            self.moving_variance * m + tf.cast(variance, self.moving_variance.dtype) * (1.0 - m)
        )
        return y


# Keras names a layer's weights in a file after its class; as Keras' own layer's, so that either
# class reads them.
FusedBatchNormalization.__name__ = "BatchNormalization"

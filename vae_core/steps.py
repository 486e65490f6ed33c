"""`TermsModel`: the train and test steps of every model in vae_core, written once.

A model subclasses it and defines ``call(x, training=..., return_terms=True)`` returning a
dict of batch-mean scalars: "loss" is minimised, and every term with a tracker of its name
in ``self.metrics`` is shown in the progress bar and the history. Plain ``fit`` then trains
it on TensorFlow (GradientTape), JAX (stateless calls) or other backends (Keras's own
train step through ``compute_loss``).

    >>> class MyVAE(TermsModel):
    ...     def call(self, x, training=None, return_terms=False): ...   # {"loss": ..., "kl_loss": ...}
"""

from __future__ import annotations

import keras
from keras import ops

_BACKEND = keras.backend.backend()


def _x_of(data):
    """x from what a dataset yields: x, (x,), (x, y) or (x, y, w)."""
    return data[0] if isinstance(data, (tuple, list)) else data


if _BACKEND == "tensorflow":
    import tensorflow as tf

    class _Steps:
        def train_step(self, data):
            x = _x_of(data)
            with tf.GradientTape() as tape:
                terms = self(x, training=True, return_terms=True)
                objective = terms["loss"] + ops.sum(self.losses) if self.losses else terms["loss"]
                replicas = tf.distribute.get_strategy().num_replicas_in_sync
                scaled = objective / replicas  # replicas' gradients are summed
            grads = tape.gradient(scaled, self.trainable_weights)
            self.optimizer.apply(grads, self.trainable_weights)
            return self._record(terms)

        def test_step(self, data):
            return self._record(self(_x_of(data), training=False, return_terms=True))

elif _BACKEND == "jax":
    import jax

    class _Steps:
        def train_step(self, state, data):
            trainable, non_trainable, opt_vars, metric_vars = state
            x = _x_of(data)

            def objective(tv, ntv):
                terms, ntv = self.stateless_call(tv, ntv, x, training=True, return_terms=True)
                return terms["loss"], (terms, ntv)

            (_, (terms, non_trainable)), grads = jax.value_and_grad(objective, has_aux=True)(
                trainable, non_trainable)
            trainable, opt_vars = self.optimizer.stateless_apply(opt_vars, grads, trainable)
            logs, metric_vars = self._record_stateless(metric_vars, terms)
            return logs, (trainable, non_trainable, opt_vars, metric_vars)

        def test_step(self, state, data):
            trainable, non_trainable, metric_vars = state
            terms, non_trainable = self.stateless_call(
                trainable, non_trainable, _x_of(data), training=False, return_terms=True)
            logs, metric_vars = self._record_stateless(metric_vars, terms)
            return logs, (trainable, non_trainable, metric_vars)

        def _record_stateless(self, metric_vars, terms):
            logs, new_vars, i = {}, [], 0
            for metric in self.metrics:
                mv = metric_vars[i:i + len(metric.variables)]
                i += len(metric.variables)
                mv = metric.stateless_update_state(mv, terms[metric.name])
                logs[metric.name] = metric.stateless_result(mv)
                new_vars += mv
            return logs, new_vars

else:  # torch and others: Keras's own train_step calling compute_loss

    class _Steps:
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            terms = self(x, training=training, return_terms=True)
            self._record(terms)
            return terms["loss"]


class TermsModel(_Steps, keras.Model):
    """A Keras model trained by its own steps on the dict of terms its call returns."""

    def _record(self, terms: dict) -> dict:
        for metric in self.metrics:
            metric.update_state(terms[metric.name])
        return {m.name: m.result() for m in self.metrics}

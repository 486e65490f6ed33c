"""An autoregressive decoder p(x | z) = prod_t p(x_t | x_<t, z), and the loop that steps it.

In training the decoder reads the target sequence shifted by one step (teacher forcing), so
one call scores a whole sequence. When generating, a caller steps it one output at a time
and chooses each output itself (greedy, sampled, under a mask, in a beam):

    >>> dec = AutoregressiveGRUDecoder(latent_dim=8, n_outputs=5, steps=12, units=(64,), seed=0)
    >>> logits = dec(z, x_one_hot)                 # (batch, T, 5), T = x's own length
    >>> state = dec.start(z)                       # hidden states (and z's input projection) from z
    >>> logits, state = dec.step(prev, state)      # prev: (batch,) int outputs, -1 at the first step
    >>> x, logits = generate(dec, z, choose=lambda logits, t: logits.argmax(-1))

State is a tuple of (batch, units) arrays: a beam search reorders or repeats its rows with
`select_rows(state, index)`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import numpy as np
from keras import layers, ops

from vae_core.blocks import _initializers


def _previous_outputs(x):
    """x (batch, T, V) shifted one step later, with an all-zero 'start' vector first."""
    return ops.pad(x[:, :-1], [[0, 0], [1, 0], [0, 0]])


@keras.saving.register_keras_serializable(package="vae_core")
class AutoregressiveGRUDecoder(layers.Layer):
    """A GRU stack fed, at each step, the previous output (one-hot) and z; each layer's
    initial state is a dense map of z; a dense layer gives the step's logits.

    Args:
        latent_dim: size of z.
        n_outputs: the vocabulary (outputs are categorical over it).
        steps: the longest sequence it generates (training reads any length up to this).
        units: one GRU layer per entry.
        seed: seeds the initial weights (the same seed builds the same decoder).

    Call it as ``decoder(z, x)`` with one-hot targets x (batch, T, n_outputs): logits
    (batch, T, n_outputs), where step t saw x_0 .. x_{t-1}.

    Stepping (`start`, `step`) computes the matrix products in float32; after
    ``decoder.set_step_precision("bfloat16")`` it rounds their operands, and their results, to
    bfloat16 (about 3 times faster on CPUs with AMX or AVX-512 BF16 and on GPUs); the gates,
    the state and the logits stay float32. Training is unaffected.
    """

    autoregressive = True  # `VAE` passes the targets to the decoder in training

    def __init__(self, latent_dim: int, n_outputs: int, steps: int, units: Sequence[int] = (256,),
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim, self.n_outputs, self.steps = int(latent_dim), int(n_outputs), int(steps)
        self.units = tuple(int(u) for u in units)
        self.seed = seed
        n = len(self.units)
        self.initial = [layers.Dense(u, activation="tanh", name=f"initial_{i}", **_initializers(seed, i))
                        for i, u in enumerate(self.units)]
        self.grus = [layers.GRU(u, return_sequences=True, name=f"gru_{i}",
                                **_initializers(seed, n + i, recurrent=True))
                     for i, u in enumerate(self.units)]
        self.logits = layers.Dense(self.n_outputs, name="logits", **_initializers(seed, 2 * n))
        # (`step` computes the cells' maths itself, for Keras's default GRU: biases, reset after.)
        # Every shape is known now: build here, so a saved decoder loads without a build step.
        feed = self.n_outputs + self.latent_dim
        for dense, gru, below in zip(self.initial, self.grus, (feed,) + self.units):
            dense.build((None, self.latent_dim))
            gru.build((None, None, below))
        self.logits.build((None, self.units[-1]))
        self.built = True
        self.step_precision = "float32"

    def set_step_precision(self, dtype: str) -> None:
        """"float32" (the default) or "bfloat16": the operands of the stepped matrix products."""
        if dtype not in ("float32", "bfloat16"):
            raise ValueError(f"step precision must be 'float32' or 'bfloat16', got {dtype!r}")
        if dtype != self.step_precision:
            self.step_precision, self._compiled_step = dtype, None

    def _product(self, a, w):
        if self.step_precision == "float32":
            return ops.matmul(a, w)
        low = self.step_precision
        return ops.cast(ops.matmul(ops.cast(a, low), ops.cast(w, low)), "float32")

    def call(self, z, x, training=None):
        T = ops.shape(x)[1]
        h = ops.concatenate([_previous_outputs(x), ops.repeat(z[:, None, :], T, axis=1)], axis=-1)
        for dense, gru in zip(self.initial, self.grus):
            h = gru(h, initial_state=dense(z), training=training)
        return self.logits(h)

    def compute_output_shape(self, z_shape, x_shape):
        return tuple(x_shape[:2]) + (self.n_outputs,)

    # ------------------------------------------------------------ stepping
    # A step computes the GRU cells' maths directly (Keras's GRUCell, reset gate after the
    # recurrent product), so that the parts that do not change from step to step are done
    # once: z's share of the first layer's input projection is computed by `start` and
    # carried in the state, and the previous output's share is one row of the kernel.
    def start(self, z):
        """The state before the first output: z's input projection, and each layer's
        initial hidden state. A tuple of (batch, ...) arrays, each row one sequence."""
        z = ops.convert_to_tensor(z)
        cell = self.grus[0].cell
        input_bias = cell.bias[0] if cell.reset_after else cell.bias
        z_projection = ops.matmul(z, cell.kernel[self.n_outputs:]) + input_bias
        return (z_projection,) + tuple(dense(z) for dense in self.initial)

    def step(self, previous, state):
        """One step for a batch: logits of the next output given the previous ones.

        previous: (batch,) int outputs chosen at the last step, -1 at the first.
        Returns (logits (batch, n_outputs), new state). Compiled by the backend on first use
        (a step is a dozen small operations: eager calls would cost more than the maths)."""
        state = tuple(ops.convert_to_tensor(s) for s in state)
        if getattr(self, "_compiled_step", None) is None:
            self._compiled_step = _compile(self._step, state)
        return self._compiled_step(ops.convert_to_tensor(previous, dtype="int32"), state)

    def _step(self, previous, state):
        first = self.grus[0].cell
        seen = ops.cast(previous >= 0, state[0].dtype)[:, None]
        x = ops.take(first.kernel[:self.n_outputs], ops.maximum(previous, 0), axis=0) * seen + state[0]
        hidden = []
        for gru, h in zip(self.grus, state[1:]):
            cell = gru.cell
            if hidden:  # layers above the first read the layer below
                x = self._product(hidden[-1], cell.kernel) + cell.bias[0]
            inner = self._product(h, cell.recurrent_kernel) + cell.bias[1]
            x_z, x_r, x_h = ops.split(x, 3, axis=-1)
            h_z, h_r, h_h = ops.split(inner, 3, axis=-1)
            update = cell.recurrent_activation(x_z + h_z)
            reset = cell.recurrent_activation(x_r + h_r)
            candidate = cell.activation(x_h + reset * h_h)
            hidden.append(update * h + (1.0 - update) * candidate)
        return self.logits(hidden[-1]), (state[0],) + tuple(hidden)

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "n_outputs": self.n_outputs,
                "steps": self.steps, "units": list(self.units), "seed": self.seed}


def _compile(fn, state):
    """fn(previous, state) compiled by the Keras backend's own compiler where it has one, for
    any batch size. Under TensorFlow it is traced once, for the shapes of `state` with the
    batch left open, and called as that one concrete function: a call then costs a third of
    a millisecond less than through `tf.function`'s dispatch, which is 10-20% of a greedy
    decode's step at ZINC's batch sizes."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        signature = (tf.TensorSpec([None], tf.int32),
                     tuple(tf.TensorSpec([None] + list(s.shape[1:]), s.dtype) for s in state))
        return tf.function(fn).get_concrete_function(*signature)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def select_rows(state, index):
    """The state of rows `index` (a beam search's reorder, or repeats of a row)."""
    index = ops.convert_to_tensor(np.asarray(index), dtype="int32")
    return tuple(ops.take(s, index, axis=0) for s in state)


def generate(decoder, z, choose: Callable[[np.ndarray, int], np.ndarray], steps: int | None = None):
    """Step `decoder` from z, letting `choose(logits, t)` pick each output (numpy in and out).

    Returns (outputs (batch, steps) int, logits (batch, steps, n_outputs) float32), the
    logits being those each choice was made from."""
    z = ops.convert_to_tensor(np.asarray(z, dtype="float32"))
    steps = decoder.steps if steps is None else int(steps)
    B = int(z.shape[0])
    state = decoder.start(z)
    previous = np.full(B, -1, dtype=np.int32)
    outputs = np.zeros((B, steps), dtype=np.int32)
    all_logits = np.zeros((B, steps, decoder.n_outputs), dtype=np.float32)
    for t in range(steps):
        logits, state = decoder.step(previous, state)
        all_logits[:, t] = ops.convert_to_numpy(logits)
        previous = np.asarray(choose(all_logits[:, t], t), dtype=np.int32)
        outputs[:, t] = previous
    return outputs, all_logits

"""Training callbacks for VAEs."""

from __future__ import annotations

import keras


class KLAnnealing(keras.callbacks.Callback):
    """Raise the KL weight beta linearly from `start` to `end` over `steps` training batches
    (a warm-up against posterior collapse), counting batches across epochs and resumes.

        >>> vae.fit(x, epochs=10, callbacks=[KLAnnealing(0.0, 1.0, steps=5000)])

    On TensorFlow the new weight applies from the next batch; on JAX from the next epoch
    (the JAX trainer reads variables into its state once an epoch).
    """

    def __init__(self, start: float = 0.0, end: float = 1.0, steps: int = 10000, initial_step: int = 0):
        super().__init__()
        self.start, self.end, self.steps = float(start), float(end), max(1, int(steps))
        self.step = int(initial_step)

    def beta_at(self, step: int) -> float:
        frac = min(1.0, step / self.steps)
        return self.start + frac * (self.end - self.start)

    def on_train_begin(self, logs=None):
        # Also after the warm-up: a resumed run (whose restored weights carry the old beta)
        # trains at this schedule's beta.
        self.model.beta = self.beta_at(self.step)

    def on_train_batch_begin(self, batch, logs=None):
        if self.step <= self.steps:
            self.model.beta = self.beta_at(self.step)
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["beta"] = self.model.beta

"""Batches of encoded rows for training: a fixed-seed split, batches of similar length, and
the tf.data pipeline that one-hots them. Nothing here knows what the rows derive (molecules or
any other grammar's strings), and TensorFlow is imported only by `make_dataset`.

    >>> train, val = split_indices(len(X), 0.01, seed=0)
    >>> ds = make_dataset(X, n_productions, batch_size=128, index=train, by_length=True)
"""

from __future__ import annotations

import numpy as np


def split_indices(n: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-seed train / validation split of range(n)."""
    perm = np.random.default_rng(seed).permutation(n)
    k = int(round(n * val_fraction))
    return np.sort(perm[k:]), np.sort(perm[:k])


LENGTH_QUANTUM = 8  # by_length batches are cut to a multiple of this many steps
BUCKET_BATCHES = 64  # by_length: batches formed together from rows sorted by length


def sequence_lengths(X: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    """Steps before the padding of each row (the padding production is the last column's value
    in a full row; every row ends in it unless it fills all steps)."""
    pad = int(X[0, -1]) if len(X) else 0
    out = np.empty(len(X), dtype=np.int32)
    for i in range(0, len(X), chunk):
        out[i:i + chunk] = (np.asarray(X[i:i + chunk]) != pad).sum(1)
    return out


def length_batches(index: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                   group: int = BUCKET_BATCHES) -> list[np.ndarray]:
    """Batches of `index` (rows, shuffled by `rng`) whose members have similar lengths: each
    group of `group` batches is formed from rows sorted by length, and all batches are then
    shuffled, so a batch is cut to little more than its own rows' length."""
    order = rng.permutation(index)
    out = []
    for i in range(0, len(order), group * batch_size):
        chunk = order[i:i + group * batch_size]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    return [out[k] for k in rng.permutation(len(out))]


def make_dataset(X: np.ndarray, n_productions: int, batch_size: int = 256, shuffle: bool = True,
                 seed: int = 0, index: np.ndarray | None = None, by_length: bool = False, multiple: int = 1,
                 process: tuple[int, int] = (0, 1)):
    """tf.data over rows of int production sequences (array or memory map), one-hot per batch.

    Only the index array and one batch at a time are materialised; each epoch reshuffles
    with seed + epoch. With `by_length` (for models that read any length, such as the
    autoregressive GrammarVAE), batches group rows of similar length and each is cut to its
    longest row, rounded up to LENGTH_QUANTUM steps: the steps cut are padding, which the
    masked loss scores as exactly 0, so the loss is the same and the work far less. Each
    batch holds a `multiple` of rows (the devices it is split over): a shorter batch (the last of
    an epoch, a short length group) leaves out its last rows, fewer than `multiple`. With
    `process` (index, count) for one of several processes training together, every process
    draws the same batches and yields its own share of each, the index-th of `count` equal
    parts (`multiple` is then the devices of all processes), cut to the whole batch's length.
    """
    from grammarvae.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    idx = np.arange(len(X)) if index is None else np.asarray(index)
    T = X.shape[1]
    epoch = [0]
    lengths = sequence_lengths(X) if by_length else None

    def batches():
        _keep_large_allocations_off_mmap()
        rng = np.random.default_rng(seed + epoch[0])
        epoch[0] += 1
        if by_length:
            groups = length_batches(idx, lengths, batch_size, rng) if shuffle else [
                idx[i:i + batch_size] for i in range(0, len(idx), batch_size)]
        else:
            order = rng.permutation(idx) if shuffle else idx
            groups = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        for rows in groups:
            rows = np.sort(rows[:len(rows) - len(rows) % multiple])  # sorted reads are kinder to a memory map
            if not len(rows):
                continue
            share = len(rows) // process[1]
            batch = np.asarray(X[rows[process[0] * share:(process[0] + 1) * share]], dtype=np.int32)
            if by_length:
                cut = min(T, -(-max(1, int(lengths[rows].max())) // LENGTH_QUANTUM) * LENGTH_QUANTUM)
                batch = batch[:, :cut]
            yield batch

    shape = (None, None) if by_length else (None, T)
    ds = tf.data.Dataset.from_generator(batches, output_signature=tf.TensorSpec(shape, tf.int32))
    # No prefetch and no parallel map: a background thread of tf.data inside the generator
    # waits for the GIL, and an iterator dropped mid-epoch (a run stopped on a NaN loss, the
    # end of a script) waits for that thread while holding the GIL: a deadlock (seen in CI
    # and here, where a script hung for 40 minutes at exit). A batch takes ~2 ms to make
    # here (measured by hand), under 1% of a training step.
    ds = ds.map(lambda b: tf.one_hot(b, n_productions, dtype=tf.float32))
    return ds.with_options(_lean_options())


def _keep_large_allocations_off_mmap() -> None:
    """Undo what TensorFlow's generator dataset (2.21) does to glibc's malloc: it sets
    M_TRIM_THRESHOLD to 128 kB, which also freezes the mmap threshold at 128 kB, so every
    tensor of a training step (megabytes each) is mapped and unmapped anew: a third of the
    CPU went to the kernel and a batch took 1.20 s instead of 0.67 s here. Called as each
    pass over the data begins (after the dataset op has applied its setting); a no-op where
    the C library is not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD: glibc's own upper bound on 64-bit
        libc.mallopt(-1, 64 * 1024 * 1024)  # M_TRIM_THRESHOLD: give memory back only in large runs
    except (OSError, AttributeError):
        pass


def _lean_options():
    """tf.data without its autotuner, its own thread pool or graph rewrites: on a 2-core CPU
    they take cores from the training step (fit on one fixed batch of 128 ran at 1.02 s a
    batch with them, 0.61 s without, measured by hand on the idle CPU). A batch is one small
    gather and one-hot."""
    from grammarvae.quiet import import_tensorflow_quietly

    import_tensorflow_quietly()
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.threading.private_threadpool_size = 1
    options.experimental_optimization.apply_default_optimizations = False
    return options

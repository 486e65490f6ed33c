"""Training a GrammarVAE on a SMILES file with Keras `fit`, checkpointed and resumable.

    >>> train("train.csv.gz", "runs/model.keras", preset="small", epochs=20, steps_per_epoch=400)

Files beside the output model (``runs/model.keras``):
    model.data.npy / .ok.npy   the encoded data set (int16), made once and reused
    model.split.npz            the validation row indices (never trained on)
    model.backup/              Keras BackupAndRestore state: an interrupted run resumes
    model.log.csv              one row of losses per epoch
A checkpoint of the whole model is written after every epoch (``model.keras``).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from grammarvae.quiet import import_tensorflow_quietly

import_tensorflow_quietly()

import keras  # noqa: E402
import numpy as np

from grammarvae.data import encode_file, make_dataset, ok_path, split_indices, write_errors
from grammarvae.files import claimed, remove_temporaries, replacing, write_text, writing
from grammarvae.grammar import Grammar
from grammarvae.models.gvae import PRETRAINED, GrammarVAE
from grammarvae.scope import productions_used
from vae_core import KLAnnealing
from vae_core.mmd import check_weight as check_mmd_weight


BACKUP_EVERY = 200  # batches between mid-epoch backups (and one as each epoch ends)


class _BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's BackupAndRestore, except that a restored run records its true epoch in the
    backups it writes (Keras 3 writes epoch 0 until the first epoch after a restore ends, so a
    second interruption would restart the epoch count), and the restored run trains at the
    learning rate it was compiled with now (the backup's optimizer state carries the old one)."""

    def on_train_begin(self, logs=None):
        learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        super().on_train_begin(logs)
        self.model.optimizer.learning_rate.assign(learning_rate)
        self._current_epoch = getattr(self.model, "_initial_epoch", None) or 0

    def _save_model(self):
        """Keras's backup (weights, then the epoch and batch they were taken at), each file
        written whole under a fresh name and renamed: a kill or a full disk during a backup
        leaves the one before it whole."""
        os.makedirs(self.backup_dir, exist_ok=True)
        with replacing(self._weights_path) as tmp:
            self.model.save_weights(filepath=str(tmp), overwrite=True)
        write_text(self._training_metadata_path,
                   json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))


class _BackupAtEpochEnd(keras.callbacks.Callback):
    """Write the backup as each epoch ends, after its checkpoint and log row (Keras writes
    it only every `save_freq` batches): a run killed early in the next epoch then resumes
    there, not in the middle of the epoch already logged."""

    def __init__(self, backup: _BackupAndRestore):
        super().__init__()
        self.backup = backup

    def on_epoch_end(self, epoch, logs=None):
        if not self.model.stop_training:  # a refused (non-finite) epoch is not backed up
            self.backup._save_model()


class _SafeCheckpoint(keras.callbacks.Callback):
    """Save the model after each epoch, written to a temporary file and renamed (a kill
    during the write leaves the last checkpoint whole), and only while the epoch's loss and
    the weights are finite (a diverged run never overwrites a good checkpoint)."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        self.refused = None  # the epoch whose checkpoint was refused, if any
        self.written = None  # the last epoch written

    def on_epoch_end(self, epoch, logs=None):
        if not _finite(self.model, logs):
            self.refused = epoch
            self.model.stop_training = True
            return
        save_atomically(self.model, self.path)
        self.written = epoch


class _EpochLog(keras.callbacks.Callback):
    """One CSV row of losses per epoch, appended to `path`. A resumed run that logs other
    columns (an MMD term switched on) rewrites the file under the union of the columns,
    the earlier rows left empty in the new ones (Keras's CSVLogger would append rows longer
    than its header); an epoch run again after an interruption replaces its row and any
    after it. Written to a temporary file and renamed."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        rows = [r for r in read_log(self.path) if int(r["epoch"]) < epoch]  # an epoch run again replaces its row
        columns = ["epoch"] + sorted(set(row).union(*rows) - {"epoch"})
        with writing(self.path, newline="") as fh:
            w = csv.DictWriter(fh, columns, restval="", lineterminator="\n")
            w.writeheader()
            w.writerows(rows + [row])


def read_log(path: Path) -> list[dict]:
    """The rows of an epoch log (none if it does not exist); ValueError naming the line of a
    row that does not match the header (Keras's CSVLogger wrote such rows when a column
    appeared on a resume), so that a resumed run stops before any work, not after its
    first epoch."""
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        rows = []
        for r in reader:
            if None in r or None in r.values() or not str(r.get("epoch", "")).isdigit():
                raise ValueError(f"{path}: line {reader.line_num} does not match the header "
                                 f"({', '.join(reader.fieldnames or [])}); repair or remove the log")
            rows.append(r)
    return rows


def _finite(model, logs=None) -> bool:
    if logs is not None and not np.isfinite(float(logs.get("loss", 0.0))):
        return False
    return all(np.isfinite(w).all() for w in model.get_weights())


def save_atomically(model, path: Path) -> None:
    """model.save to a fresh temporary file beside `path`, then rename it over `path`."""
    with replacing(path) as tmp:
        model.save(tmp)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint was kept."""


def _side(out: Path, suffix: str) -> Path:
    return out.with_name(out.stem + suffix)


SIDE_FILES = (".log.csv", ".split.npz", ".data.npy", ".data.ok.npy", ".data.json", ".data.errors.csv", ".train.json",
              ".val.data.npy", ".val.data.ok.npy", ".val.data.json", ".val.data.errors.csv")


def _remove_leftovers(out: Path, backup: Path) -> None:
    """The temporary files a run killed while writing left beside `out` and in its backup."""
    for name in (out.name, *(out.stem + suffix for suffix in SIDE_FILES)):
        remove_temporaries(out.parent, name)
    if backup.is_dir():
        for name in ("latest.weights.h5", "training_metadata.json"):
            remove_temporaries(backup, name)


def _input_key(data: str | Path, column: str | None) -> dict:
    """What identifies an input file's encoding: its content (SHA-256) and column. The path is
    kept to name it; a copy of the same file elsewhere, or with a new modification time (a
    fresh checkout, a data set copied to another machine), is the same input."""
    digest = hashlib.sha256()
    with open(data, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"input": str(Path(data).resolve()), "sha256": digest.hexdigest(), "column": column}


def _same_input(cached: dict | None, key: dict) -> bool:
    """Whether the cache's input is `key`'s: the same content and column, and where `key` says
    how it is read (`_reading`), read so (a cache that does not say was read as SMILES of zinc)."""
    return cached is not None and all(cached.get(k) == key[k] for k in ("sha256", "column")) and (
        "reading" not in key or cached.get("reading", _reading(Grammar.load("zinc"), "smiles")) == key["reading"])


def _reading(grammar: Grammar, language: str) -> str:
    """How an input is read into derivations: the language, and the grammar by its text's digest."""
    return f"{language} {hashlib.sha256(grammar.cfg_text.encode()).hexdigest()[:16]}"


def cached_input(out: Path) -> dict | None:
    """The input key the data cached beside `out` was made from, if any (None for a key file
    that cannot be read: the cache is then made again)."""
    path = _side(out, ".data.json")
    try:
        key = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return key if isinstance(key, dict) else None


def _file_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                digest.update(block)
    return digest.hexdigest()


def _cached(out: Path, key: dict):
    """The cached (X, ok) beside `out` if they were made from this input and are whole (the
    key file records the files' own checksum, written after them); None otherwise."""
    X_path, ok_file = _side(out, ".data.npy"), ok_path(_side(out, ".data.npy"))
    cached = cached_input(out)
    if not (_same_input(cached, key) and X_path.exists() and ok_file.exists()):
        return None
    try:
        if cached.get("data_sha256") != _file_digest(X_path, ok_file):
            return None
        return np.load(X_path, mmap_mode="r"), np.load(ok_file)
    except (OSError, ValueError):
        return None


def prepare(data: str | Path, out: Path, max_len: int, column: str | None = None, key: dict | None = None,
            grammar: Grammar | None = None, language: str = "smiles"):
    """Encoded rows of `data`, read by `language` into derivations of `grammar` (default zinc),
    cached beside `out` and reused while the input (its content and column: `key`, computed
    here unless the caller has it; and how it is read) is the one it was made from and the
    cache is whole; a stale, partial or corrupt cache is made again."""
    X_path = _side(out, ".data.npy")
    grammar = grammar or Grammar.load("zinc")
    key = {**(key or _input_key(data, column)), "reading": _reading(grammar, language)}
    cache = _cached(out, key)
    if cache is not None:
        X, ok = cache
        if X.shape[1] >= max_len:  # a cache made for longer sequences serves: keep rows that fit
            pad = int(X[0, -1]) if len(X) else 0
            fits = np.ones(len(X), dtype=bool)
            for i in range(0, len(X), 100_000):
                fits[i:i + 100_000] = (X[i:i + 100_000, max_len:] == pad).all(1)
            return X[:, :max_len], ok & fits
    _side(out, ".data.json").unlink(missing_ok=True)  # the cache is not this input's from here on
    X, ok, errors = encode_file(data, X_path, max_len=max_len, grammar=grammar, column=column, language=language)
    if errors:
        write_errors(errors, _side(out, ".data.errors.csv"))
    else:
        _side(out, ".data.errors.csv").unlink(missing_ok=True)
    write_text(_side(out, ".data.json"), json.dumps({**key, "data_sha256": _file_digest(X_path, ok_path(X_path))}))
    return X, ok


def _usable_backup(backup: Path) -> str | None:
    """Why the backup folder cannot be resumed from (None if it can): each file must read
    whole (a backup written in place by an older version and killed midway does not)."""
    import h5py

    weights, meta = backup / "latest.weights.h5", backup / "training_metadata.json"
    try:
        epoch = json.loads(meta.read_text())["epoch"]
        if not isinstance(epoch, int):
            return f"{meta}: no epoch in it"
        with h5py.File(weights, "r") as f:
            f.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        return f"{e.__class__.__name__}: {e}"
    return None


def check_settings(epochs, steps_per_epoch, batch_size, val_split, learning_rate, beta, kl_warmup_steps,
                   mmd_weight=None) -> None:
    """ValueError naming the first setting out of range (before any work is done)."""
    checks = [
        (isinstance(epochs, int) and epochs >= 1, f"epochs must be at least 1, got {epochs}"),
        (steps_per_epoch is None or steps_per_epoch >= 1, f"steps per epoch must be at least 1, got {steps_per_epoch}"),
        (batch_size >= 1, f"batch size must be at least 1, got {batch_size}"),
        (0 <= val_split < 1, f"validation split must be in [0, 1), got {val_split}"),
        (np.isfinite(learning_rate) and learning_rate > 0, f"learning rate must be a positive number, got {learning_rate}"),
        (beta is None or (np.isfinite(beta) and beta >= 0), f"beta must be a number >= 0, got {beta}"),
        (kl_warmup_steps >= 0, f"KL warm-up must be at least 0 batches, got {kl_warmup_steps}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
    check_mmd_weight(mmd_weight)


def train(data: str | Path, out: str | Path, preset: str = "small", epochs: int = 10,
          steps_per_epoch: int | None = None, batch_size: int = 256, val_split: float = 0.01,
          learning_rate: float = 1e-3, seed: int = 0, resume: bool = False, column: str | None = None,
          validation_steps: int | None = 20, verbose: int | str = "auto", beta: float | None = None,
          kl_warmup_steps: int = 0, decoder: str = "one-shot", mmd_weight: float | None = None,
          mmd_kernel: str | None = None, callbacks: list | None = None, init_from: str | Path | None = None,
          val_data: str | Path | None = None, devices: int | str | None = None, **arch) -> dict:
    """Train and save `out`; returns the history dict. With ``resume``, carries on from the
    last backup (mid-epoch state included) or, failing that, from the checkpoint at `out`.
    ``kl_warmup_steps`` raises the KL weight linearly from 0 to `beta` over that many batches;
    ``mmd_weight`` adds InfoVAE's MMD term (see `GrammarVAE`; 0 switches it off). The objective
    (`beta`, `mmd_weight`, `mmd_kernel`), each part not given (None), is that of the model the
    run starts from (``init_from``, or the checkpoint it resumes); a new model's is beta 1 and no
    MMD term. A resumed run trains with the objective and learning rate given now, so a
    run can change its objective or lower its rate at a checkpoint. ``init_from`` starts a new run
    from the weights of that saved model instead of random ones (fine-tuning, say the MOSES model
    on ZINC): its network is used, and `preset`, `decoder` and the architecture arguments are not,
    except ``max_len``, which may grow (`GrammarVAE.with_max_len`: MOSES's 160 steps to ZINC's 277).
    ``val_data`` validates on another file (ZINC-250k's published validation split, say; cached
    beside `out` as ``.val.data.npy``) and trains on every row of `data`; `val_split` is then
    not used. ``callbacks`` run after the package's own (each epoch's checkpoint, log row and backup).
    A resumed run takes its network from the checkpoint at `out` (`preset`, `decoder` and the
    architecture arguments are then not used), so a run started from another model resumes
    without naming that network again. ``devices`` (a number, or "all") trains data parallel
    over that many local devices (`data_parallel`: the JAX backend)."""
    out = Path(out)
    check_settings(epochs, steps_per_epoch, batch_size, val_split, learning_rate, beta, kl_warmup_steps, mmd_weight)
    if not out.parent.is_dir():
        raise ValueError(f"{out.parent}: no such folder (create it first)")
    if not Path(data).is_file():
        raise ValueError(f"{data}: no such file")
    if val_data is not None and not Path(val_data).is_file():
        raise ValueError(f"{val_data}: no such file (the validation data)")
    if init_from is not None and resume:
        raise ValueError(f"start from the weights of {init_from} or resume this run, not both")
    if init_from is not None and str(init_from) not in PRETRAINED and not Path(init_from).is_file():
        raise ValueError(f"{init_from}: no such model file (nor a bundled model: {', '.join(sorted(PRETRAINED))})")
    n_devices, share = device_count(devices), process_share()
    if resume and share[1] > 1:
        raise ValueError("a run of several processes starts anew or --init-from a model; resuming one is not "
                         "supported yet (resume it in one process, or start the processes from its checkpoint "
                         "with --init-from)")
    # A second run on this output is refused (OutputBusy).
    with _own_output(out, share) as out, claimed(out), data_parallel(n_devices, batch_size):
        backup = _side(out, ".backup")
        _remove_leftovers(out, backup)
        key, cached = _input_key(data, column), cached_input(out)  # the file is hashed once
        if resume and cached is not None and not _same_input(cached, key):
            raise ValueError(f"{data}: not the input this run was trained on ({cached['input']}); "
                             "train without --resume to start a new run")
        if resume and backup.exists() and (why := _usable_backup(backup)):
            print(f"{backup}: unreadable ({why}); resuming from the last checkpoint {out} instead",
                  file=sys.stderr)
            shutil.rmtree(backup, ignore_errors=True)
        log_path = _side(out, ".log.csv")
        epochs_done = len(read_log(log_path)) if resume else 0
        keras.utils.set_random_seed(seed)
        if resume and out.exists():  # the run's own network, whatever `preset` and `decoder` say
            model = _untrained_prior(GrammarVAE.load(out), out)
            if backup.exists():  # built anew, as the model that wrote the backup was (a model read
                # back by Keras tracks its layers under other names), for the backup to restore
                model = GrammarVAE.from_config(model.get_config())
            beta, mmd_weight, mmd_kernel = objective(model, beta, mmd_weight, mmd_kernel)
            model = with_mmd(model, mmd_weight, mmd_kernel)
        elif init_from is not None:
            model = _untrained_prior(GrammarVAE.named(init_from), init_from)
            beta, mmd_weight, mmd_kernel = objective(model, beta, mmd_weight, mmd_kernel)
            model = with_mmd(model, mmd_weight, mmd_kernel)
            if arch.get("max_len"):
                model = model.with_max_len(arch["max_len"])
        else:
            beta, mmd_weight, mmd_kernel = 1.0 if beta is None else beta, mmd_weight or None, mmd_kernel or "imq"
            model = GrammarVAE(preset=preset, seed=seed, beta=beta, decoder=decoder, mmd_weight=mmd_weight,
                               mmd_kernel=mmd_kernel, **arch)
        reading = {"grammar": model.grammar, "language": model.language.name}
        X, ok = prepare(data, out, model.max_len, column, key, **reading)
        if not ok.any():
            raise ValueError(f"{data}: no SMILES in it could be encoded (see {_side(out, '.data.errors.csv')})")
        if not resume:  # a new run: nothing of an earlier one at this path carries over (removed only
            # now that this run has its data: a run that fails before leaves the earlier one resumable)
            shutil.rmtree(backup, ignore_errors=True)
            for suffix in (".log.csv", ".split.npz"):
                _side(out, suffix).unlink(missing_ok=True)
        split_path = _side(out, ".split.npz")
        X_val = X
        if val_data is not None:  # every row of `data` trains; the validation rows are another file's
            X_val, ok_val = prepare(val_data, _side(out, ".val.keras"), model.max_len, column, **reading)
            train_idx, val_idx = np.nonzero(ok)[0], np.nonzero(ok_val)[0]
        elif split_path.exists():
            with np.load(split_path, allow_pickle=False) as f:
                train_idx, val_idx = f["train"], f["val"]
        else:
            rows = np.nonzero(ok)[0]
            tr, va = split_indices(len(rows), val_split, seed=seed)
            train_idx, val_idx = rows[tr], rows[va]
            with replacing(split_path) as tmp:
                np.savez(tmp, train=train_idx, val=val_idx, seed=seed, val_split=val_split)
        P = model.grammar.n_productions
        # What the model sees in training, with what it saw before (a model it starts from or resumes).
        model.trained_productions = sorted(set(productions_used(X, P, train_idx)) | set(model.trained_productions or ()))
        # A resumed run draws a fresh order (seed + epochs done) instead of replaying the first batches.
        shuffle_seed = seed + epochs_done if resume else seed
        by_length = model.autoregressive
        ds = make_dataset(X, P, batch_size=batch_size, shuffle=True, seed=shuffle_seed, index=train_idx,
                          by_length=by_length, multiple=n_devices, process=share)
        if steps_per_epoch:
            ds = ds.repeat()
        val = make_dataset(X_val, P, batch_size=batch_size, shuffle=False, index=val_idx, by_length=by_length,
                           multiple=n_devices, process=share) if len(val_idx) >= n_devices else None
        if val is not None and validation_steps:
            val = val.repeat()  # the same first batches each epoch: make_dataset does not shuffle them
        initial_epoch = 0
        if resume and not backup.exists():  # resuming from the last checkpoint, not a backup
            initial_epoch = epochs_done
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
        # The KL weight follows the schedule (constant `beta` without a warm-up). It comes after
        # BackupAndRestore, so that on a resume it overrides the beta the restored weights carry.
        batches_done = epochs_done * (steps_per_epoch or -(-len(train_idx) // batch_size)) if resume else 0
        callbacks = [
            restore := _BackupAndRestore(str(backup), save_freq=max(1, min(steps_per_epoch or BACKUP_EVERY, BACKUP_EVERY)),
                                         delete_checkpoint=True),
            KLAnnealing(0.0 if kl_warmup_steps else beta, beta, steps=max(1, kl_warmup_steps), initial_step=batches_done),
            keras.callbacks.TerminateOnNaN(),
            checkpoint := _SafeCheckpoint(out),
            _EpochLog(log_path),
            _BackupAtEpochEnd(restore),
            *(callbacks or ()),
        ]
        t0 = time.time()
        hist = model.fit(ds, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=val,
                         validation_steps=validation_steps if val is not None else None,
                         callbacks=callbacks, verbose=verbose, initial_epoch=initial_epoch,
                         shuffle=False)  # make_dataset shuffles
        info = {"preset": preset, "epochs": epochs, "steps_per_epoch": steps_per_epoch, "batch_size": batch_size,
                "train_rows": int(len(train_idx)), "val_rows": int(len(val_idx)), "seed": seed,
                "wall_seconds_this_run": round(time.time() - t0, 1), "history": hist.history}
        write_text(_side(out, ".train.json"), json.dumps(info, indent=1, default=float))
        if checkpoint.refused is not None or not _finite(model):
            # A backup taken after the loss went bad would bring the bad weights back on --resume.
            shutil.rmtree(backup, ignore_errors=True)
            kept = (f"{out} holds epoch {checkpoint.written}" if checkpoint.written is not None
                    else f"{out} was left as it was")
            raise TrainingDiverged(f"the loss became NaN or inf in epoch {initial_epoch + len(hist.epoch) - 1}; "
                                   f"training stopped: {kept}")
        save_atomically(model, out)
        return hist.history


def device_count(devices: int | str | None) -> int:
    """How many local devices `devices` (a number, "all", or None for one) names; ValueError
    where they are not here, or need a backend other than this one (see `data_parallel`)."""
    if devices is None or devices == 1:
        return 1
    if keras.backend.backend() != "jax":
        raise ValueError(f"training on several devices runs on the JAX backend; this is {keras.backend.backend()} "
                         f"(install jax, or grammarvae[cuda] for GPUs, and set KERAS_BACKEND=jax)")
    found = keras.distribution.list_devices()
    n = len(found) if devices == "all" else devices
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"devices must be a number >= 1 or 'all', got {devices!r}")
    if n > len(found):
        raise ValueError(f"{n} devices asked for; this machine has {len(found)}: {', '.join(found)}")
    return n


def initialize_processes(coordinator: str, num_processes: int, process_id: int) -> None:
    """Join a run of `num_processes` processes (one a machine, say) that train as one, through
    `keras.distribution.initialize` (JAX): `coordinator` is HOST:PORT of process 0, which every
    process reaches. Call before anything else runs on JAX; then `train(devices="all")` is data
    parallel over the devices of all the processes, each reading its share of every batch, and
    process 0 writes the files."""
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ValueError(f"process id {process_id} is not one of the {num_processes} processes (0 to {num_processes - 1})")
    host, _, port = coordinator.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"coordinator must be HOST:PORT, got {coordinator!r}")
    if keras.backend.backend() != "jax":
        raise ValueError(f"training in several processes runs on the JAX backend; this is {keras.backend.backend()} "
                         f"(set KERAS_BACKEND=jax)")
    keras.distribution.initialize(coordinator, num_processes, process_id)


@contextlib.contextmanager
def _own_output(out: Path, share: tuple[int, int]):
    """Where this process writes: `out`, or for a process of several other than the first (whose
    files are the run's), a scratch folder removed at the end."""
    if not share[0]:
        yield out
        return
    scratch = Path(tempfile.mkdtemp(prefix=f"grammarvae-process-{share[0]}-"))
    try:
        yield scratch / out.name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def process_share() -> tuple[int, int]:
    """(this process's index, the number of processes) of a run of several (`initialize_processes`);
    (0, 1) for a run of one."""
    if keras.backend.backend() != "jax":
        return 0, 1
    import jax

    return jax.process_index(), jax.process_count()


def data_parallel(n: int, batch_size: int):
    """A context in which models are built and trained data parallel over the first `n` local
    devices: Keras's `DataParallel` distribution, on the JAX backend (KERAS_BACKEND=jax). Each
    batch is split across the devices, the variables are replicated, and the gradient is the
    whole batch's, so the run is the one-device run to float tolerance (a test). n = 1: no
    distribution. ValueError for a batch that does not split evenly."""
    if n == 1:
        return contextlib.nullcontext()
    if batch_size % n:
        raise ValueError(f"the batch size {batch_size} does not split evenly over {n} devices")
    # Several processes: each feeds its own share of a batch (make_dataset's `process`), not Keras's shard.
    return keras.distribution.DataParallel(devices=keras.distribution.list_devices()[:n],
                                           auto_shard_dataset=process_share()[1] == 1).scope()


def _untrained_prior(model: GrammarVAE, source) -> GrammarVAE:
    """`model` without its fitted prior, said in a line: training moves the weights the prior's
    bank was fitted with, so the trained model is saved without one until `fit-prior`."""
    if model.prior is None:
        return model
    print(f"{source}: its fitted prior is left out of training (it belongs to the weights it was fitted "
          f"with); fit one to the trained model with `grammarvae fit-prior`", file=sys.stderr)
    return model.without_prior()


def objective(model: GrammarVAE, beta: float | None, mmd_weight: float | None, mmd_kernel: str | None):
    """(beta, MMD weight, MMD kernel): those given, each one not given (None) `model`'s own; an
    MMD weight of 0 is no MMD term (None)."""
    config = model.get_config()
    return (float(config["beta"]) if beta is None else beta,
            model.mmd_weight if mmd_weight is None else (mmd_weight or None),
            model.mmd_kernel if mmd_kernel is None else mmd_kernel)


def with_mmd(model: GrammarVAE, mmd_weight: float | None, mmd_kernel: str = "imq") -> GrammarVAE:
    """`model`, or the same network and weights with this MMD term where it has another."""
    if (model.mmd_weight, model.mmd_kernel) == (mmd_weight, mmd_kernel):
        return model
    other = GrammarVAE.from_config({**model.get_config(), "mmd_weight": mmd_weight, "mmd_kernel": mmd_kernel})
    other.set_weights(model.get_weights())
    return other


def export(checkpoint: str | Path, out: str | Path) -> Path:
    """An inference copy of a training checkpoint: same config and weights, no optimizer state."""
    model = GrammarVAE.load(checkpoint)
    clean = GrammarVAE.from_config(model.get_config())
    clean.set_weights(model.get_weights())
    save_atomically(clean, Path(out))
    return Path(out)

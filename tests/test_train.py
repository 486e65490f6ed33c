"""Training helpers: resuming after interruptions."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from grammarvae.models.gvae import GrammarVAE
from grammarvae.train import _BackupAndRestore, train


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0
        self.epochs_seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epochs_seen.append(epoch)

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise RuntimeError("interrupted")


def test_backup_keeps_the_true_epoch_across_two_interruptions(tmp_path):
    x, y = np.ones((8, 2), "float32"), np.zeros((8, 1), "float32")
    backup = tmp_path / "backup"

    def fit(interrupt):
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        model.fit(x, y, batch_size=2, epochs=5, verbose=0,
                  callbacks=[_BackupAndRestore(str(backup), save_freq=1), interrupt])

    first = _Interrupt(2, 1)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(first)
    second = _Interrupt(2, 2)  # interrupted again, in the restored epoch, before it ends
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(second)
    assert second.epochs_seen == [2]
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    third = _Interrupt(-1, -1)
    fit(third)
    assert third.epochs_seen == [2, 3, 4]  # not back to epoch 0


def test_a_resumed_run_trains_at_its_own_beta(tmp_path):
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 4))
    out = tmp_path / "m.keras"
    common = dict(preset="tiny", batch_size=8, val_split=0.1, verbose=0)
    train(data, out, epochs=1, beta=0.5, kl_warmup_steps=2, **common)
    assert GrammarVAE.load(out).beta == 0.5  # the warm-up of 2 batches ended within the epoch
    train(data, out, epochs=2, beta=0.1, resume=True, **common)  # restored weights carry 0.5
    assert GrammarVAE.load(out).beta == pytest.approx(0.1)
    rows = (tmp_path / "m.log.csv").read_text().strip().splitlines()
    beta = rows[0].split(",").index("beta")
    assert [float(r.split(",")[beta]) for r in rows[1:]] == pytest.approx([0.5, 0.1])


def test_the_mmd_objective_trains_saves_and_can_be_switched_on_at_a_checkpoint(tmp_path):
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 4))
    out = tmp_path / "m.keras"
    common = dict(preset="tiny", batch_size=8, val_split=0.1, verbose=0, decoder="autoregressive", beta=0.05)
    hist = train(data, out, epochs=1, **common)
    assert "mmd" not in hist and GrammarVAE.load(out).mmd_weight is None
    hist = train(data, out, epochs=2, resume=True, mmd_weight=10.0, mmd_kernel="gaussian", **common)
    model = GrammarVAE.load(out)
    assert (model.mmd_weight, model.mmd_kernel) == (10.0, "gaussian")
    assert len(hist["mmd"]) == 1 and hist["loss"][0] == pytest.approx(
        hist["reconstruction_loss"][0] + 0.05 * hist["kl_loss"][0] + 10.0 * hist["mmd"][0], rel=1e-3)
    import csv

    with open(tmp_path / "m.log.csv", newline="") as fh:
        log = list(csv.DictReader(fh))  # the header grew an mmd column; the first row has none
    assert [r["epoch"] for r in log] == ["0", "1"] and log[0]["mmd"] == "" and float(log[1]["mmd"]) == hist["mmd"][0]
    with pytest.raises(ValueError, match="mmd_weight must be a number >= 0 or None, got -1"):
        train(data, out, epochs=3, resume=True, mmd_weight=-1.0, **common)


class _Kill(keras.callbacks.Callback):
    """Stands for a SIGKILL: raises at (epoch, batch), after what the epochs before wrote."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise KeyboardInterrupt("killed")


@pytest.mark.parametrize("kill_at", [(1, 1), (2, 3)])
def test_a_run_killed_early_in_an_epoch_resumes_there_and_logs_each_epoch_once(tmp_path, kill_at, monkeypatch):
    import grammarvae.train

    monkeypatch.setattr(grammarvae.train, "BACKUP_EVERY", 4)
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 8))
    out = tmp_path / "m.keras"
    # Keras backs up every 4 batches of 6: the epoch before the kill ended after its last backup.
    common = dict(preset="tiny", batch_size=8, steps_per_epoch=6, val_split=0.1, verbose=0, seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(data, out, epochs=4, callbacks=[_Kill(*kill_at)], **common)
    seen = []

    class Epochs(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(epoch)

    train(data, out, epochs=4, resume=True, callbacks=[Epochs()], **common)
    assert seen == list(range(kill_at[0], 4))  # the killed epoch again, none before it
    rows = (tmp_path / "m.log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2", "3"]


def test_a_run_resumed_from_a_backup_trains_at_the_rate_given_now(tmp_path):
    # The backup holds the optimizer's state, its learning rate among it: lowering the rate
    # at a restart must not be undone by the restore.
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 8))
    out = tmp_path / "m.keras"
    common = dict(preset="tiny", batch_size=8, steps_per_epoch=6, val_split=0.1, verbose=0, seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(data, out, epochs=3, learning_rate=1e-3, callbacks=[_Kill(1, 2)], **common)
    assert (tmp_path / "m.backup").is_dir()
    rates = []

    class Rate(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    train(data, out, epochs=3, learning_rate=2.5e-4, resume=True, callbacks=[Rate()], **common)
    assert rates and rates == pytest.approx([2.5e-4] * len(rates))


def test_export_keeps_the_network_and_drops_the_optimizer(tmp_path):
    from grammarvae.train import export

    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 4))
    out = tmp_path / "m.keras"
    train(data, out, preset="tiny", epochs=1, batch_size=8, val_split=0.1, verbose=0, beta=0.3)
    clean = tmp_path / "clean.keras"
    export(out, clean)
    a, b = GrammarVAE.load(out), GrammarVAE.load(clean)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert b.get_config() == a.get_config()
    assert clean.stat().st_size < out.stat().st_size  # no Adam moments
    z = np.random.default_rng(0).normal(size=(4, a.latent_dim)).astype("float32")
    assert b.decode(z) == a.decode(z)


def test_a_run_started_from_another_models_weights_begins_at_them(tmp_path):
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 4))
    common = dict(batch_size=8, val_split=0.1, verbose=0, epochs=1)
    first = tmp_path / "first.keras"
    train(data, first, preset="tiny", decoder="autoregressive", seed=1, **common)
    start = []

    class Start(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            start.extend(self.model.get_weights())

    # preset and decoder name another network: the one of init_from is used
    train(data, tmp_path / "tuned.keras", preset="small", init_from=first, seed=2, callbacks=[Start()], **common)
    given = GrammarVAE.load(first).get_weights()
    assert len(start) == len(given)
    for a, b in zip(start, given):
        np.testing.assert_array_equal(a, b)
    tuned = GrammarVAE.load(tmp_path / "tuned.keras")
    assert tuned.preset == "tiny" and tuned.autoregressive
    assert any(not np.array_equal(a, b) for a, b in zip(tuned.get_weights(), given))  # and it trained
    with pytest.raises(ValueError, match="start from the weights of .*first.keras or resume this run, not both"):
        train(data, tmp_path / "tuned.keras", init_from=first, resume=True, **common)
    with pytest.raises(ValueError, match="nothing.keras: no such model file"):
        train(data, tmp_path / "other.keras", init_from=tmp_path / "nothing.keras", **common)


def test_a_run_started_from_another_model_trains_with_its_objective_unless_told(tmp_path):
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 4))
    common = dict(batch_size=8, val_split=0.1, verbose=0, epochs=1, steps_per_epoch=2)
    first = tmp_path / "first.keras"
    train(data, first, preset="tiny", beta=0.05, mmd_weight=100.0, mmd_kernel="gaussian", **common)
    seen = []

    class Objective(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append((self.model.beta, self.model.mmd_weight, self.model.mmd_kernel))

    for given, want in [({}, (0.05, 100.0, "gaussian")),
                        (dict(beta=0.5, mmd_weight=0.0), (0.5, None, "gaussian"))]:
        seen.clear()
        train(data, tmp_path / "tuned.keras", init_from=first, callbacks=[Objective()], **given, **common)
        assert seen and all(s == pytest.approx(want) for s in seen), (given, seen)
    seen.clear()  # a new model: beta 1, no MMD term
    train(data, tmp_path / "new.keras", preset="tiny", callbacks=[Objective()], **common)
    assert set(seen) == {(1.0, None, "imq")}


def test_a_model_grown_to_longer_derivations_encodes_and_decodes_as_before():
    small = GrammarVAE(preset="tiny", decoder="autoregressive", max_len=60, seed=3)
    grown = small.with_max_len(90)
    assert grown.max_len == 90 and grown.encoder.input_shape[1:] == small.encoder.input_shape[1:]
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"]
    np.testing.assert_allclose(grown.encode(smiles), small.encode(smiles), atol=1e-6)
    z = small.encode(smiles)
    assert grown.decode(z) == small.decode(z)
    assert small.with_max_len(60) is small
    with pytest.raises(ValueError, match="max_len can only grow: the model reads 60 steps, asked 40"):
        small.with_max_len(40)


def test_bundled_models_are_found_by_name_and_a_wrong_name_is_refused():
    with pytest.raises(ValueError, match="no bundled model named 'chembl'; the bundled models are equations, moses, zinc"):
        GrammarVAE.pretrained("chembl")
    assert GrammarVAE.named("moses").max_len == 160


def test_a_run_started_from_a_grown_model_resumes_from_its_backup_without_naming_its_network(tmp_path):
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 8))
    first = tmp_path / "first.keras"
    GrammarVAE(preset="tiny", decoder="autoregressive", seed=1).save(first)
    out = tmp_path / "grown.keras"
    common = dict(batch_size=8, steps_per_epoch=6, val_split=0.1, verbose=0, seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(data, out, epochs=3, init_from=first, max_len=200, callbacks=[_Kill(1, 2)], **common)
    assert (tmp_path / "grown.backup").is_dir()
    train(data, out, epochs=3, resume=True, **common)  # the default preset and decoder name another network
    model = GrammarVAE.load(out)
    assert (model.preset, model.max_len, model.autoregressive) == ("tiny", 200, True)
    assert [r.split(",")[0] for r in (tmp_path / "grown.log.csv").read_text().split()[1:]] == ["0", "1", "2"]


def test_validation_on_another_file_trains_on_every_row(tmp_path):
    train_smiles = ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 3
    (tmp_path / "train.smi").write_text("\n".join(train_smiles))
    (tmp_path / "valid.smi").write_text("CCCO\nc1ccccc1O\nC1CC\n")  # C1CC cannot be read: not validated on
    seen = {}

    class Batches(keras.callbacks.Callback):
        def on_test_batch_end(self, batch, logs=None):
            seen["val_batches"] = batch + 1

    hist = train(tmp_path / "train.smi", tmp_path / "m.keras", preset="tiny", epochs=1, batch_size=2,
                 val_data=tmp_path / "valid.smi", validation_steps=None, verbose=0, callbacks=[Batches()])
    info = json.loads((tmp_path / "m.train.json").read_text())
    assert info["train_rows"] == 24 and info["val_rows"] == 2  # all of train; the two valid rows that read
    assert seen["val_batches"] == 1 and "val_loss" in hist
    assert (tmp_path / "m.val.data.npy").exists() and not (tmp_path / "m.split.npz").exists()
    with pytest.raises(ValueError, match="nothing.smi: no such file \\(the validation data\\)"):
        train(tmp_path / "train.smi", tmp_path / "m.keras", preset="tiny", val_data=tmp_path / "nothing.smi")


def test_a_run_resumed_or_started_from_a_model_with_a_prior_trains_without_it(tmp_path, capsys):
    # Seen in use: a killed run's checkpoint replaced by the same network with a fitted prior
    # (the bundled file) could not take the run's backup back ("Layer 'prior' expected 2
    # variables"). The bank belongs to the weights it was fitted with: training leaves it out.
    data = tmp_path / "train.smi"
    data.write_text("\n".join(["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O", "CCOC", "CNC", "C1CCCCC1"] * 8))
    out = tmp_path / "m.keras"
    common = dict(preset="tiny", batch_size=8, steps_per_epoch=6, val_split=0.1, verbose=0, seed=0)
    with pytest.raises(KeyboardInterrupt):
        train(data, out, epochs=3, callbacks=[_Kill(1, 2)], **common)
    assert (tmp_path / "m.backup").is_dir()
    GrammarVAE.load(out).with_prior(["CCO", "CCN", "c1ccccc1"], size=3).save(out)
    assert GrammarVAE.load(out).prior is not None
    capsys.readouterr()
    train(data, out, epochs=3, resume=True, **common)
    assert "its fitted prior is left out of training" in capsys.readouterr().err
    resumed = GrammarVAE.load(out)
    assert resumed.prior is None and resumed.default_prior == "normal"
    rows = (tmp_path / "m.log.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]
    # The network is kept whole: without_prior changes nothing else.
    fitted = resumed.with_prior(["CCO", "CCN"], size=2)
    bare = fitted.without_prior()
    assert bare.prior is None and resumed.without_prior() is resumed
    for a, b in zip(bare.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)

"""Nothing lost under faults: files written whole or not at all, one run per output, outputs
that would overwrite an input refused, caches that are checked, a corrupt backup set aside,
SIGTERM and SIGKILL that leave no temporary files or orphan workers, a full disk in one line."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from grammarvae.cli.main import main
from grammarvae.files import OutputBusy, check_distinct, claimed, lock_path, replacing, write_text, writing


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and (".tmp" in p.name or p.name.endswith(".lock")))


# ---------------------------------------------------------------------------- files
def test_a_failed_write_leaves_the_earlier_file_as_it_was(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("earlier\n")
    with pytest.raises(RuntimeError, match="midway"):
        with writing(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("midway")
    assert target.read_text() == "earlier\n"
    assert _leftovers(tmp_path) == []
    write_text(target, "new\n")
    assert target.read_text() == "new\n" and _leftovers(tmp_path) == []


def test_a_written_file_gets_the_permissions_open_would_give(tmp_path):
    write_text(tmp_path / "a.txt", "x")
    (tmp_path / "b.txt").write_text("x")
    assert (tmp_path / "a.txt").stat().st_mode == (tmp_path / "b.txt").stat().st_mode


def test_temporary_names_keep_the_suffixes_keras_and_numpy_read(tmp_path):
    with replacing(tmp_path / "latest.weights.h5") as tmp:
        assert tmp.name.endswith(".weights.h5") and tmp.parent == tmp_path and tmp.exists()
        tmp.write_bytes(b"x")
    with replacing(tmp_path / "a.split.npz") as tmp:
        np.savez(tmp, a=np.arange(3))  # np.savez adds no second suffix
    with np.load(tmp_path / "a.split.npz") as f:
        assert f["a"].tolist() == [0, 1, 2]


def test_links_planted_at_the_old_fixed_temporary_names_are_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "out.smi"
    for name in ("out.smi.part", "out.smi.tmp", "out.tmp.smi", ".out.smi.tmp"):
        (tmp_path / name).symlink_to(victim)
    write_text(out, "CCO\n")
    assert victim.read_text() == "precious\n" and out.read_text() == "CCO\n"


def test_an_output_that_is_a_dangling_link_is_replaced_not_followed(tmp_path):
    link = tmp_path / "out.smi"
    link.symlink_to(tmp_path / "nowhere" / "x.smi")
    write_text(link, "CCO\n")
    assert not link.is_symlink() and link.read_text() == "CCO\n"


def test_a_second_claim_on_an_output_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "z.npy"
    with claimed(out):
        assert lock_path(out).read_text() == str(os.getpid())
        with pytest.raises(OutputBusy, match=rf"z.npy: another run \(process {os.getpid()}\) is writing it"):
            with claimed(out):
                pass
    assert not lock_path(out).exists()
    with claimed(out):  # free again
        pass


def test_a_claim_held_by_another_process_is_refused_and_ends_with_it(tmp_path):
    out = tmp_path / "m.keras"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom grammarvae.files import claimed\n"
                               f"with claimed({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputBusy, match=f"process {holder.pid}"):
            with claimed(out):
                pass
    finally:
        holder.kill()
        holder.wait()
    with claimed(out):  # a killed holder leaves no lock that blocks the next run
        pass


def test_outputs_equal_to_an_input_or_to_each_other_are_refused(tmp_path):
    (tmp_path / "x.csv").write_text("smiles\nCCO\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "x.csv")
    with pytest.raises(ValueError, match=r"^-o .*x.csv: is also the input .*x.csv; write to another file$"):
        check_distinct({"the input": tmp_path / "x.csv"}, {"-o": tmp_path / "x.csv"})
    with pytest.raises(ValueError, match="is also the input"):
        check_distinct({"the input": tmp_path / "link.csv"}, {"-o": str(tmp_path / "sub" / ".." / "x.csv")})
    with pytest.raises(ValueError, match=r"^--errors .*oe.csv: is also -o .*oe.csv"):
        check_distinct({}, {"-o": tmp_path / "oe.csv", "--errors": tmp_path / "oe.csv"})
    check_distinct({"the input": tmp_path / "x.csv"}, {"-o": tmp_path / "y.csv", "--image": None})


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from grammarvae import GrammarVAE

    d = tmp_path_factory.mktemp("faults")
    GrammarVAE(preset="tiny", seed=0).save(d / "tiny.keras")
    return d / "tiny.keras"


@pytest.mark.parametrize("argv, same", [
    (["encode", "{d}/in.csv", "-o", "{d}/in.csv"], "-o {d}/in.csv: is also the input {d}/in.csv"),
    (["encode", "{d}/in.csv", "-o", "{d}/oe.csv", "--errors", "{d}/oe.csv"], "--errors {d}/oe.csv: is also -o {d}/oe.csv"),
    (["decode", "{d}/z.npy", "-o", "{d}/z.npy"], "-o {d}/z.npy: is also the input {d}/z.npy"),
    (["optimize", "{d}/in.csv", "-o", "{d}/in.csv"], "-o {d}/in.csv: is also the input {d}/in.csv"),
    (["sample", "-o", "{d}/s.svg", "--image", "{d}/s.svg"], "--image {d}/s.svg: is also -o {d}/s.svg"),
    (["evaluate", "--test", "{d}/in.csv", "--train", "{d}/m.json", "--json", "{d}/m.json"],
     "--json {d}/m.json: is also --train {d}/m.json"),
])
def test_the_cli_refuses_to_overwrite_its_inputs_before_any_work(tmp_path, tiny, argv, same, capsys):
    (tmp_path / "in.csv").write_text("smiles\nCCO\n")
    (tmp_path / "m.json").write_text("smiles\nCCO\n")
    np.save(tmp_path / "z.npy", np.zeros((2, 8), dtype="float32"))
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code = main([a.format(d=tmp_path) for a in argv] + ["--model", str(tiny)])
    err = capsys.readouterr().err
    assert code == 2 and err.strip() == f"grammarvae {argv[0]}: error: {same.format(d=tmp_path)}; write to another file"
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_encode_refuses_an_output_another_run_is_writing(tmp_path, tiny, capsys):
    (tmp_path / "in.smi").write_text("CCO\n")
    with claimed(tmp_path / "z.npy"):
        code = main(["encode", str(tmp_path / "in.smi"), "-o", str(tmp_path / "z.npy"), "--model", str(tiny)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == (f"grammarvae encode: error: {tmp_path / 'z.npy'}: another run (process {os.getpid()}) "
                                 "is writing it; wait for it to end or choose another output")
    assert not (tmp_path / "z.npy").exists()


# ---------------------------------------------------------------------------- training state
def test_a_stale_or_corrupt_training_cache_is_made_again(tmp_path):
    from grammarvae.data import encode_smiles
    from grammarvae.grammar import Grammar
    from grammarvae.train import prepare

    a, b = tmp_path / "a.smi", tmp_path / "b.smi"
    a.write_text("CCO\nc1ccccc1\nCC(=O)O\n")
    b.write_text("CCN\nCCCC\n")
    out = tmp_path / "m.keras"
    want_a = encode_smiles(a.read_text().split(), 40, Grammar.load("zinc")).X
    X, ok = prepare(a, out, 40)
    assert ok.all() and np.array_equal(X, want_a)
    # a run on b killed after its rows were written but before its key: the key still says a
    data = tmp_path / "m.data.npy"
    np.save(data, np.zeros((3, 40), dtype=np.int16))
    X, ok = prepare(a, out, 40)
    assert np.array_equal(X, want_a), "a cache whose rows do not match its checksum was trusted"
    # a truncated file
    data.write_bytes(data.read_bytes()[:100])
    X, ok = prepare(a, out, 40)
    assert np.array_equal(X, want_a)
    # an unreadable key
    (tmp_path / "m.data.json").write_text("{not json")
    X, ok = prepare(b, out, 40)
    assert np.array_equal(X, encode_smiles(["CCN", "CCCC"], 40, Grammar.load("zinc")).X)
    assert _leftovers(tmp_path) == []


def test_a_failed_new_run_leaves_the_earlier_run_resumable(tmp_path):
    from grammarvae.train import train

    out = tmp_path / "m.keras"
    earlier = {"m.log.csv": b"epoch,loss\n0,1.0\n", "m.split.npz": b"split", "m.backup/latest.weights.h5": b"w"}
    for name, content in earlier.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(content)
    bad = tmp_path / "bad.smi"
    bad.write_text("C1CC\nnot a molecule\n")
    with pytest.raises(ValueError, match="no SMILES in it could be encoded"):
        train(bad, out, preset="tiny", epochs=1)
    assert {name: (tmp_path / name).read_bytes() for name in earlier} == earlier


def test_an_unreadable_backup_is_reported_and_a_good_one_accepted(tmp_path):
    from grammarvae import GrammarVAE
    from grammarvae.train import _usable_backup

    backup = tmp_path / "m.backup"
    backup.mkdir()
    GrammarVAE(preset="tiny", seed=0).save_weights(backup / "latest.weights.h5")
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": 2, "batch": 0}))
    assert _usable_backup(backup) is None
    whole = (backup / "latest.weights.h5").read_bytes()
    (backup / "latest.weights.h5").write_bytes(whole[: len(whole) // 2])  # killed midway through a write
    assert "latest.weights.h5" in _usable_backup(backup) or "truncated" in _usable_backup(backup).lower()
    (backup / "latest.weights.h5").write_bytes(whole)
    (backup / "training_metadata.json").write_text('{"epoch": ')
    assert _usable_backup(backup).startswith("JSONDecodeError")


def test_a_backup_that_fails_midway_leaves_the_last_one_whole(tmp_path):
    import keras

    from grammarvae import GrammarVAE
    from grammarvae.train import _BackupAndRestore

    model = GrammarVAE(preset="tiny", seed=0)
    backup = _BackupAndRestore(str(tmp_path / "b"), save_freq=1)
    backup.set_model(model)
    backup._current_epoch, backup._last_batch_seen = 3, 7
    backup._save_model()
    saved = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}

    def fails_midway(filepath, overwrite=True):
        Path(filepath).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    model.save_weights = fails_midway
    backup._current_epoch = 4
    with pytest.raises(OSError, match="No space"):
        backup._save_model()
    assert {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()} == saved
    assert isinstance(model, keras.Model)


# ---------------------------------------------------------------------------- signals and a full disk
def _cli(args, **kw):
    return subprocess.Popen([sys.executable, "-m", "grammarvae.cli.main", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=tempfile.gettempdir(), **kw)


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return {int(x) for x in out.split()}


def _alive(pids, within: float) -> set[int]:
    end = time.time() + within
    while True:
        alive = {p for p in pids if Path(f"/proc/{p}").exists()
                 and "zombie" not in Path(f"/proc/{p}/status").read_text().lower()}
        if not alive or time.time() > end:
            return alive
        time.sleep(0.2)


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_a_killed_encode_leaves_no_temporary_file_no_worker_and_the_earlier_output(tmp_path, tiny, sig, code):
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OC(=O)c1ccccc1"] * 8000
    (tmp_path / "in.smi").write_text("\n".join(smiles) + "\n")
    out = tmp_path / "z.npy"
    np.save(out, np.ones((1, 8), dtype="float32"))
    earlier = out.read_bytes()
    p = _cli(["encode", str(tmp_path / "in.smi"), "-o", str(out), "--model", str(tiny)])
    end, workers = time.time() + 120, set()
    while time.time() < end and len(workers) < 2:  # the two workers (and the resource tracker) are up
        workers = {c for c in _children(p.pid)}
        time.sleep(0.2)
    time.sleep(3)  # into the encoding
    assert p.poll() is None, p.stderr.read()
    workers = _children(p.pid)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == code, err
    if sig == signal.SIGTERM:
        assert err.strip().splitlines()[-1] == "grammarvae encode: terminated" and "Traceback" not in err
    assert not _alive(workers, within=10), "workers outlived their parent"
    assert out.read_bytes() == earlier
    if sig == signal.SIGTERM:
        assert _leftovers(tmp_path) == []
    else:  # a SIGKILL leaves its temporary file; the next run on the output removes it
        (tmp_path / "two.smi").write_text("CCO\nCCN\n")
        r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", "encode", str(tmp_path / "two.smi"),
                            "-o", str(out), "--model", str(tiny)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert np.load(out).shape == (2, 8) and _leftovers(tmp_path) == []


def test_a_full_disk_is_one_line_and_the_earlier_output_stays(tmp_path, tiny):
    out = tmp_path / "s.smi"
    out.write_text("earlier\n")

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (20, 20))

    p = _cli(["sample", "-n", "30", "-o", str(out), "--model", str(tiny)], preexec_fn=small_files)
    _, err = p.communicate(timeout=300)
    lines = err.strip().splitlines()  # (a progress line first when stderr is not a terminal)
    assert p.returncode == 2 and "Traceback" not in err and len([t for t in lines if "error" in t]) == 1, err
    assert lines[-1].startswith("grammarvae sample: error: File too large"), err
    assert out.read_text() == "earlier\n" and _leftovers(tmp_path) == []


@pytest.fixture
def small_disk(tmp_path):
    """mount(size): a real file system of that size (tmpfs, "256k"), where the test may mount one."""
    mounted = []

    def mount(size: str) -> Path:
        disk = tmp_path / f"disk{len(mounted)}"
        disk.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True,
                           text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({(r.stderr or r.stdout).strip() or 'mount failed'}): "
                        "the full-disk cases run only where the tests may mount one")
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _fill(disk: Path, leave: int) -> Path:
    """Fill the disk until at most `leave` bytes are free; the filler's path."""
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize > leave:
                f.write(b"\0" * 4096)
                f.flush()
        except OSError:
            pass
    return filler


@pytest.mark.parametrize("command", ["sample", "encode", "decode"])
def test_a_real_full_disk_is_one_line_and_the_earlier_output_stays(small_disk, tmp_path, tiny, command):
    disk = small_disk("256k")
    (tmp_path / "in.smi").write_text("\n".join(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"] * 2000) + "\n")
    np.save(tmp_path / "z.npy", np.random.default_rng(0).normal(size=(3000, 8)).astype("float32"))
    out = disk / ("z.npy" if command == "encode" else "out.smi")
    earlier = b"\x93NUMPY earlier" if command == "encode" else b"earlier\n"
    out.write_bytes(earlier)
    _fill(disk, leave=8192)
    args = {"sample": ["sample", "-n", "3000"], "encode": ["encode", str(tmp_path / "in.smi")],
            "decode": ["decode", str(tmp_path / "z.npy")]}[command]
    p = _cli([*args, "-o", str(out), "--model", str(tiny)])
    _, err = p.communicate(timeout=300)
    lines = err.strip().splitlines()
    assert p.returncode == 2 and "Traceback" not in err, err
    assert lines[-1].startswith(f"grammarvae {command}: error: No space left on device"), err
    assert out.read_bytes() == earlier and _leftovers(disk) == []


def test_train_on_a_full_disk_stops_in_one_line_and_resumes_once_there_is_room(small_disk, tmp_path):
    """The checkpoint, log and backup of a run on a disk that fills up: the earlier epoch's files
    stay whole, and the run resumes from them when space is freed."""
    disk = small_disk("2m")
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OC(=O)c1ccccc1", "CNC"]
    (tmp_path / "in.smi").write_text("\n".join(smiles * 10) + "\n")
    first = tmp_path / "first"
    first.mkdir()
    args = ["--preset", "tiny", "--steps-per-epoch", "2", "--batch-size", "8"]
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", "train", str(tmp_path / "in.smi"), "-o",
                        str(first / "m.keras"), "--epochs", "1", *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    size = sum(f.stat().st_size for f in first.rglob("*") if f.is_file())
    assert size < 1_000_000, f"the tiny run's files take {size} bytes: make the disk larger"
    shutil.copytree(first, disk, dirs_exist_ok=True)  # the run so far, moved onto the small disk
    before = {f.relative_to(disk): f.read_bytes() for f in disk.rglob("*") if f.is_file()}
    filler = _fill(disk, leave=4096)
    resume = [sys.executable, "-m", "grammarvae.cli.main", "train", str(tmp_path / "in.smi"), "-o",
              str(disk / "m.keras"), "--epochs", "2", "--resume", *args]
    r = subprocess.run(resume, capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir())
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert "No space left on device" in r.stderr.strip().splitlines()[-1], r.stderr[-2000:]
    after = {f.relative_to(disk): f.read_bytes() for f in disk.rglob("*") if f.is_file() and f != filler}
    assert after == before, sorted(set(after) ^ set(before))
    filler.unlink()
    r = subprocess.run(resume, capture_output=True, text=True, timeout=300, cwd=tempfile.gettempdir())
    assert r.returncode == 0, r.stderr[-3000:]
    rows = (disk / "m.log.csv").read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == [0, 1], rows
    assert _leftovers(disk) == []


def test_a_second_train_on_one_output_is_refused(tmp_path):
    from grammarvae.train import train

    (tmp_path / "in.smi").write_text("CCO\nCCN\n")
    with claimed(tmp_path / "m.keras"):
        with pytest.raises(OutputBusy, match="m.keras: another run"):
            train(tmp_path / "in.smi", tmp_path / "m.keras", preset="tiny", epochs=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.smi"]


def test_train_killed_with_sigkill_resumes_from_its_last_epoch(tmp_path):
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OC(=O)c1ccccc1", "CCOC(=O)C", "CNC", "CC#N"]
    (tmp_path / "in.smi").write_text("\n".join(smiles * 25) + "\n")
    out, log = tmp_path / "m.keras", tmp_path / "m.log.csv"
    args = ["train", str(tmp_path / "in.smi"), "-o", str(out), "--preset", "tiny", "--epochs", "40",
            "--steps-per-epoch", "5", "--batch-size", "8"]
    p = _cli(args)
    end = time.time() + 300
    while time.time() < end and (not log.exists() or len(log.read_text().splitlines()) < 3) and p.poll() is None:
        time.sleep(0.1)
    assert p.poll() is None, p.communicate()[1][-2000:]
    p.kill()  # SIGKILL, wherever it is: between epochs, in a checkpoint, in a backup
    p.communicate()
    logged = len(log.read_text().splitlines()) - 1
    assert logged >= 2
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", *args[:-6], "--epochs", str(logged + 1),
                        "--steps-per-epoch", "5", "--batch-size", "8", "--resume"],
                       capture_output=True, text=True, cwd=tempfile.gettempdir(), timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    rows = log.read_text().splitlines()[1:]
    assert [int(row.split(",")[0]) for row in rows] == list(range(logged + 1)), rows  # no epoch lost or doubled
    from grammarvae import GrammarVAE

    GrammarVAE.load(out)
    assert _leftovers(tmp_path) == []


# ---------------------------------------------------------------------------- the library refuses bad shapes
@pytest.fixture(scope="module")
def tiny_model(tiny):
    from grammarvae import GrammarVAE

    return GrammarVAE.load(tiny)


@pytest.mark.parametrize("shape", [(4, 14), (8, 2), (2, 2, 8), (7,)])
def test_latents_of_another_shape_are_refused_not_reshaped(tiny_model, shape):
    with pytest.raises(ValueError, match=rf"latent points must be \(8,\) or \(n, 8\) for this model, got shape \({shape[0]},"):
        tiny_model.decode(np.zeros(shape, dtype="float32"))


def test_one_point_decodes_as_one_row(tiny_model):
    z = np.random.default_rng(0).standard_normal(8).astype("float32")
    assert tiny_model.decode(z) == tiny_model.decode(z[None])


def test_bad_batch_sizes_and_production_ids_are_refused(tiny_model):
    with pytest.raises(ValueError, match="batch_size must be at least 1, got -1"):
        tiny_model.encode(["CCO"], batch_size=-1)
    X = tiny_model.to_ids(["CCO"])
    X[0, 0] = -1
    with pytest.raises(ValueError, match=r"production ids must be in \[0, 76\), got -1"):
        tiny_model.encode_ids(X)


def test_a_sampling_temperature_near_zero_decodes_as_greedy(tiny_model):
    z = np.random.default_rng(1).standard_normal((40, 8)).astype("float32")
    assert tiny_model.decode(z, greedy=False, temperature=1e-45, seed=3) == tiny_model.decode(z)


def test_a_beam_wider_than_the_allowed_choices_keeps_to_them(tiny_model):
    from rdkit import Chem

    z = np.random.default_rng(2).standard_normal((2, 8)).astype("float32")
    wide = tiny_model.decode(z, beam_width=300)  # the first steps allow one or two productions
    assert all(Chem.MolFromSmiles(s) is not None for s in wide)
    narrow = tiny_model.decode(z, beam_width=2)
    assert all(Chem.MolFromSmiles(s) is not None for s in narrow)


def test_a_model_config_naming_a_file_as_its_grammar_is_refused(tiny_model):
    from grammarvae import GrammarVAE

    config = {**tiny_model.get_config(), "grammar": "/etc/passwd"}
    del config["grammar_text"]
    with pytest.raises(ValueError, match=r"no grammar named '/etc/passwd': a shipped grammar's name has no folder") as e:
        GrammarVAE.from_config(config)
    assert "root" not in str(e.value)
    config["grammar"] = "zinc"
    assert GrammarVAE.from_config(config).grammar.n_productions == tiny_model.grammar.n_productions


def test_non_ascii_smiles_are_refused_naming_the_character(tiny_model):
    from grammarvae.errors import GrammarError

    with pytest.raises(GrammarError, match=r"non-ASCII character 'С' \(U\+0421; SMILES are ASCII\)"):
        tiny_model.encode(["ССССO"])  # Cyrillic Es: RDKit alone reads this as O
    res = tiny_model.encode_checked(["CCO", "ССССO", "CCN"])
    assert np.isfinite(res.Z).all(1).tolist() == [True, False, True]
    assert [(i, why) for i, _, why in res.errors] == [(1, "non-ASCII character 'С' (U+0421; SMILES are ASCII)")]


def test_a_model_archive_that_inflates_past_the_limit_is_refused_before_loading(tmp_path, tiny, monkeypatch):
    import zipfile

    from grammarvae import GrammarVAE
    from grammarvae.models import gvae

    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(tiny) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("padding.bin", b"\0" * (64 << 20))  # 64 MB of zeros: 64 kB in the archive
    assert bomb.stat().st_size < 2 * tiny.stat().st_size + (1 << 20)
    monkeypatch.setattr(gvae, "MAX_MODEL_BYTES", 32 << 20)
    with pytest.raises(ValueError, match=r"bomb.keras: unpacks to 0.1 GB, more than a grammarvae model's 0.0 GB"):
        GrammarVAE.load(bomb)
    assert GrammarVAE.load(tiny).latent_dim == 8


def test_a_bad_molecule_in_a_list_is_named_by_its_index_and_place():
    from grammarvae.errors import GrammarError
    from grammarvae.grammar import Grammar

    with pytest.raises(GrammarError, match=r"^smiles\[2\] \(the 3rd\): SMILES 'C1CC': ring bond 1 is opened"):
        Grammar.load("zinc").encode(["CCO", "CCN", "C1CC", "C1CC"])
    with pytest.raises(GrammarError, match=r"^SMILES 'C1CC': ring bond 1"):  # one molecule: no index
        Grammar.load("zinc").encode(["C1CC"])


def test_samples_written_a_chunk_at_a_time_are_the_samples_of_one_call(tiny_model):
    z = np.random.default_rng(3).standard_normal((1100, 8)).astype("float32")
    # what sample(1100, seed=3) decoded at once (prior samples avoid the model's default ring sizes)
    whole = tiny_model.decode(z, greedy=False, seed=3, avoid_rings=tiny_model.default_avoid_rings)
    parts = list(tiny_model.sample_chunks(1100, seed=3, greedy=False, chunk=1024))
    assert [len(p) for p in parts] == [1024, 76] and [s for p in parts for s in p] == whole
    with pytest.raises(ValueError, match="chunk must be a multiple of 1024, got 1000"):
        next(tiny_model.sample_chunks(10, chunk=1000))


def test_a_prior_sample_of_any_size_streams_to_its_output(tiny, tmp_path, capsys):
    out = tmp_path / "s.smi"
    assert main(["sample", "-n", "300", "--seed", "1", "-o", str(out), "--model", str(tiny)]) == 0
    from grammarvae import GrammarVAE

    assert out.read_text().splitlines() == GrammarVAE.load(tiny).sample(300, seed=1)
    assert "wrote 300 lines" in capsys.readouterr().err and _leftovers(tmp_path) == []


@pytest.mark.parametrize("args, said", [
    (["parse", "CCO"], "standard output is closed, and this command's results go there"),
    (["evaluate", "--test", "{tmp}/in.smi"], "standard output is closed: name a file to write with --json"),
    (["sample", "-n", "3"], "standard output is closed: name a file to write with -o"),
])
def test_a_closed_stdout_is_refused_before_any_work_where_results_would_go_there(tmp_path, args, said):
    (tmp_path / "in.smi").write_text("CCO\n")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", *argv], stderr=subprocess.PIPE, text=True,
                       preexec_fn=lambda: os.close(1), cwd=tempfile.gettempdir(), timeout=120)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == f"grammarvae {args[0]}: error: {said}", r.stderr
    assert "tensorflow" not in r.stderr.lower()  # refused before the model, let alone TensorFlow, was loaded


def test_with_stdout_closed_evaluate_still_writes_its_json(tmp_path, tiny):
    (tmp_path / "in.smi").write_text("CCO\nCCN\n")
    r = subprocess.run([sys.executable, "-m", "grammarvae.cli.main", "evaluate", "--test", str(tmp_path / "in.smi"),
                        "-n", "4", "--json", str(tmp_path / "m.json"), "--model", str(tiny)], stderr=subprocess.PIPE,
                       text=True, preexec_fn=lambda: os.close(1), cwd=tempfile.gettempdir(), timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / "m.json").read_text())["samples"] == 4


def test_a_cached_input_read_by_another_grammar_or_language_is_read_again(tmp_path):
    from grammarvae.grammar import Grammar
    from grammarvae.train import prepare

    a = tmp_path / "a.txt"
    a.write_text("CCO\nx+1\n")
    out = tmp_path / "m.keras"
    _, ok = prepare(a, out, 15)
    assert ok.tolist() == [True, False]  # as SMILES: x+1 is none
    _, ok = prepare(a, out, 15, grammar=Grammar.load("equations"), language="plain")
    assert ok.tolist() == [False, True]  # as expressions: CCO is none
    _, ok = prepare(a, out, 15)
    assert ok.tolist() == [True, False]

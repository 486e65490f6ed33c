"""Writing files so that nothing is lost: every output is written whole under a fresh name and
renamed over its target; a run that writes an output holds a lock on it.

    >>> with replacing("out/model.keras") as tmp:      # a fresh name beside the target
    ...     model.save(tmp)                            # renamed over the target on success,
    >>> with writing("out/proposals.csv") as fh:       # removed on any error (the target
    ...     fh.write("iteration,smiles\\n")             # keeps what it held)
    >>> with claimed("out/latents.npy"):               # OutputBusy if another run holds it
    ...     ...

Temporary names come from `tempfile.mkstemp` (a new file, created exclusively: a link
planted at a predictable name is never followed). They start with ``.`` and hold ``.tmp``,
so a folder listing shows what they are, and keep the target's suffix, which Keras and
numpy look at.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator, Mapping

TEMP_MARK = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_MODE = 0o666 & ~_umask()  # what open() would have given a new file


class OutputBusy(RuntimeError):
    """Another run is writing this output now."""


def temporary_beside(target: str | Path) -> Path:
    """A new, empty file in `target`'s folder, under a fresh name ending in `target`'s
    suffixes (``.weights.h5``, ``.keras``: what Keras and numpy read the kind of file from)."""
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_MARK + "".join(target.suffixes),
                                dir=target.parent if str(target.parent) else ".")
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def replacing(target: str | Path) -> Iterator[Path]:
    """A fresh temporary path beside `target` for the block to write; renamed over `target`
    when the block ends without error (its contents flushed to disk first), removed when it
    raises, so that `target` holds either what it held before or the whole new file. A
    target that is a symbolic link is replaced by the file, not followed."""
    target = Path(target)
    tmp = temporary_beside(target)
    try:
        yield tmp
        if tmp.exists():  # a writer that insists on its own suffix (np.save) may add one
            _sync(tmp)
            os.chmod(tmp, _MODE)
            os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def writing(target: str | Path, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """An open file to write `target` through `replacing` (text, utf-8, by default)."""
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    with replacing(target) as tmp, open(tmp, mode, **open_kwargs) as fh:
        yield fh


def write_text(target: str | Path, text: str) -> None:
    """`target` holds `text` (utf-8), written whole and renamed."""
    with writing(target, newline="") as fh:
        fh.write(text)


def remove_temporaries(folder: str | Path, name: str) -> None:
    """Remove the temporary files a killed run left beside `folder/name`."""
    for p in Path(folder).glob(f".{name}.*{TEMP_MARK}*"):
        with contextlib.suppress(OSError):
            p.unlink()


def lock_path(target: str | Path) -> Path:
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


@contextlib.contextmanager
def claimed(target: str | Path) -> Iterator[None]:
    """Hold the lock on `target` for the block (an advisory lock, `fcntl.flock`, on a hidden
    file beside it); OutputBusy naming the process that holds it otherwise. The lock goes
    with the process: a killed run leaves none behind that blocks the next."""
    path = lock_path(target)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise OutputBusy(f"{target}: another run (process {holder or 'unknown'}) is writing it; "
                             "wait for it to end or choose another output") from None
        try:  # the file may have been removed by the holder that just let go: lock the one there
            same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)


def _identity(path: str | Path) -> str:
    """What a path names once links and `..` are resolved (the path itself where it does not
    exist yet: its folder resolved)."""
    p = Path(path)
    return os.path.realpath(p) if p.exists() or p.is_symlink() else os.path.join(os.path.realpath(p.parent), p.name)


def check_distinct(inputs: Mapping[str, str | Path | None], outputs: Mapping[str, str | Path | None]) -> None:
    """ValueError if an output names the same file as an input or as another output, each
    named as the user gave it (``inputs={"the input": "x.csv"}, outputs={"-o": "x.csv"}``:
    "-o x.csv: is also the input x.csv"); None entries are skipped."""
    seen: dict[str, str] = {}
    for what, path in inputs.items():
        if path and str(path) != "-":
            seen.setdefault(_identity(path), f"{what} {path}")
    for what, path in outputs.items():
        if not path:
            continue
        key = _identity(path)
        if key in seen:
            raise ValueError(f"{what} {path}: is also {seen[key]}; write to another file")
        seen[key] = f"{what} {path}"

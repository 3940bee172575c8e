"""The one place where callbacks write files: atomic writes, and the main-process gate.

A kill at any moment leaves either the previous file or the new one, never a torn file:
each write goes to a temporary file in the same directory (same filesystem, so the rename
is atomic), is flushed and fsynced, then `os.replace`d over the target, and the directory
entry is fsynced. Under data-parallel training only the main process writes;
`set_main_process_fn` lets `fitorch.distributed` connect that gate to rank 0.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator

__all__ = [
    "atomic_path",
    "atomic_write",
    "check_dir_target",
    "check_file_target",
    "ensure_parent",
    "is_main_process",
    "remove_stale_temps",
    "remove_tree",
    "set_main_process_fn",
]

_main_process_fn: Callable[[], bool] | None = None


def set_main_process_fn(fn: Callable[[], bool] | None) -> None:
    """Install the predicate `is_main_process` uses (None: every process is main)."""
    global _main_process_fn
    _main_process_fn = fn


def is_main_process() -> bool:
    """Whether this process writes files (True unless a distributed hook says otherwise)."""
    return True if _main_process_fn is None else bool(_main_process_fn())


def ensure_parent(path: str | os.PathLike) -> str:
    """Create the directory that will hold `path`; returns `path` as a string."""
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    return path


def _check_creatable(directory: str, what: str) -> None:
    """The nearest existing ancestor of `directory` (itself included) is a writable directory,
    so that `directory` can be created and written in; nothing is created here."""
    probe = os.path.abspath(directory)
    while not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise ValueError(
            f"{what}: cannot create {directory!r}: {probe!r} exists and is a file, not a directory."
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ValueError(
            f"{what}: the directory {probe!r} is not writable (needed for {directory!r})."
        )


def check_file_target(path: str | os.PathLike, what: str) -> None:
    """Before training: `path` can be written as a file (its parent can be created and is
    writable, and `path` is not a directory). ValueError naming `what` and the path."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path!r} is an existing directory; a file name is needed.")
    _check_creatable(os.path.dirname(path), what)


def check_dir_target(path: str | os.PathLike, what: str) -> None:
    """Before training: `path` is, or can be created as, a writable directory."""
    path = os.path.abspath(os.fspath(path))
    if os.path.lexists(path) and not os.path.isdir(path):
        raise ValueError(f"{what}: {path!r} is an existing file; a directory is needed.")
    _check_creatable(path, what)


def _fsync_file(path: str) -> None:
    if os.path.isdir(path):  # a writer produced a directory (e.g. a sharded save)
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: str) -> None:
    with contextlib.suppress(OSError):  # not every platform/filesystem allows it
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside `path` (same suffix); on success, publish it atomically.

    The body writes the temporary file any way it likes (e.g. `model.save_weights(tmp)`,
    which picks the format from the suffix). On exit the file is fsynced and renamed over
    `path`; if the body raises, the temporary file is removed and `path` is untouched.
    """
    path = ensure_parent(path)
    directory, name = os.path.split(os.path.abspath(path))
    # Keep the full name as suffix so writers that look at the extension
    # (".weights.h5", ".keras", ".weight") see the same one.
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="-" + name, dir=directory)
    os.close(fd)
    os.unlink(tmp)  # writers that refuse to overwrite get a free name
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_dir(directory)
    finally:
        if os.path.lexists(tmp):
            if os.path.isdir(tmp):
                remove_tree(tmp)
            else:
                os.unlink(tmp)


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write `data` (text is UTF-8 encoded) to `path` atomically."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()


def remove_tree(path: str | os.PathLike) -> None:
    """Delete a file or a directory tree if it exists."""
    import shutil

    path = os.fspath(path)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def remove_stale_temps(path: str | os.PathLike) -> None:
    """Delete temporary files that an interrupted `atomic_path(path)` left behind."""
    directory, name = os.path.split(os.path.abspath(os.fspath(path)))
    if not os.path.isdir(directory):
        return
    for entry in os.listdir(directory):
        if entry.startswith(".tmp-") and entry.endswith("-" + name):
            remove_tree(os.path.join(directory, entry))

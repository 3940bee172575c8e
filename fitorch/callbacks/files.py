"""The one place where callbacks write files: atomic writes, and the main-process gate.

A kill at any moment leaves either the previous file or the new one, never a torn file:
each write goes to a temporary file in the same directory (same filesystem, so the rename
is atomic), is flushed and fsynced, then `os.replace`d over the target, and the directory
entry is fsynced. Temporary files are named `.fitorch-tmp-<pid>-<random>-<target name>`:
one left by a killed writer (its process no longer runs, or it is this process's own pid
reused after a restart) is removed by the next write of the same target and by the callback
that owns it at `on_train_begin`; files of other programs and of live writers are left
alone. Under data-parallel training only the main process writes;
`set_main_process_fn` lets `fitorch.distributed` connect that gate to rank 0.
"""

from __future__ import annotations

import contextlib
import os
import re
import string
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
    "remove_stale_template_temps",
    "remove_tree",
    "set_main_process_fn",
]

_main_process_fn: Callable[[], bool] | None = None
_TEMP_PREFIX = ".fitorch-tmp-"


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
    `path`; if the body raises, the temporary file is removed and `path` is untouched (an
    OSError with an errno, e.g. ENOSPC, is raised again naming `path`).
    """
    path = ensure_parent(path)
    remove_stale_temps(path)
    directory, name = os.path.split(os.path.abspath(path))
    # Keep the full name as suffix so writers that look at the extension
    # (".weights.h5", ".keras", ".weight") see the same one.
    prefix = f"{_TEMP_PREFIX}{os.getpid()}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix="-" + name, dir=directory)
    os.close(fd)
    os.unlink(tmp)  # writers that refuse to overwrite get a free name
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
        _fsync_dir(directory)
    except OSError as e:  # a full disk, a quota: name the target, not the temporary file
        if e.errno is None:
            raise
        message = f"could not write {path!r} ({e.strerror}); the file there is unchanged"
        raise OSError(e.errno, message) from e
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


def _writer_is_gone(entry: str) -> bool:
    """Whether the process that made the temporary file `entry` no longer writes it."""
    pid_text = entry[len(_TEMP_PREFIX) :].split("-", 1)[0]
    if not pid_text.isdigit():
        return False  # not named by atomic_path: not ours
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # this process is not writing it now: a killed earlier run with our pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False


def _stale_entries(directory: str, matches: Callable[[str], bool]) -> list[str]:
    if not os.path.isdir(directory):
        return []
    return [
        os.path.join(directory, e)
        for e in os.listdir(directory)
        if e.startswith(_TEMP_PREFIX) and matches(e) and _writer_is_gone(e)
    ]


def remove_stale_temps(path: str | os.PathLike) -> None:
    """Delete temporary files that a killed `atomic_path(path)` left behind."""
    directory, name = os.path.split(os.path.abspath(os.fspath(path)))
    for entry in _stale_entries(directory, lambda e: e.endswith("-" + name)):
        remove_tree(entry)


def remove_stale_template_temps(template: str) -> None:
    """Delete stale temporary files of every name a `str.format` template can produce in
    its (unformatted) directory, e.g. `ck/w-{epoch:02d}.keras` -> `ck/.fitorch-tmp-*-w-*.keras`."""
    directory, name = os.path.split(os.path.abspath(template))
    if "{" in directory:
        return  # the directory itself varies: nothing fixed to scan
    pattern = "".join(
        re.escape(text) + (".+" if field is not None else "")
        for text, field, _, _ in string.Formatter().parse(name)
    )
    regex = re.compile(rf"{re.escape(_TEMP_PREFIX)}\d+-[^-]+-{pattern}")
    for entry in _stale_entries(directory, lambda e: regex.fullmatch(e) is not None):
        remove_tree(entry)

"""Atomic file writes and validated reading of `.keras` zip archives.

Every write goes to a temporary file in the destination's directory, is flushed and fsynced,
then `os.replace`d over the destination: a crash or an exception mid-save leaves the previous
file intact and no partial file behind.

`read_archive` checks every member before reading any: names (no absolute paths, no `..`,
no backslashes or drive letters, no duplicates), no symlinks, declared sizes under the caps and a
plausible compression ratio (zip bombs are refused by their declared size, so memory stays
bounded), and reads each member with a limit of its declared size.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile

from fitorch.callbacks import files

__all__ = [
    "atomic_write",
    "write_archive",
    "read_archive",
    "parse_json",
    "Limits",
    "ZIP_MAGIC",
    "HDF5_MAGIC",
    "sniff",
]

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class Limits:
    """Caps applied when reading an archive (bytes). Adjust the class attributes if needed."""

    json_member = 64 * 2**20  # config.json, metadata.json, optimizer.json
    weights_member = 64 * 2**30  # one weights or optimizer-state member
    total = 128 * 2**30  # all members together
    max_ratio = 200  # uncompressed / compressed, for members above 1 MiB
    max_members = 10_000
    json_depth = 100  # nested lists/objects in a JSON member (Keras configs use ~20)


def sniff(path) -> str:
    """'zip', 'hdf5' or 'other' from the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head == HDF5_MAGIC:
        return "hdf5"
    return "other"


def atomic_write(path, write) -> None:
    """Call `write(fileobj)` on a temp file next to `path`, fsync, then `os.replace` it.

    The one atomic-write routine of fitorch (`fitorch.callbacks.files.atomic_path`) does the
    publishing; under data-parallel training only the main process writes.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot save to {path!r}: the folder {folder!r} does not exist.")
    if not files.is_main_process():
        return
    with files.atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)
        f.flush()


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    """One archive member (JSON compressed; tensors stored, they barely compress)."""
    method = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
    zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=method)


def write_archive(path, members: dict[str, bytes]) -> None:
    """Atomically write a zip holding `members` (name -> bytes), in the given order."""

    def write(f):
        with zipfile.ZipFile(f, "w") as zf:
            for name, data in members.items():
                _write_member(zf, name, data)

    atomic_write(path, write)


def _check_name(name: str, where: str) -> None:
    parts = name.replace("\\", "/").split("/")
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or "\x00" in name
        or ".." in parts
        or (len(name) > 1 and name[1] == ":")
    ):
        raise ValueError(
            f"{where}: archive member {name!r} has an unsafe path (absolute or with '..'); "
            "refusing the file."
        )


def _member_cap(name: str, limits) -> int:
    return limits.json_member if name.endswith(".json") else limits.weights_member


def read_archive(path, wanted=None, limits=Limits) -> dict[str, bytes]:
    """Validate every member, then return name -> bytes of the members in `wanted` (all if None)."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{os.fspath(path)!r} is not a valid zip archive: {err}") from err
    where = repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else "the archive"
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise ValueError(
                f"{where}: the archive has {len(infos)} members (limit {limits.max_members})."
            )
        seen, total = set(), 0
        for info in infos:
            _check_name(info.filename, where)
            member = f"{where}: archive member {info.filename!r}"
            if info.filename in seen:
                raise ValueError(f"{member} appears twice; refusing the file.")
            seen.add(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ValueError(f"{member} is a symbolic link; refusing the file.")
            cap = _member_cap(info.filename, limits)
            if info.file_size > cap:
                raise ValueError(
                    f"{member} declares {info.file_size} bytes, over the "
                    f"limit of {cap} (fitorch.saving.archive.Limits); refusing before reading it."
                )
            if info.file_size > 2**20 and info.file_size > limits.max_ratio * max(
                1, info.compress_size
            ):
                raise ValueError(
                    f"{member} expands {info.compress_size} bytes to "
                    f"{info.file_size} (ratio over {limits.max_ratio}): a zip bomb; refusing it."
                )
            total += info.file_size
        if total > limits.total:
            raise ValueError(
                f"{where}: the archive members total {total} bytes, over the limit {limits.total}."
            )
        out = {}
        for info in infos:
            if wanted is not None and info.filename not in wanted:
                continue
            member = f"{where}: archive member {info.filename!r}"
            try:
                with zf.open(info) as f:
                    data = f.read(info.file_size + 1)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as err:
                raise ValueError(
                    f"{where}: archive member {info.filename!r} cannot be read: {err}"
                ) from err
            if len(data) != info.file_size:
                raise ValueError(f"{member} holds {len(data)} bytes but declares {info.file_size}.")
            out[info.filename] = data
        return out


def parse_json(data: bytes, name: str):
    """JSON object from `data`; ValueError naming the member when malformed or nested deeper
    than `Limits.json_depth` (so that deserializing it can never hit RecursionError)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{name} is not valid JSON: {err}") from err
    if not isinstance(value, dict):
        raise ValueError(f"{name} must hold a JSON object; got {type(value).__name__}.")
    depth = json_depth(value)
    if depth > Limits.json_depth:
        raise ValueError(
            f"{name} is nested too deeply: {depth} levels of lists/objects, over the limit of "
            f"{Limits.json_depth} (archive.Limits.json_depth); the file is corrupt or hostile."
        )
    return value


def json_depth(value) -> int:
    """Levels of nested lists/dicts in a parsed JSON value, counted without recursion (not
    fitorch.tree, which recurses: a hostile file must not exhaust the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def to_bytes(write) -> bytes:
    """Bytes written by `write(fileobj)` into memory (used for HDF5 members)."""
    buf = io.BytesIO()
    write(buf)
    return buf.getvalue()

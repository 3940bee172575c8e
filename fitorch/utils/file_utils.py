"""`get_file`: download once into the Keras cache (`$KERAS_HOME` or `~/.keras`), verify, reuse."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request


def _hash_file(path: str, algorithm: str) -> str:
    digest = hashlib.sha256() if algorithm == "sha256" else hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _algorithm(file_hash: str, hash_algorithm: str) -> str:
    if hash_algorithm in ("sha256", "md5"):
        return hash_algorithm
    if hash_algorithm == "auto":
        return "sha256" if len(file_hash) == 64 else "md5"
    raise ValueError(f"hash_algorithm must be 'auto', 'sha256' or 'md5', got {hash_algorithm!r}")


def cache_root(cache_dir: str | None = None) -> str:
    """`cache_dir`, else `$KERAS_HOME`, else `~/.keras` (Keras's cache root)."""
    if cache_dir is not None:
        return os.path.expanduser(cache_dir)
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def get_file(
    fname: str | None = None,
    origin: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    cache_dir: str | None = None,
    force_download: bool = False,
) -> str:
    """Path of `cache_root/cache_subdir/fname`, downloading `origin` first when absent, when
    `force_download`, or when the cached file's hash differs from `file_hash` (md5 or sha256).

    Downloads go to a temporary file in the same folder and are renamed into place only after
    the hash matches, so an interrupted or corrupt download never becomes the cached file.
    (Archive extraction is not implemented yet.)
    """
    if not origin:
        raise ValueError(f"origin must be a URL, got {origin!r}")
    fname = fname or os.path.basename(origin.split("?")[0])
    if not fname or os.path.basename(fname) != fname:
        raise ValueError(f"fname must be a plain file name, got {fname!r}")
    folder = os.path.join(cache_root(cache_dir), cache_subdir)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, fname)
    algo = _algorithm(file_hash, hash_algorithm) if file_hash else None
    if os.path.exists(path) and not force_download:
        if algo is None or _hash_file(path, algo) == file_hash:
            return path
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{fname}.", suffix=".part")
    os.close(fd)
    try:
        try:
            urllib.request.urlretrieve(origin, tmp)
        except Exception as err:
            raise OSError(f"download of {origin} to {path} failed: {err}") from err
        if algo is not None and _hash_file(tmp, algo) != file_hash:
            raise ValueError(
                f"the file downloaded from {origin} has {algo} {_hash_file(tmp, algo)}, "
                f"expected file_hash {file_hash}; the cache {path} is left unchanged"
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path

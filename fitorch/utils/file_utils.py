"""`get_file`: download once into the Keras cache (`$KERAS_HOME` or `~/.keras`), verify, reuse,
and optionally extract a tar or zip archive inside the cache folder. A download prints
`Downloading data from <url>` and a `Progbar` of the bytes received, as Keras 3."""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from fitorch.utils.progbar import Progbar

# A download whose hash differs is fetched once more before giving up (a truncated transfer is
# the usual cause); a second mismatch means the published file or the hash is wrong.
DOWNLOAD_ATTEMPTS = 2
_OPENERS = {"tar": (tarfile.is_tarfile, tarfile.open), "zip": (zipfile.is_zipfile, zipfile.ZipFile)}
_ARCHIVE_FORMATS = tuple(_OPENERS)


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


def _targets(fname: str, folder: str, extract: bool, named: bool) -> tuple[str, str | None]:
    """(download path, extraction folder) with Keras 3's names, so Keras's caches are reused:
    `x.tar.gz` -> `x.tar.gz` + `x_extracted/`; a dotless `x` -> `x_archive` + `x/`."""
    if not extract:
        return os.path.join(folder, fname), None
    if named and "." in fname:
        stem = fname[: fname.find(".")]
        return os.path.join(folder, fname), os.path.join(folder, stem + "_extracted")
    return os.path.join(folder, fname + "_archive"), os.path.join(folder, fname)


class _DownloadBar:
    """`urlretrieve`'s report hook drawing Keras's download bar: a `Progbar` over the
    `Content-Length` bytes (unknown target without one), moved to `blocks * block_size` after
    each 8 KiB block and to the total once when that is reached."""

    def __init__(self):
        self.bar, self.finished = None, False

    def __call__(self, blocks: int, block_size: int, total: int) -> None:
        total = None if total == -1 else total
        if self.bar is None:
            self.bar = Progbar(total)
        current = blocks * block_size
        if total is None or current < total:
            self.bar.update(current)
        elif not self.finished:
            self.bar.update(total)
            self.finished = True


def _download(origin: str, path: str, file_hash: str | None, algo: str | None) -> None:
    """Fetch `origin` to a temporary file beside `path`, check the hash, rename into place."""
    folder, name = os.path.split(path)
    print(f"Downloading data from {origin}", flush=True)
    for _ in range(DOWNLOAD_ATTEMPTS):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        os.close(fd)
        try:
            try:
                urllib.request.urlretrieve(origin, tmp, _DownloadBar())
            except (urllib.error.URLError, OSError) as err:
                raise OSError(
                    f"download of {origin} to the cache file {path} failed: {err}"
                ) from err
            got = _hash_file(tmp, algo) if algo else None
            if got == file_hash:
                os.replace(tmp, path)
                return
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    raise ValueError(
        f"the file downloaded from {origin} has {algo} {got} in {DOWNLOAD_ATTEMPTS} attempts, "
        f"expected file_hash {file_hash}; the cache file {path} is left unchanged"
    )


def _inside(root: str, name: str) -> bool:
    target = os.path.realpath(os.path.join(root, name))
    return os.path.commonpath([root, target]) == root


def _safe_members(archive, root: str) -> list:
    """Members whose paths (and link targets) stay inside `root`; anything else is an error."""
    if isinstance(archive, zipfile.ZipFile):
        members, names = archive.infolist(), [m.filename for m in archive.infolist()]
    else:
        members = archive.getmembers()
        names = [m.name for m in members]
        for m in members:
            if m.issym() or m.islnk():
                base = os.path.dirname(m.name) if m.issym() else ""
                names.append(os.path.join(base, m.linkname))
    bad = [n for n in names if os.path.isabs(n) or not _inside(root, n)]
    if bad:
        raise ValueError(f"the archive would write outside its folder {root}: {bad[:3]}")
    return members


def extract_archive(file_path: str, path: str = ".", archive_format="auto") -> bool:
    """Extract a tar (any compression) or zip file into `path`; False when it is neither.

    Every member must resolve inside `path` (no absolute names, no `..`, no links leaving it),
    else ValueError and nothing is written. A failed extraction removes the partial folder.
    """
    formats = _ARCHIVE_FORMATS if archive_format == "auto" else archive_format
    formats = [formats] if isinstance(formats, str) else list(formats or ())
    unknown = [f for f in formats if f not in _ARCHIVE_FORMATS]
    if unknown:
        raise ValueError(f"archive_format must be 'auto', 'tar', 'zip' or a list, got {unknown}")
    root = os.path.realpath(path)
    for fmt in formats:
        is_fmt, opener = _OPENERS[fmt]
        if not is_fmt(file_path):
            continue
        with opener(file_path) as archive:
            members = _safe_members(archive, root)
            try:
                # tar's "data" filter also refuses device files and odd modes (Python >= 3.10.12)
                data_filter = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                archive.extractall(root, members=members, **(data_filter if fmt == "tar" else {}))
            except BaseException:
                shutil.rmtree(root, ignore_errors=True)
                raise
        return True
    return False


def get_file(
    fname: str | None = None,
    origin: str | None = None,
    untar: bool = False,
    md5_hash: str | None = None,
    file_hash: str | None = None,
    cache_subdir: str = "datasets",
    hash_algorithm: str = "auto",
    extract: bool = False,
    archive_format="auto",
    cache_dir: str | None = None,
    force_download: bool = False,
) -> str:
    """Path of `cache_root/cache_subdir/fname`, downloading `origin` first when absent, when
    `force_download`, or when the cached file's hash differs from `file_hash` (md5 or sha256).

    Downloads go to a temporary file in the same folder and are renamed into place only after
    the hash matches (one retry on a mismatch), so an interrupted or corrupt download never
    becomes the cached file. With `extract=True` (or `untar=True`) the archive is unpacked and
    the extraction folder is returned (Keras 3's names: `x.tar.gz` -> `x_extracted`, a dotless
    `x` -> `x`); it is unpacked again after each download or when the folder is missing.
    """
    if not origin:
        raise ValueError(f"origin must be a URL, got {origin!r}")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    named = bool(fname)
    fname = os.fspath(fname) if fname else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not fname or os.path.basename(fname) != fname or fname in (".", ".."):
        raise ValueError(
            f"fname must be a plain file name (folders go in cache_dir), got {fname!r}"
        )
    folder = os.path.join(cache_root(cache_dir), cache_subdir)
    os.makedirs(folder, exist_ok=True)
    extract = extract or untar
    path, extracted = _targets(fname, folder, extract, named)
    algo = _algorithm(file_hash, hash_algorithm) if file_hash else None
    fresh = force_download or not os.path.exists(path)
    if not fresh and algo is not None and _hash_file(path, algo) != file_hash:
        fresh = True  # stale or corrupt cache: fetch again
    if fresh:
        _download(origin, path, file_hash, algo)
    if extracted is None:
        return path
    if fresh or not os.path.isdir(extracted):
        if not extract_archive(path, extracted, "tar" if untar else archive_format):
            raise ValueError(
                f"the file {path} downloaded from {origin} is not a tar or zip archive "
                f"(archive_format={archive_format!r}), so it cannot be extracted"
            )
    return extracted

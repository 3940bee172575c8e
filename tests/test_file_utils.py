"""get_file against a local HTTP server on 127.0.0.1 (its download messages against Keras 3's
get_file on the same server)."""

import hashlib
import os
import re

import pytest
from _http_server import serve

from fitorch.utils import get_file


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    with serve(root) as url:
        yield root, url


def test_download_hash_cache_hit_and_bad_hash(server, tmp_path, monkeypatch):
    root, url = server
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    (root / "a.bin").write_bytes(b"hello")
    sha = hashlib.sha256(b"hello").hexdigest()
    path = get_file("a.bin", f"{url}/a.bin", file_hash=sha)
    assert path == str(tmp_path / "home" / "datasets" / "a.bin")
    assert open(path, "rb").read() == b"hello"
    (root / "a.bin").write_bytes(b"changed")  # cache hit: no new download
    assert open(get_file("a.bin", f"{url}/a.bin", file_hash=sha), "rb").read() == b"hello"
    md5 = hashlib.md5(b"changed").hexdigest()  # stale cache: hash differs -> download again
    assert open(get_file("a.bin", f"{url}/a.bin", file_hash=md5), "rb").read() == b"changed"
    with pytest.raises(ValueError, match="expected file_hash"):
        get_file("a.bin", f"{url}/a.bin", file_hash="0" * 64)
    assert open(path, "rb").read() == b"changed"  # cache left as it was
    assert [p.name for p in (tmp_path / "home" / "datasets").iterdir()] == ["a.bin"]
    with pytest.raises(OSError, match="missing.bin"):
        get_file("missing.bin", f"{url}/missing.bin")
    with pytest.raises(ValueError, match="fname"):
        get_file("../x", f"{url}/a.bin")


def test_mnist_load_data_from_local_server(server, tmp_path, monkeypatch):
    import numpy as np

    import fitorch
    from fitorch.datasets import mnist

    root, url = server
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    arrays = {
        "x_train": np.arange(2 * 28 * 28, dtype="uint8").reshape(2, 28, 28),
        "y_train": np.array([3, 1], "uint8"),
        "x_test": np.zeros((1, 28, 28), "uint8"),
        "y_test": np.array([7], "uint8"),
    }
    np.savez(root / "mnist.npz", **arrays)
    monkeypatch.setattr(mnist, "ORIGIN", f"{url}/mnist.npz")
    digest = hashlib.sha256((root / "mnist.npz").read_bytes()).hexdigest()
    monkeypatch.setattr(mnist, "FILE_HASH", digest)
    (x, y), (xt, yt) = fitorch.datasets.mnist.load_data()
    for got, name in [(x, "x_train"), (y, "y_train"), (xt, "x_test"), (yt, "y_test")]:
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])
    assert (tmp_path / "home" / "datasets" / "mnist.npz").exists()


def _tar(path, files, links=()):
    """A .tar.gz holding `files` {name: bytes} and symlinks `links` [(name, target)]."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in links:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)


def test_extract_tar_and_zip_with_keras_cache_names(server, tmp_path, monkeypatch):
    import zipfile

    root, url = server
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    cache = tmp_path / "home" / "datasets"
    _tar(root / "pack.tar.gz", {"pack/a.txt": b"A", "pack/sub/b.txt": b"B"})
    # a dotted fname keeps its name and unpacks into <stem>_extracted (Keras 3)
    out = get_file("pack.tar.gz", f"{url}/pack.tar.gz", extract=True)
    assert out == str(cache / "pack_extracted")
    assert (cache / "pack.tar.gz").is_file()
    assert (cache / "pack_extracted" / "pack" / "sub" / "b.txt").read_bytes() == b"B"
    # a dotless fname is the folder; the archive is stored as <fname>_archive
    out = get_file("target", f"{url}/pack.tar.gz", extract=True)
    assert out == str(cache / "target") and (cache / "target_archive").is_file()
    assert (cache / "target" / "pack" / "a.txt").read_bytes() == b"A"
    with zipfile.ZipFile(root / "z.zip", "w") as z:
        z.writestr("in/z.txt", "zipped")
    out = get_file(origin=f"{url}/z.zip", extract=True)  # name from the URL: folder "z.zip"
    assert (tmp_path / "home" / "datasets" / "z.zip" / "in" / "z.txt").read_text() == "zipped"
    # untar=True (Keras 2 spelling) and an extraction folder removed by hand is rebuilt
    import shutil

    shutil.rmtree(cache / "target")
    get_file("target", f"{url}/pack.tar.gz", untar=True)
    assert (cache / "target" / "pack" / "a.txt").read_bytes() == b"A"


@pytest.mark.parametrize(
    "files, links",
    [
        ({"../evil.txt": b"x"}, ()),
        ({"/tmp/abs_evil.txt": b"x"}, ()),
        ({"ok.txt": b"x"}, [("link", "../../../outside")]),
    ],
)
def test_extraction_never_writes_outside_the_cache(server, tmp_path, monkeypatch, files, links):
    root, url = server
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    _tar(root / "bad.tar.gz", files, links)
    with pytest.raises(ValueError, match="outside its folder"):
        get_file("bad.tar.gz", f"{url}/bad.tar.gz", extract=True)
    assert not (tmp_path / "home" / "evil.txt").exists()
    assert not (tmp_path / "home" / "datasets" / "bad_extracted").exists()


def test_bad_archive_and_no_network_errors_name_url_and_cache(server, tmp_path, monkeypatch):
    root, url = server
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    (root / "plain.tar.gz").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match=r"plain\.tar\.gz.*not a tar or zip") as err:
        get_file("plain.tar.gz", f"{url}/plain.tar.gz", extract=True)
    assert f"{url}/plain.tar.gz" in str(err.value)
    dead = "http://127.0.0.1:9/x.bin"  # discard port: connection refused
    with pytest.raises(OSError) as err:
        get_file("x.bin", dead)
    message = str(err.value)
    assert dead in message and str(tmp_path / "home" / "datasets" / "x.bin") in message
    assert list((tmp_path / "home" / "datasets").glob(".x.bin*")) == []  # no temp file left
    with pytest.raises(ValueError, match="archive_format"):
        get_file("plain.tar.gz", f"{url}/plain.tar.gz", extract=True, archive_format="rar")


def test_bad_hash_download_is_retried_once(tmp_path, monkeypatch):
    import http.server

    good = b"payload"
    served = []

    class Flaky(http.server.BaseHTTPRequestHandler):
        def __init__(self, *args, directory=None):
            super().__init__(*args)

        def do_GET(self):  # first response corrupt, later ones correct
            body = b"corrupt" if not served else good
            served.append(body)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    with serve(tmp_path, Flaky) as url:
        path = get_file("f.bin", f"{url}/f.bin", md5_hash=hashlib.md5(good).hexdigest())
        assert open(path, "rb").read() == good and served == [b"corrupt", good]
        with pytest.raises(ValueError, match="in 2 attempts"):  # a hash nothing served matches
            get_file("g.bin", f"{url}/g.bin", file_hash="1" * 32, hash_algorithm="md5")
        assert len(served) == 4 and not (tmp_path / "home" / "datasets" / "g.bin").exists()


def _counters(text):
    """The `current/target` counters a progress bar printed, whatever its redraw style."""
    return re.findall(r"(\d+)/(\d+|Unknown)", re.sub(r"\x1b\[[0-9;]*m", "", text))


def test_download_prints_keras_message_and_byte_progress_bar(server, tmp_path, capsys):
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    root, url = server
    (root / "f.bin").write_bytes(bytes(20000))  # three 8 KiB blocks
    outputs = {}
    for name, fetch in [("keras", keras.utils.get_file), ("fitorch", get_file)]:
        (tmp_path / name).mkdir()  # Keras falls back to /tmp/.keras for a missing cache_dir
        fetch("f.bin", f"{url}/f.bin", cache_dir=str(tmp_path / name))
        outputs[name] = capsys.readouterr().out
    for out in outputs.values():
        assert out.startswith(f"Downloading data from {url}/f.bin\n")
        counters = _counters(out)
        # the hook reports 0 on connection, then each block (redraws at most every 50 ms),
        # and the total once it is reached
        assert counters[0] == ("0", "20000") and counters[-1] == ("20000", "20000")
        assert {int(c) for c, _ in counters} <= {0, 8192, 16384, 20000}
    # a cached file is not downloaded again: nothing printed
    get_file("f.bin", f"{url}/f.bin", cache_dir=str(tmp_path / "fitorch"))
    assert capsys.readouterr().out == ""


def test_download_without_content_length_has_an_unknown_target(tmp_path, capsys):
    import http.server

    class NoLength(http.server.BaseHTTPRequestHandler):
        def __init__(self, *args, directory=None):
            super().__init__(*args)

        def do_GET(self):  # HTTP/1.0 without Content-Length: the body ends at the close
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 10000)

    with serve(tmp_path, NoLength) as url:
        path = get_file("n.bin", f"{url}/n.bin", cache_dir=str(tmp_path / "cache"))
    assert open(path, "rb").read() == b"x" * 10000
    counters = _counters(capsys.readouterr().out)
    assert counters[0] == ("0", "Unknown") and all(t == "Unknown" for _, t in counters)

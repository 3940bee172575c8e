"""get_file against a local HTTP server on 127.0.0.1."""

import functools
import hashlib
import http.server
import threading

import pytest

from fitorch.utils import get_file


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join(timeout=5)


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

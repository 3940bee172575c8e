"""fitorch.datasets against a local HTTP server serving small files in the real formats, each
loader's arrays compared with Keras 3's own loader reading the same files."""

import gzip
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from _http_server import serve

import fitorch
from fitorch.utils import get_file


@pytest.fixture
def site(tmp_path, monkeypatch):
    """(folder served, base URL); KERAS_HOME is a fresh cache."""
    root = tmp_path / "srv"
    root.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    with serve(root) as url:
        yield root, url


def _point(monkeypatch, module, url, root, fname, origin="ORIGIN", hash_name="FILE_HASH"):
    """Make `module` download `fname` from the local server with its real sha256."""
    monkeypatch.setattr(module, origin, f"{url}/{fname}")
    digest = hashlib.sha256((root / fname).read_bytes()).hexdigest()
    monkeypatch.setattr(module, hash_name, digest)


def _keras(monkeypatch, name, url):
    """Keras 3's `keras.datasets.<name>` whose get_file reads the same local server."""
    import importlib

    module = importlib.import_module(f"keras.src.datasets.{name}")

    def local(*args, origin, file_hash=None, **kwargs):
        return get_file(*args, origin=f"{url}/{os.path.basename(origin)}", **kwargs)

    monkeypatch.setattr(module, "get_file", local)
    return module


def _assert_same(ours, theirs):
    for a, b in zip(ours, theirs, strict=True):
        for x, y in zip(a, b, strict=True):
            assert x.dtype == y.dtype and x.shape == y.shape
            if x.dtype == object:
                assert [list(s) for s in x] == [list(s) for s in y]
            else:
                np.testing.assert_array_equal(x, y)


def _ragged(rng, n, vocab=30):
    seqs = np.empty(n, dtype=object)
    seqs[:] = [
        [int(w) for w in rng.integers(1, vocab, size=int(k))] for k in rng.integers(2, 12, size=n)
    ]
    return seqs


def test_imdb_equals_keras_for_its_arguments(site, monkeypatch):
    root, url = site
    rng = np.random.default_rng(0)
    np.savez(
        root / "imdb.npz",
        x_train=_ragged(rng, 20),
        y_train=rng.integers(0, 2, 20),
        x_test=_ragged(rng, 12),
        y_test=rng.integers(0, 2, 12),
    )
    _point(monkeypatch, fitorch.datasets.imdb, url, root, "imdb.npz")
    keras_imdb = _keras(monkeypatch, "imdb", url)
    for kwargs in [
        {},
        {"num_words": 15, "skip_top": 5},
        {"maxlen": 8, "seed": 3},
        {"start_char": None, "oov_char": None, "index_from": 0, "num_words": 20},
    ]:
        ours = fitorch.datasets.imdb.load_data(**kwargs)
        _assert_same(ours, keras_imdb.load_data(**kwargs))
    (x, y), _ = fitorch.datasets.imdb.load_data(num_words=10)
    assert x.shape == (20,) and all(s[0] == 1 and max(s) < 10 for s in x)
    with pytest.raises(ValueError, match="maxlen=2"):
        fitorch.datasets.imdb.load_data(maxlen=2)
    with pytest.raises(TypeError, match="nb_words"):
        fitorch.datasets.imdb.load_data(nb_words=3)


def test_imdb_and_reuters_word_index(site, monkeypatch):
    import json

    root, url = site
    (root / "imdb_word_index.json").write_text(json.dumps({"the": 1, "movie": 2}))
    (root / "reuters_word_index.json").write_text(json.dumps({"said": 1}))
    mods = [(fitorch.datasets.imdb, "imdb"), (fitorch.datasets.reuters, "reuters")]
    for module, name in mods:
        monkeypatch.setattr(module, "WORD_INDEX_ORIGIN", f"{url}/{name}_word_index.json")
        digest = hashlib.md5((root / f"{name}_word_index.json").read_bytes()).hexdigest()
        monkeypatch.setattr(module, "WORD_INDEX_HASH", digest)
    assert fitorch.datasets.imdb.get_word_index() == {"the": 1, "movie": 2}
    assert fitorch.datasets.reuters.get_word_index() == {"said": 1}
    names = fitorch.datasets.reuters.get_label_names()
    assert len(names) == 46 and names[3] == "earn" and names[-1] == "lead"


def test_reuters_equals_keras(site, monkeypatch):
    root, url = site
    rng = np.random.default_rng(1)
    np.savez(root / "reuters.npz", x=_ragged(rng, 25), y=rng.integers(0, 46, 25))
    _point(monkeypatch, fitorch.datasets.reuters, url, root, "reuters.npz")
    keras_reuters = _keras(monkeypatch, "reuters", url)
    for kwargs in [{}, {"test_split": 0.4, "num_words": 12, "maxlen": 10, "seed": 7}]:
        ours = fitorch.datasets.reuters.load_data(**kwargs)
        _assert_same(ours, keras_reuters.load_data(**kwargs))
    (x, _), (xt, _) = fitorch.datasets.reuters.load_data(test_split=0.4)
    assert (len(x), len(xt)) == (15, 10)


def test_object_arrays_are_read_without_running_code(site, monkeypatch):
    root, url = site

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo hacked > hacked.txt",))

    bad = np.empty(2, dtype=object)
    bad[:] = [Boom(), [1, 2]]
    np.savez(root / "reuters.npz", x=bad, y=np.array([0, 1]))
    _point(monkeypatch, fitorch.datasets.reuters, url, root, "reuters.npz")
    with pytest.raises(pickle.UnpicklingError, match="only NumPy arrays"):
        fitorch.datasets.reuters.load_data()
    assert not os.path.exists("hacked.txt")


@pytest.mark.parametrize(
    "name, rows, features", [("boston_housing", 30, 13), ("california_housing", 700, 8)]
)
def test_housing_equals_keras(site, monkeypatch, name, rows, features):
    root, url = site
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(rows, features)), rng.uniform(5, 50, size=rows)
    np.savez(root / f"{name}.npz", x=x, y=y)
    module = getattr(fitorch.datasets, name)
    _point(monkeypatch, module, url, root, f"{name}.npz")
    keras_module = _keras(monkeypatch, name, url)
    cases = [{}, {"test_split": 0.5, "seed": 1}]
    if name == "california_housing":
        cases.append({"version": "small"})
    for kwargs in cases:
        _assert_same(module.load_data(**kwargs), keras_module.load_data(**kwargs))
    (xtr, _), (xte, _) = module.load_data(test_split=0.1)
    assert len(xtr) == int(rows * 0.9) and len(xtr) + len(xte) == rows
    with pytest.raises(ValueError, match="test_split"):
        module.load_data(test_split=1.0)


def test_california_small_keeps_the_first_600_rows(site, monkeypatch):
    root, url = site
    x = np.arange(700 * 8, dtype="float64").reshape(700, 8)
    np.savez(root / "california_housing.npz", x=x, y=np.arange(700.0))
    _point(monkeypatch, fitorch.datasets.california_housing, url, root, "california_housing.npz")
    (xtr, ytr), (xte, yte) = fitorch.datasets.california_housing.load_data(version="small")
    assert sorted(np.concatenate([ytr, yte])) == list(range(600)) and len(xtr) == 480
    np.testing.assert_array_equal(xtr[:, 0], ytr * 8)  # rows stay with their targets
    with pytest.raises(ValueError, match="version"):
        fitorch.datasets.california_housing.load_data(version="tiny")


def _idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files(site, monkeypatch):
    root, url = site
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 256, (5, 28, 28)), rng.integers(0, 10, 5)
    xt, yt = rng.integers(0, 256, (2, 28, 28)), rng.integers(0, 10, 2)
    _idx(root / "train-labels-idx1-ubyte.gz", y, 2049)
    _idx(root / "train-images-idx3-ubyte.gz", x, 2051)
    _idx(root / "t10k-labels-idx1-ubyte.gz", yt, 2049)
    _idx(root / "t10k-images-idx3-ubyte.gz", xt, 2051)
    monkeypatch.setattr(fitorch.datasets.fashion_mnist, "BASE", f"{url}/")
    ours = fitorch.datasets.fashion_mnist.load_data()
    _assert_same(
        ours, ((x.astype("uint8"), y.astype("uint8")), (xt.astype("uint8"), yt.astype("uint8")))
    )
    _assert_same(ours, _keras(monkeypatch, "fashion_mnist", url).load_data())
    assert (
        site[0].parent / "home" / "datasets" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    ).exists()


def _cifar_tar(path, top, batches):
    """A tar.gz of python pickles {b'data': (n, 3072) uint8, b'<key>': list} as published.

    The published files are Python 2 pickles (byte strings as BINSTRING); protocol 4 stores
    bytes as BINBYTES, which reads back the same way (protocol 2 from Python 3 would name
    `_codecs.encode`, a global no dataset file holds)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, batch in batches.items():
            data = pickle.dumps({k.encode(): v for k, v in batch.items()}, protocol=4)
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_cifar10_equals_keras(site, monkeypatch):
    root, url = site
    rng = np.random.default_rng(4)
    batches = {
        name: {"data": rng.integers(0, 256, (3, 3072)).astype("uint8"), "labels": [1, 9, 4]}
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    }
    _cifar_tar(root / "cifar-10-python.tar.gz", "cifar-10-batches-py", batches)
    _point(monkeypatch, fitorch.datasets.cifar10, url, root, "cifar-10-python.tar.gz")
    (x, y), (xt, yt) = fitorch.datasets.cifar10.load_data()
    assert x.shape == (15, 32, 32, 3) and y.shape == (15, 1) and y.dtype == np.uint8
    np.testing.assert_array_equal(
        x[3], batches["data_batch_2"]["data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    )
    # Keras's cifar10.load_data assumes 10,000 images per batch; its batch reader is the oracle
    from keras.src.datasets.cifar import load_batch

    folder = get_file("cifar-10-batches-py-target", "unused://", extract=True)
    parts = [load_batch(f"{folder}/cifar-10-batches-py/data_batch_{i}") for i in range(1, 6)]
    expected_x = np.concatenate([p[0] for p in parts]).transpose(0, 2, 3, 1)
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y[:, 0], np.concatenate([p[1] for p in parts]))
    keras_test = load_batch(f"{folder}/cifar-10-batches-py/test_batch")
    np.testing.assert_array_equal(xt, keras_test[0].transpose(0, 2, 3, 1))
    assert xt.dtype == yt.dtype == np.uint8 and yt.shape == (3, 1)
    cache = site[0].parent / "home" / "datasets"
    assert sorted(p.name for p in cache.iterdir()) == [
        "cifar-10-batches-py-target",
        "cifar-10-batches-py-target_archive",
    ]


def test_cifar100_label_modes_equal_keras(site, monkeypatch):
    root, url = site
    rng = np.random.default_rng(5)
    batches = {
        name: {
            "data": rng.integers(0, 256, (4, 3072)).astype("uint8"),
            "fine_labels": [int(v) for v in rng.integers(0, 100, 4)],
            "coarse_labels": [int(v) for v in rng.integers(0, 20, 4)],
        }
        for name in ("train", "test")
    }
    _cifar_tar(root / "cifar-100-python.tar.gz", "cifar-100-python", batches)
    _point(monkeypatch, fitorch.datasets.cifar100, url, root, "cifar-100-python.tar.gz")
    keras_cifar100 = _keras(monkeypatch, "cifar100", url)
    for mode in ("fine", "coarse"):
        ours = fitorch.datasets.cifar100.load_data(label_mode=mode)
        np.testing.assert_array_equal(ours[0][1][:, 0], batches["train"][f"{mode}_labels"])
        _assert_same(ours, keras_cifar100.load_data(label_mode=mode))
    with pytest.raises(ValueError, match="label_mode"):
        fitorch.datasets.cifar100.load_data(label_mode="medium")


def test_cifar_channels_first_layout(site, monkeypatch):
    root, url = site
    batch = {
        "data": np.arange(3072, dtype="uint8").reshape(1, 3072),
        "fine_labels": [7],
        "coarse_labels": [1],
    }
    _cifar_tar(
        root / "cifar-100-python.tar.gz", "cifar-100-python", {"train": batch, "test": batch}
    )
    _point(monkeypatch, fitorch.datasets.cifar100, url, root, "cifar-100-python.tar.gz")
    fitorch.backend.set_image_data_format("channels_first")
    try:
        (x, _), _ = fitorch.datasets.cifar100.load_data()
    finally:
        fitorch.backend.set_image_data_format("channels_last")
    np.testing.assert_array_equal(x[0], batch["data"][0].reshape(3, 32, 32))

"""CSVLogger (exact bytes, Keras 3 as oracle), TensorBoard (event files read back with
tensorboard's EventAccumulator) and RemoteMonitor (a local HTTP server)."""

import http.server
import json
import threading
import types
import urllib.parse

import numpy as np
import pytest

import fitorch
from fitorch import layers
from fitorch.callbacks import CSVLogger, RemoteMonitor, TensorBoard

keras = pytest.importorskip("keras")


def _run_logger(cls, path, epochs_logs, **kwargs):
    cb = cls(str(path), **kwargs)
    cb.set_model(types.SimpleNamespace(stop_training=False))
    cb.on_train_begin()
    for epoch, logs in enumerate(epochs_logs):
        cb.on_epoch_end(epoch, dict(logs))
    cb.on_train_end()
    return path.read_bytes()


CSV_CASES = [
    ([{"loss": 0.5, "acc": 0.25, "val_loss": 0.75, "val_acc": 0.125}] * 2, {}),
    ([{"loss": 0.6931471805599453, "learning_rate": 0.01}], {}),  # no val_: NA columns
    ([{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.5}], {"separator": ";"}),
    ([{"loss": 1.0, "per_class": [0.5, 0.25]}], {}),
]


@pytest.mark.parametrize("epochs_logs, kwargs", CSV_CASES)
def test_csv_logger_bytes_match_keras(tmp_path, epochs_logs, kwargs):
    ours = _run_logger(CSVLogger, tmp_path / "ours.csv", epochs_logs, **kwargs)
    theirs = _run_logger(keras.callbacks.CSVLogger, tmp_path / "keras.csv", epochs_logs, **kwargs)
    assert ours == theirs


def test_csv_logger_exact_content_and_append(tmp_path):
    path = tmp_path / "log.csv"
    _run_logger(CSVLogger, path, [{"loss": 0.5, "val_loss": 0.25}])
    assert path.read_bytes() == b"epoch,loss,val_loss\r\n0,0.5,0.25\r\n"
    _run_logger(CSVLogger, path, [{"loss": 0.125, "val_loss": 1.0}], append=True)
    assert path.read_bytes() == b"epoch,loss,val_loss\r\n0,0.5,0.25\r\n0,0.125,1.0\r\n"
    _run_logger(CSVLogger, path, [{"loss": 2.0}])  # overwrite: NA for the missing val_ key
    assert path.read_bytes() == b"epoch,loss,val_loss\r\n0,2.0,NA\r\n"


def test_csv_logger_in_fit_matches_history(tmp_path):
    model = _model()
    x, y = _data()
    path = tmp_path / "sub" / "fit.csv"
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0,
                        callbacks=[CSVLogger(path)])  # fmt: skip
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,mae,val_loss,val_mae"
    for epoch, line in enumerate(lines[1:]):
        h = history.history
        assert line == f"{epoch},{h['loss'][epoch]},{h['mae'][epoch]},{h['val_loss'][epoch]}," \
                       f"{h['val_mae'][epoch]}"  # fmt: skip


# -- TensorBoard ------------------------------------------------------------------------------
def _model():
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Dense(4, activation="relu", input_shape=(3,)),
                                layers.Dense(1)])  # fmt: skip
    model.compile(fitorch.optimizers.SGD(0.05), "mse", metrics=["mae"])
    return model


def _data(n=32):
    rng = np.random.default_rng(0)
    return rng.random((n, 3), dtype=np.float32), rng.random((n, 1), dtype=np.float32)


def _events(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_tensorboard_epoch_scalars_histograms_graph(tmp_path):
    model = _model()
    x, y = _data()
    tb = TensorBoard(tmp_path, histogram_freq=2, write_grads=True, write_images=True,
                     write_steps_per_second=True)  # fmt: skip
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[tb])  # fmt: skip
    h = history.history
    train, val = _events(tmp_path / "train"), _events(tmp_path / "validation")
    f32 = np.float32
    assert _scalars(train, "epoch_loss") == [(e, f32(v)) for e, v in enumerate(h["loss"])]
    assert _scalars(train, "epoch_mae") == [(e, f32(v)) for e, v in enumerate(h["mae"])]
    assert _scalars(train, "epoch_learning_rate") == [(e, f32(0.05)) for e in range(3)]
    assert _scalars(val, "epoch_loss") == [(e, f32(v)) for e, v in enumerate(h["val_loss"])]
    # 24 training samples, batch 8: 3 updates per epoch.
    assert _scalars(val, "evaluation_mae_vs_iterations") == [
        (3 * (e + 1), f32(v)) for e, v in enumerate(h["val_mae"])
    ]
    assert all(v > 0 for _, v in _scalars(train, "epoch_steps_per_second"))
    tags = train.Tags()
    assert "batch_loss" not in tags["scalars"]  # update_freq="epoch"
    names = [n.replace(".", "/") for n, _ in model.named_parameters()]
    assert set(tags["histograms"]) == set(names) | {f"{n}_grad" for n in names}
    assert [e.step for e in train.Histograms(names[0])] == [0, 2]  # histogram_freq=2
    hist = train.Histograms(names[0])[-1].histogram_value
    weights = dict(model.named_parameters())[names[0].replace("/", ".")].detach().numpy()
    assert hist.num == weights.size and np.isclose(hist.sum, weights.sum(), rtol=1e-5)
    assert len(tags["images"]) == len(names)
    assert tags["graph"]
    graph = train.Graph()
    nodes = {n.name: n for n in graph.node}
    first, second = (f"{model.name}/{layer.name}" for layer in model.layers)
    assert nodes[second].op == "Dense" and list(nodes[second].input) == [first]


@pytest.mark.parametrize("update_freq, expected_steps", [("batch", [1, 2, 3, 4, 5, 6]),
                                                         (4, [4])])  # fmt: skip
def test_tensorboard_batch_scalars(tmp_path, update_freq, expected_steps):
    model = _model()
    x, y = _data(24)
    seen = []

    class Record(fitorch.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs["loss"])

    model.fit(x, y, batch_size=8, epochs=2, verbose=0,
              callbacks=[Record(), TensorBoard(tmp_path, update_freq=update_freq)])  # fmt: skip
    batch_loss = _scalars(_events(tmp_path / "train"), "batch_loss")
    assert [s for s, _ in batch_loss] == expected_steps
    assert [v for _, v in batch_loss] == [np.float32(seen[s - 1]) for s in expected_steps]


def test_tensorboard_embeddings_keras2_arguments(tmp_path):
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([layers.Embedding(5, 3, input_length=2, name="emb"),
                                layers.Flatten(), layers.Dense(1)])  # fmt: skip
    model.compile("sgd", "mse")
    meta = tmp_path / "meta.tsv"
    meta.write_text("a\nb\nc\nd\ne\n")
    tb = TensorBoard(log_dir=str(tmp_path / "logs"), histogram_freq=0, batch_size=32,
                     write_graph=True, write_grads=False, write_images=False, embeddings_freq=1,
                     embeddings_layer_names=["emb"], embeddings_metadata={"emb": str(meta)},
                     embeddings_data=None, update_freq="epoch")  # fmt: skip
    x = np.array([[0, 1], [2, 3], [4, 0]])
    model.fit(x, np.zeros((3, 1), "float32"), epochs=1, verbose=0, callbacks=[tb])
    config = (tmp_path / "logs" / "train" / "projector_config.pbtxt").read_text()
    assert 'tensor_name: "emb:00000"' in config
    tensors = tmp_path / "logs" / "train" / "00000" / "emb" / "tensors.tsv"
    values = np.loadtxt(tensors, delimiter="\t")
    np.testing.assert_allclose(values, model.layers[0].embeddings.detach().numpy(), rtol=1e-6)
    labels = (tmp_path / "logs" / "train" / "00000" / "emb" / "metadata.tsv").read_text()
    assert labels.split() == ["a", "b", "c", "d", "e"]


def test_tensorboard_bad_update_freq():
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard(update_freq="sometimes")


# -- RemoteMonitor ----------------------------------------------------------------------------
class _Server:
    def __init__(self):
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                received.append((self.path, self.headers["Content-Type"], body,
                                 self.headers.get("X-Token")))  # fmt: skip
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("send_as_json", [True, False])
def test_remote_monitor_posts_epoch_logs(send_as_json):
    server = _Server()
    try:
        model = _model()
        x, y = _data()
        monitor = RemoteMonitor(root=server.root, path="/publish/epoch/end/", field="payload",
                                headers={"X-Token": "t"}, send_as_json=send_as_json)  # fmt: skip
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[monitor])
    finally:
        server.close()
    assert len(server.received) == 2
    for epoch, (path, ctype, body, token) in enumerate(server.received):
        assert path == "/publish/epoch/end/" and token == "t"
        if send_as_json:
            assert ctype == "application/json"
            sent = json.loads(body)
        else:
            assert ctype == "application/x-www-form-urlencoded"
            sent = json.loads(urllib.parse.parse_qs(body)["payload"][0])
        assert sent == {"epoch": epoch, "loss": history.history["loss"][epoch],
                        "mae": history.history["mae"][epoch]}  # fmt: skip


def test_remote_monitor_unreachable_warns():
    monitor = RemoteMonitor(root="http://127.0.0.1:9", timeout=2)
    monitor.set_model(types.SimpleNamespace(stop_training=False))
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor root server at http"):
        monitor.on_epoch_end(0, {"loss": 1.0})


def test_tensorboard_graph_of_a_functional_model():
    from fitorch.callbacks.tensorboard import _layer_graph

    a, b = fitorch.Input((3,), name="a"), fitorch.Input((2,), name="b")
    h = layers.Dense(4, name="d1")(a)
    out = layers.Dense(1, name="out")(layers.Concatenate(name="cat")([h, b]))
    graph, _ = _layer_graph(fitorch.Model([a, b], out, name="f"))
    edges = {n.name: (n.op, list(n.input)) for n in graph.node}
    assert edges == {"f/a": ("InputLayer", []), "f/b": ("InputLayer", []),
                     "f/d1": ("Dense", ["f/a"]), "f/cat": ("Concatenate", ["f/d1", "f/b"]),
                     "f/out": ("Dense", ["f/cat"])}  # fmt: skip


def test_vector_log_values_show_their_mean_and_survive_a_backup(tmp_path):
    import torch

    from fitorch.callbacks import History
    from fitorch.callbacks.progbar import format_value

    assert format_value(np.array([0.5, 1.0], np.float32)) == "0.7500"  # Keras: np.mean
    history = History()
    history.on_epoch_end(0, {"f1_score": np.array([0.25, 0.5], np.float32), "loss": 1.0})
    torch.save(history.state(), tmp_path / "state.pt")
    restored = History()
    restored.load_state(torch.load(tmp_path / "state.pt", weights_only=True))
    (value,) = restored.history["f1_score"]
    assert isinstance(value, np.ndarray) and value.tolist() == [0.25, 0.5]
    assert restored.history["loss"] == [1.0]

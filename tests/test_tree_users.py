"""fitorch's own structure walking goes through `fitorch.tree`: in-memory batches (None kept
in place, dict order kept), the structured control-flow ops (against Keras 3), the rebuild of a
subclassed model with dict inputs at load time, and BackupAndRestore's CPU copies."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402
from fitorch import layers, ops, saving  # noqa: E402
from fitorch.training.data import ArraySource  # noqa: E402


def test_array_batches_keep_dict_order_and_none():
    b = np.arange(12.0, dtype="float32").reshape(6, 2)
    a = np.arange(6.0, dtype="float32")
    source = ArraySource({"b": b, "a": a}, a * 10, None, batch_size=4, output_names=["out"])
    batches = list(source.epoch_batches())
    x, y, sw = batches[0]
    assert list(x) == ["b", "a"] and sw is None  # insertion order, the None in place
    np.testing.assert_array_equal(x["b"].numpy(), b[:4])
    np.testing.assert_array_equal(x["a"].numpy(), a[:4, None])  # (N,) -> (N, 1), Keras 2
    np.testing.assert_array_equal(y[0].numpy(), a[:4] * 10)
    np.testing.assert_array_equal(batches[1][0]["b"].numpy(), b[4:])


def test_shuffled_array_batches_keep_rows_together():
    b = np.arange(20.0, dtype="float32").reshape(10, 2)
    source = ArraySource([b, (b[:, :1] * 3, None)], b[:, 0], b[:, 1], batch_size=3, shuffle=True)
    for x, y, sw in source.epoch_batches():
        first, (second, missing) = x
        assert missing is None
        np.testing.assert_array_equal(second.numpy(), first.numpy()[:, :1] * 3)
        np.testing.assert_array_equal(y[0].numpy(), first.numpy()[:, 0])
        np.testing.assert_array_equal(sw[0].numpy(), first.numpy()[:, 1])


def _to_numpy(structure):
    return keras.tree.map_structure(lambda t: np.asarray(keras.ops.convert_to_numpy(t)), structure)


def _assert_same(ours, theirs):
    keras.tree.assert_same_structure(
        keras.tree.lists_to_tuples(ours), keras.tree.lists_to_tuples(theirs)
    )
    for o, t in zip(keras.tree.flatten(ours), keras.tree.flatten(theirs)):
        np.testing.assert_allclose(np.asarray(o), np.asarray(t), rtol=1e-6)


def test_map_and_scan_over_dicts_as_keras():
    xs = {"w": np.linspace(0, 1, 12, dtype="float32").reshape(4, 3),
          "v": np.arange(4, dtype="float32")}  # fmt: skip

    def f(row):
        return {"s": row["w"].sum() + row["v"], "p": (row["w"] * 2, row["v"])}

    _assert_same(_to_numpy(ops.map(f, xs)), _to_numpy(keras.ops.map(f, xs)))

    def step(carry, row):
        carry = carry + row["w"] * row["v"]
        return carry, {"c": carry, "n": row["v"] + 1}

    init = torch.zeros(3)
    _assert_same(_to_numpy(ops.scan(step, init, xs)), _to_numpy(keras.ops.scan(step, init, xs)))


def test_associative_scan_over_a_dict_as_keras():
    elems = {"a": np.arange(1, 6, dtype="float32"), "b": np.full(5, 2.0, "float32")}

    def f(x, y):
        return {"a": x["a"] + y["a"], "b": x["b"] * y["b"]}

    ours = ops.associative_scan(f, elems, reverse=True)
    theirs = keras.ops.associative_scan(f, elems, reverse=True)
    _assert_same(_to_numpy(ours), _to_numpy(theirs))
    np.testing.assert_array_equal(ours["a"].numpy(), [15, 14, 12, 9, 5])  # reversed cumsum


@saving.register_serializable("test_tree_users")
class DictTower(fitorch.Model):
    """A subclassed model reading a dict, built lazily by its first call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.left = layers.Dense(2)
        self.right = layers.Dense(2)

    def call(self, x):
        return self.left(x["p"]) + self.right(x["q"])


def test_load_rebuilds_a_subclassed_model_with_dict_inputs(tmp_path):
    x = {"p": np.ones((3, 4), "float32"), "q": np.linspace(0, 1, 15, dtype="float32").reshape(3, 5)}
    model = DictTower()
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "d.keras")
    loaded = saving.load_model(tmp_path / "d.keras")
    assert tuple(loaded.left.kernel.shape) == (4, 2) and tuple(loaded.right.kernel.shape) == (5, 2)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)


class _StopAfterFirstEpoch(fitorch.callbacks.Callback):
    """Interrupts fit after epoch 0's backup, so the backup file stays for the test to read."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_backup_copies_state_to_cpu_in_its_structure(tmp_path):
    model = fitorch.Sequential([fitorch.Input((3,)), layers.Dense(1)])
    model.compile("adam", "mse")
    data = np.linspace(-1, 1, 24, dtype="float32").reshape(8, 3)
    backup = fitorch.callbacks.BackupAndRestore(str(tmp_path))
    kernel = []
    remember = fitorch.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: kernel.append(model.layers[0].kernel.detach().clone())
    )
    with pytest.raises(KeyboardInterrupt):
        model.fit(data, data[:, :1], epochs=3, batch_size=4, verbose=0,
                  callbacks=[remember, backup, _StopAfterFirstEpoch()])  # fmt: skip
    saved = torch.load(tmp_path / "backup.pt", weights_only=False)
    slots = saved["optimizer"]["state"]
    assert slots and all(
        v.device.type == "cpu" for s in slots.values() for v in s.values() if torch.is_tensor(v)
    )
    assert isinstance(saved["optimizer"]["param_groups"], list)  # structure kept
    saved_kernel = next(v for k, v in saved["model"].items() if k.endswith("kernel"))
    np.testing.assert_array_equal(saved_kernel.numpy(), kernel[0].numpy())  # epoch 0's weights

"""The eager step's per-batch glue taken out of the loop keeps its behaviour: batches keep
their structure (`tree.packer` against `pack_sequence_as`), the shuffle order is one
`randperm` per epoch, the step that runs is decided per epoch (default, an override in a
subclass, a function set on the instance), and the numbers equal Keras 3 (torch) on the
same data in the same batch order."""

from __future__ import annotations

import collections
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402
from fitorch import tree  # noqa: E402
from fitorch.training import data as data_mod  # noqa: E402

Point = collections.namedtuple("Point", ["b", "a"])

STRUCTURES = [
    1.0,
    (1, [2], None),
    {"b": 1, "a": [2, (3, None)], "c": Point(4, {"z": 5, "y": 6})},
    collections.OrderedDict([("b", 1), ("a", 2)]),
    [[], (None,), {"k": None}],
    ({1: "x", "s": "y"},),  # mixed key types keep insertion order
]


@pytest.mark.parametrize("structure", STRUCTURES, ids=range(len(STRUCTURES)))
def test_packer_equals_pack_sequence_as(structure):
    n = len(tree.flatten(structure))
    values = [f"v{i}" for i in range(n)]
    want = tree.pack_sequence_as(structure, values)
    got = tree.packer(structure)(values)
    assert got == want
    assert tree.flatten(got) == values
    # container types (and so dict insertion orders) are the same at every level
    assert repr(got) == repr(want)
    assert type(got) is type(want)


def test_shuffled_batches_follow_one_randperm_per_epoch():
    x = {"b": np.arange(10.0).reshape(10, 1), "a": np.arange(10.0, 20.0).reshape(10, 1)}
    y = np.arange(10).astype("float32")
    source = data_mod.adapt(x, y, None, batch_size=4, shuffle=True, input_names=["a", "b"])
    for seed in (0, 1):
        torch.manual_seed(seed)
        order = torch.randperm(10)
        torch.manual_seed(seed)
        got = list(source.epoch_batches())
        assert [len(b[0]["a"]) for b in got] == [4, 4, 2]
        rows = torch.cat([b[0]["b"][:, 0] for b in got]).long()
        assert rows.tolist() == order.tolist()
        for bx, by, sw in got:
            assert list(bx) == ["b", "a"] and sw is None and isinstance(by, list)
            assert torch.equal(bx["a"], bx["b"] + 10.0)
            assert torch.equal(by[0], bx["b"][:, 0].float())


def _pair():
    keras = pytest.importorskip("keras")
    models = []
    for lib in (fitorch, keras):
        model = lib.Sequential([lib.Input((1,)), lib.layers.Dense(2), lib.layers.Dense(1)])
        model.compile(optimizer=lib.optimizers.Adam(1e-2), loss="mse",
                      metrics=["mae", "mape"])  # fmt: skip
        models.append(model)
    models[0].set_weights(models[1].get_weights())
    return models


def test_eager_fit_equals_keras():
    ours, theirs = _pair()
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, size=(100, 1)).astype("float32")
    y = (2 * x + 1).astype("float32")
    sw = rng.uniform(0.5, 2.0, size=100).astype("float32")
    kw = dict(batch_size=16, epochs=2, verbose=0, shuffle=False, sample_weight=sw)
    h_ours, h_theirs = ours.fit(x, y, **kw), theirs.fit(x, y, **kw)
    for key in ("loss", "mae", "mape"):
        np.testing.assert_allclose(h_ours.history[key], h_theirs.history[key], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    got = ours.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    want = theirs.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    for key in ("loss", "mae", "mape"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4)


class _Counting(fitorch.Model):
    """A subclassed model whose train_step returns its own logs (Keras's tuple as data)."""

    def __init__(self):
        super().__init__()
        self.dense = fitorch.layers.Dense(1, kernel_initializer="ones")
        self.seen = []

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        self.seen.append(float(x.sum()))
        return {"rows": torch.tensor(float(len(x)))}


def test_overridden_train_step_runs_for_every_batch():
    model = _Counting()
    model.compile(optimizer="sgd", loss="mse")
    x = np.arange(10.0, dtype="float32").reshape(10, 1)
    history = model.fit(x, x, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert model.seen == [6.0, 22.0, 17.0] * 2  # rows 0-3, 4-7, 8-9 summed
    assert history.history["rows"] == [2.0, 2.0]  # the last step's logs (Keras)


def test_train_step_set_on_the_instance_is_called():
    model = fitorch.Sequential([fitorch.Input((1,)), fitorch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    calls = []
    default = model.train_step
    model.train_step = lambda data: (calls.append(len(data[0])), default(data))[1]
    x = np.ones((10, 1), "float32")
    model.fit(x, x, batch_size=4, epochs=1, verbose=0)
    assert calls == [4, 4, 2]

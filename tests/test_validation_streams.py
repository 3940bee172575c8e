"""Streamed data (generators, utils.Sequence, DataLoader) is judged batch by batch before each
batch reaches a step (training.validation.StreamCheck): NaN/inf, labels out of range, shapes
that do not fit the model's inputs and dtype changes raise ValueError naming the call, the
batch and what is wrong, and the bad batch is never trained on."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers, optimizers
from fitorch.models import Model, Sequential
from fitorch.utils import Sequence

RNG = np.random.default_rng(0)


def _classifier(classes=3):
    model = Sequential([layers.Dense(classes, input_shape=(4,))])
    model.compile(optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    return model


def _batches(n=5, bad=None, size=8):
    """n (x, y) batches of 4 features and labels in [0, 3); `bad(i, x, y)` may spoil one."""
    out = []
    for i in range(n):
        x = RNG.normal(size=(size, 4)).astype("float32")
        y = RNG.integers(0, 3, size)
        if bad is not None:
            x, y = bad(i, x, y)
        out.append((x, y))
    return out


def _fit_fails(model, data, match, **kw):
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=match):
        model.fit(data, verbose=0, **kw)
    return before


class Batches(Sequence):
    def __init__(self, items):
        super().__init__()
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_nan_in_the_first_generator_batch_fails_before_any_step():
    def spoil(i, x, y):
        if i == 0:
            x[2, 1] = np.nan
        return x, y

    model = _classifier()
    before = _fit_fails(
        model, iter(_batches(bad=spoil)), r"fit: batch 0 of the generator: `x` holds a "
        r"non-finite value \(nan\) at sample 2", steps_per_epoch=5,
    )  # fmt: skip
    assert int(model.optimizer.iterations) == 0
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_label_out_of_range_in_a_later_sequence_batch_names_it():
    def spoil(i, x, y):
        if i == 3:
            y[5] = 3  # 3 classes: labels 0..2
        return x, y

    model = _classifier()
    _fit_fails(model, Batches(_batches(bad=spoil)),
               r"fit: batch 3 of the Sequence Batches: `y` holds 3 at sample 5.*\[0, 3\)",
               shuffle=False)  # fmt: skip
    assert int(model.optimizer.iterations) == 3  # batches 0..2 trained, batch 3 never


@pytest.mark.parametrize("label", [-1.0, 1.5])
def test_negative_or_fractional_label_in_a_generator(label):
    def spoil(i, x, y):
        y = y.astype("float32")
        if i == 1:
            y[0] = label
        return x, y

    model = _classifier()
    _fit_fails(model, iter(_batches(bad=spoil)), rf"batch 1 of the generator: `y` holds "
               rf"{label!r} at sample 0", steps_per_epoch=5)  # fmt: skip
    assert int(model.optimizer.iterations) == 1


def test_dataloader_batch_with_another_feature_size():
    items = _batches()
    items[2] = (RNG.normal(size=(8, 5)).astype("float32"), items[2][1])
    ds = [(torch.as_tensor(x), torch.as_tensor(y)) for x, y in items]
    loader = torch.utils.data.DataLoader(ds, batch_size=None)  # each item is one batch
    model = _classifier()
    _fit_fails(model, loader, r"fit: batch 2 of the DataLoader: `x` has shape \(8, 5\), but "
               r"the model's input expects \(None, 4\)")  # fmt: skip
    assert int(model.optimizer.iterations) == 2


def test_dtype_kind_change_is_named():
    items = _batches(n=3)
    items[1] = (items[1][0].astype("int64"), items[1][1])
    model = _classifier()
    _fit_fails(model, iter(items), r"batch 1 of the generator: `x` holds integer values, but "
               r"the first batch held float values", steps_per_epoch=3)  # fmt: skip
    assert int(model.optimizer.iterations) == 1


def test_binary_targets_out_of_range_and_inf_sample_weight():
    model = Sequential([layers.Dense(1, activation="sigmoid", input_shape=(4,))])
    model.compile(optimizers.SGD(0.1), "binary_crossentropy")
    x = RNG.normal(size=(8, 4)).astype("float32")
    good = (x, np.ones((8, 1), "float32"))
    with pytest.raises(ValueError, match=r"batch 1 of the generator: `y` holds 2.0 at sample 0"
                                         r".*targets in \[0, 1\]"):  # fmt: skip
        model.fit(iter([good, (x, np.full((8, 1), 2.0, "float32"))]), steps_per_epoch=2,
                  verbose=0)  # fmt: skip
    weights = np.ones(8, "float32")
    weights[4] = np.inf
    with pytest.raises(ValueError, match=r"batch 0 of the generator: `sample_weight` holds a "
                                         r"non-finite value \(inf\) at sample 4"):  # fmt: skip
        model.fit(iter([(x, good[1], weights)]), steps_per_epoch=1, verbose=0)


def test_validation_generator_is_checked_the_same_way():
    def spoil(i, x, y):
        if i == 1:
            y[3] = 7
        return x, y

    model = _classifier()
    with pytest.raises(ValueError, match=r"fit\(validation_data\): batch 1 of the generator: "
                                         r"`y` holds 7 at sample 3"):  # fmt: skip
        model.fit(Batches(_batches()), validation_data=iter(_batches(n=2, bad=spoil)),
                  validation_steps=2, verbose=0)  # fmt: skip


def test_predict_and_evaluate_generators():
    def spoil(i, x, y):
        if i == 2:
            x[1, 0] = np.inf
        return x, y

    model = _classifier()
    with pytest.raises(ValueError, match=r"predict: batch 2 of the generator: `x` holds a "
                                         r"non-finite value \(inf\) at sample 1"):  # fmt: skip
        model.predict(iter([x for x, _ in _batches(bad=spoil)]), verbose=0)
    with pytest.raises(ValueError, match=r"evaluate: batch 2 of the Sequence Batches"):
        model.evaluate(Batches(_batches(bad=spoil)), verbose=0)


def test_varying_sizes_the_model_allows_pass():
    """A padded sequence length that varies per batch (Input((None, 3))) is not a change."""
    inp = fitorch.Input((None, 3))
    model = Model(inp, layers.Dense(2)(layers.GRU(4)(inp)))
    model.compile(optimizers.SGD(0.1), "mse")
    batches = [(RNG.normal(size=(4, t, 3)).astype("float32"), RNG.normal(size=(4, 2))
                .astype("float32")) for t in (5, 7, 3)]  # fmt: skip
    model.fit(iter(batches), steps_per_epoch=3, verbose=0)
    assert int(model.optimizer.iterations) == 3

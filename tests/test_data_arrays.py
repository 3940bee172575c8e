"""Arrays and tensors: multi-input/multi-output (seed 004), dict keys, shuffle modes,
validation_split, cardinality errors."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers, optimizers
from fitorch.models import Model, Sequential
from fitorch.training.data import ArraySource, adapt
from fitorch.utils import set_random_seed

rng = np.random.default_rng(1)
X1 = rng.normal(size=(10, 4)).astype("float32")
X2 = rng.normal(size=(10, 3)).astype("float32")
Y1 = rng.normal(size=(10, 1)).astype("float32")
Y2 = np.eye(3, dtype="float32")[rng.integers(0, 3, 10)]


def seed_004_model(lr=0.05):
    """Two inputs, two outputs, loss=[loss_fun1, loss_fun2], loss_weights=[1., 0.2]."""
    input_1 = fitorch.Input((4,), name="input_1")
    input_2 = fitorch.Input((3,), name="input_2")
    output_1 = layers.Dense(1, name="output_1")(layers.Dense(5, activation="tanh")(input_1))
    output_2 = layers.Dense(3, activation="softmax", name="output_2")(input_2)
    model = Model(inputs=[input_1, input_2], outputs=[output_1, output_2])
    model.compile(optimizer=optimizers.SGD(learning_rate=lr),
                  loss=["mse", "categorical_crossentropy"], loss_weights=[1.0, 0.2])  # fmt: skip
    return model


def test_seed_004_total_loss_is_loss_1_plus_0_2_loss_2():
    model = seed_004_model()
    hist = model.fit([X1, X2], [Y1, Y2], batch_size=4, epochs=3, verbose=0)
    h = hist.history
    assert list(h) == ["loss", "output_1_loss", "output_2_loss"]
    expected = np.array(h["output_1_loss"]) + 0.2 * np.array(h["output_2_loss"])
    np.testing.assert_allclose(h["loss"], expected, rtol=1e-6)
    # evaluate against a float64 forward pass of the trained weights
    logs = model.evaluate([X1, X2], [Y1, Y2], batch_size=10, verbose=0, return_dict=True)
    w = model.get_weights()
    hidden = np.tanh(X1.astype("float64") @ w[0] + w[1])
    mse = np.mean((hidden @ w[2] + w[3] - Y1) ** 2)
    logits = X2.astype("float64") @ w[4] + w[5]
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    ce = np.mean(-np.log((p * Y2).sum(1)))
    np.testing.assert_allclose([logs["output_1_loss"], logs["output_2_loss"]], [mse, ce], rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], mse + 0.2 * ce, rtol=1e-5)


def test_dicts_by_input_and_output_names_equal_lists():
    a, b = seed_004_model(), seed_004_model()
    b.set_weights(a.get_weights())
    ha = a.fit([X1, X2], [Y1, Y2], batch_size=4, epochs=2, shuffle=False, verbose=0)
    hb = b.fit({"input_2": X2, "input_1": X1}, {"output_2": Y2, "output_1": Y1}, batch_size=4,
               epochs=2, shuffle=False, verbose=0)  # fmt: skip
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    # torch tensors work like NumPy arrays
    hc = seed_004_model()
    hc.set_weights(a.get_weights())
    np.testing.assert_allclose(
        hc.evaluate([torch.from_numpy(X1), torch.from_numpy(X2)], [Y1, torch.from_numpy(Y2)],
                    verbose=0),
        a.evaluate([X1, X2], [Y1, Y2], verbose=0), rtol=1e-6,
    )  # fmt: skip


def test_wrong_dict_keys_get_suggestions():
    model = seed_004_model()
    with pytest.raises(ValueError, match="'input_l'.*not an input name.*Did you mean 'input_1'"):
        model.fit({"input_l": X1, "input_2": X2}, [Y1, Y2], verbose=0)
    with pytest.raises(ValueError, match="missing the input.*'input_2'"):
        model.fit({"input_1": X1}, [Y1, Y2], verbose=0)
    with pytest.raises(ValueError, match="'outptu_2'.*not an output name.*Did you mean 'output_2'"):
        model.fit([X1, X2], {"output_1": Y1, "outptu_2": Y2}, verbose=0)
    with pytest.raises(ValueError, match="the model has 2 outputs .*got 3 arrays"):
        model.fit([X1, X2], [Y1, Y2, Y2], verbose=0)


def test_mismatched_lengths_name_every_argument():
    model = seed_004_model()
    with pytest.raises(ValueError, match=r"x: \[9, 10\], y: \[10\]"):
        model.fit([X1[:9], X2], [Y1, Y2], verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight: \[7\]"):
        model.fit([X1, X2], [Y1, Y2], sample_weight=np.ones(7), verbose=0)


def batches_of(source):
    return [b[0].reshape(-1).tolist() for b in source.epoch_batches()]


def test_shuffle_batch_shuffles_within_each_batch_and_keeps_their_order():
    x = np.arange(10, dtype="float32")
    orders = set()
    for seed in range(6):
        torch.manual_seed(seed)
        got = batches_of(ArraySource(x, None, None, 4, shuffle="batch"))
        assert [sorted(b) for b in got] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
        orders.add(tuple(map(tuple, got)))
    assert len(orders) > 1


def test_shuffle_true_draws_a_new_permutation_each_epoch_reproducibly():
    x = np.arange(12, dtype="float32")
    source = ArraySource(x, None, None, 5, shuffle=True)
    set_random_seed(7)
    first = [sum(batches_of(source), []) for _ in range(2)]
    set_random_seed(7)
    again = [sum(batches_of(source), []) for _ in range(2)]
    assert first == again
    assert sorted(first[0]) == sorted(first[1]) == list(range(12))
    assert first[0] != first[1]
    assert batches_of(ArraySource(x, None, None, 5, shuffle=False))[0] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("shuffle", [True, "batch", False])
def test_blocks_hold_the_rows_of_consecutive_batches_in_their_order(shuffle):
    x = np.arange(23, dtype="float32")
    source = ArraySource(x, x * 10, None, 4, shuffle=shuffle)
    set_random_seed(5)
    batches = list(source.epoch_batches())
    set_random_seed(5)
    blocks = list(source.epoch_blocks(3))  # 3 batches (12 rows) each, the last 11 rows
    assert [len(b[0]) for b in blocks] == [12, 11]
    for got, want in ((blocks[0], batches[:3]), (blocks[1], batches[3:])):
        np.testing.assert_array_equal(got[0][:, 0], np.concatenate([b[0][:, 0] for b in want]))
        np.testing.assert_array_equal(got[1][0], np.concatenate([b[1][0] for b in want]))


def test_shuffle_value_is_checked():
    with pytest.raises(ValueError, match="shuffle must be True, False or 'batch'; got 'yes'"):
        adapt(np.ones((4, 2)), shuffle="yes")


def test_batches_are_views_when_not_shuffled():
    x = torch.arange(20.0).reshape(10, 2)
    b0 = next(iter(ArraySource(x, None, None, 4).epoch_batches()))[0]
    assert b0.data_ptr() == x.data_ptr()  # sliced, not copied or collated


def test_validation_split_takes_the_last_samples_before_shuffling():
    model = Sequential([layers.Dense(1, input_dim=4)])
    model.compile(optimizers.SGD(0.0), loss="mse")
    hist = model.fit(X1, Y1, validation_split=0.3, epochs=1, verbose=0)
    expected = model.evaluate(X1[7:], Y1[7:], verbose=0)
    np.testing.assert_allclose(hist.history["val_loss"], [expected], rtol=1e-6)
    with pytest.raises(ValueError, match="leaves an empty split"):
        model.fit(X1[:2], Y1[:2], validation_split=0.6, verbose=0)


def test_one_sample_weight_for_every_output_and_a_dict_by_name():
    a = seed_004_model(lr=0.0)
    w = rng.uniform(0.5, 2.0, 10).astype("float32")
    one = a.evaluate([X1, X2], [Y1, Y2], sample_weight=w, verbose=0, return_dict=True)
    by_name = a.evaluate([X1, X2], [Y1, Y2], sample_weight={"output_1": w, "output_2": w},
                         verbose=0, return_dict=True)  # fmt: skip
    assert one == pytest.approx(by_name, rel=1e-6)
    half = a.evaluate([X1, X2], [Y1, Y2], sample_weight=[w, None], verbose=0, return_dict=True)
    plain = a.evaluate([X1, X2], [Y1, Y2], verbose=0, return_dict=True)
    assert half["output_2_loss"] == pytest.approx(plain["output_2_loss"], rel=1e-6)
    assert half["output_1_loss"] == pytest.approx(one["output_1_loss"], rel=1e-6)


def test_dict_keys_beyond_the_inputs_are_ignored_with_a_warning():
    # Keras warns about the structure and takes the inputs it declares.
    model = seed_004_model()
    x = {"input_1": X1, "input_2": X2, "row_id": np.arange(len(X1))}
    with pytest.warns(UserWarning, match=r"\['row_id'\], which are not inputs"):
        got = model.predict(x, verbose=0)
    expected = model.predict([X1, X2], verbose=0)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)

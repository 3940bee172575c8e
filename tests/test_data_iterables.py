"""Generators, Sequence (workers, processes), Dataset/DataLoader and fit_generator."""

import multiprocessing
import threading
import time
import traceback

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from fitorch import callbacks, layers, optimizers
from fitorch.models import Sequential
from fitorch.training.enqueuer import GeneratorEnqueuer, OrderedEnqueuer
from fitorch.utils import Sequence

X = np.linspace(-1.0, 1.0, 24, dtype="float32").reshape(12, 2)
Y = (X @ np.array([[1.5], [-0.5]], "float32") + 0.25).astype("float32")


def linear_model(lr=0.1):
    model = Sequential([layers.Dense(1, input_dim=2)])
    model.set_weights([np.array([[0.3], [0.2]], "float32"), np.array([0.1], "float32")])
    model.compile(optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def counting_generator(log, batch=4, endless=True):
    """Yields (x, y) batches of X, Y in order; appends each batch index to `log`."""
    while True:
        for i in range(0, len(X), batch):
            log.append(i // batch)
            yield X[i : i + batch], Y[i : i + batch]
        if not endless:
            return


class ArraySequence(Sequence):
    """X, Y in batches of 4; counts epoch hooks; optional per-batch sleep and failing index."""

    def __init__(self, sleep=0.0, fail_at=None, **kwargs):
        super().__init__(**kwargs)
        self.sleep, self.fail_at = sleep, fail_at
        self.epoch_ends = 0
        self.offset = 0.0

    def __len__(self):
        return 3

    def __getitem__(self, i):
        if i == self.fail_at:
            raise KeyError(f"batch {i} is broken")
        if self.sleep:
            time.sleep(self.sleep * (3 - i))  # later batches finish first
        return X[4 * i : 4 * i + 4] + self.offset, Y[4 * i : 4 * i + 4]

    def on_epoch_end(self):
        self.epoch_ends += 1
        self.offset += 1.0


def no_workers_left(threads_before):
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if threading.active_count() <= threads_before and not multiprocessing.active_children():
            return True
        time.sleep(0.02)
    return False


# -- generators and steps ---------------------------------------------------------------------
def test_endless_generators_take_exactly_steps_per_epoch_batches():
    # Seed 003: fit_generator(train_D.__iter__(), steps_per_epoch=len(train_D), validation_data=
    # valid_D.__iter__(), validation_steps=len(valid_D)).
    train_log, val_log = [], []
    model = linear_model()
    hist = model.fit_generator(
        counting_generator(train_log), steps_per_epoch=3, epochs=2, verbose=0,
        validation_data=counting_generator(val_log), validation_steps=2,
    )  # fmt: skip
    assert train_log == [0, 1, 2, 0, 1, 2]
    assert val_log == [0, 1]  # validation replays its first 2 batches each epoch (Keras 3)
    assert len(hist.history["loss"]) == 2 and len(hist.history["val_loss"]) == 2


def test_steps_per_epoch_continues_the_iterator_across_epochs():
    log = []
    model = linear_model()
    model.fit(counting_generator(log), steps_per_epoch=2, epochs=3, verbose=0)
    assert log == [0, 1, 2, 0, 1, 2]


def test_one_shot_generator_without_steps_errors_at_the_next_epoch():
    log = []
    model = linear_model()
    with pytest.raises(ValueError, match="exhausted in an earlier epoch.*steps_per_epoch"):
        model.fit(counting_generator(log, endless=False), epochs=2, verbose=0)
    assert log == [0, 1, 2]  # the first epoch consumed it once


def test_generator_running_out_of_data_warns_and_stops():
    model = linear_model()
    with pytest.warns(UserWarning, match="ran out of data after 3 of 5 steps"):
        hist = model.fit(counting_generator([], endless=False), steps_per_epoch=5, epochs=3,
                         verbose=0)  # fmt: skip
    assert len(hist.history["loss"]) == 1


def test_generator_training_equals_array_training():
    a, b = linear_model(), linear_model()
    a.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    b.fit(counting_generator([]), steps_per_epoch=3, epochs=2, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_fit_generator_accepts_the_keras2_arguments():
    model = linear_model()
    hist = model.fit_generator(
        counting_generator([]), steps_per_epoch=3, epochs=3, verbose=0, callbacks=[],
        validation_data=counting_generator([]), validation_steps=3, class_weight=None,
        max_queue_size=4, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=1,
    )  # fmt: skip
    assert hist.epoch == [1, 2]
    hist = model.fit(X, Y, nb_epoch=2, verbose=0)
    assert len(hist.history["loss"]) == 2


def test_evaluate_and_predict_generator_equal_the_array_results():
    model = linear_model()
    expected = model.evaluate(X, Y, batch_size=4, verbose=0)
    got = model.evaluate_generator(counting_generator([]), steps=3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    preds = model.predict_generator((x for x, _ in counting_generator([], endless=False)))
    np.testing.assert_allclose(preds, X @ np.array([[0.3], [0.2]]) + 0.1, rtol=1e-6)


# -- Sequence ---------------------------------------------------------------------------------
@pytest.mark.parametrize("multiprocessing_", [False, True])
def test_ordered_enqueuer_keeps_the_order(multiprocessing_):
    seq = ArraySequence(sleep=0.01)
    enqueuer = OrderedEnqueuer(seq, workers=3, use_multiprocessing=multiprocessing_,
                               max_queue_size=2)  # fmt: skip
    got = list(enqueuer.batches([2, 0, 1, 1]))
    for (gx, gy), i in zip(got, [2, 0, 1, 1]):
        np.testing.assert_array_equal(gx, X[4 * i : 4 * i + 4])
        np.testing.assert_array_equal(gy, Y[4 * i : 4 * i + 4])
    assert not multiprocessing.active_children()


def test_max_queue_size_bounds_the_batches_loaded_ahead():
    started = []

    class Recording(ArraySequence):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            started.append(i)
            return X[:4], Y[:4]

    batches = OrderedEnqueuer(Recording(), workers=2, max_queue_size=3).batches(range(10))
    next(batches)
    time.sleep(0.05)  # a slow training step: workers may run ahead, but only so far
    assert sorted(started) == [0, 1, 2, 3]  # 3 in flight, one more submitted when 0 was taken
    assert len(list(batches)) == 9


def test_sequence_with_two_workers_trains_in_order_and_calls_on_epoch_end():
    seq = ArraySequence(sleep=0.005, workers=2)
    model = linear_model()
    threads = threading.active_count()
    model.fit(seq, epochs=2, shuffle=False, verbose=0)
    assert seq.epoch_ends == 2
    # the same updates as arrays shifted by the offset the Sequence had in each epoch
    ref = linear_model()
    ref.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    ref.fit(X + 1.0, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for wa, wb in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    assert no_workers_left(threads)


def test_processes_see_the_state_left_by_on_epoch_end():
    seq = ArraySequence()
    model = linear_model(lr=0.0)
    preds = [model.predict(seq, workers=2, use_multiprocessing=True, verbose=0) for _ in range(2)]
    # predict calls on_epoch_end after its pass: offset 0 then 1
    np.testing.assert_allclose(preds[1] - preds[0], np.full((12, 1), 0.5), rtol=1e-6)
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("multiprocessing_", [False, True])
def test_worker_exception_is_raised_with_its_traceback(multiprocessing_):
    seq = ArraySequence(fail_at=1)
    model = linear_model()
    threads = threading.active_count()
    with pytest.raises(KeyError, match="batch 1 is broken") as info:
        model.fit(seq, epochs=1, verbose=0, workers=2, use_multiprocessing=multiprocessing_)
    if multiprocessing_:  # the worker's traceback travels as the cause
        assert "__getitem__" in str(info.value.__cause__)
    else:
        frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
        assert "__getitem__" in frames
    assert no_workers_left(threads)


class _Interrupt(callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            raise KeyboardInterrupt


@pytest.mark.parametrize("multiprocessing_", [False, True])
def test_ctrl_c_leaves_no_worker_behind(multiprocessing_):
    seq = ArraySequence(workers=2, use_multiprocessing=multiprocessing_)
    model = linear_model()
    threads = threading.active_count()
    with pytest.raises(KeyboardInterrupt):
        model.fit(seq, epochs=3, verbose=0, callbacks=[_Interrupt()])
    assert no_workers_left(threads)


def test_sequence_shuffle_is_a_permutation_reproducible_under_the_seed():
    class Recording(ArraySequence):
        def __getitem__(self, i):
            seen.append(i)
            return super().__getitem__(i)

    orders = []
    for _ in range(2):
        seen = []
        torch.manual_seed(3)
        linear_model().fit(Recording(), epochs=3, shuffle=True, verbose=0)
        orders.append(list(seen))
    assert orders[0] == orders[1]
    assert all(sorted(orders[0][k : k + 3]) == [0, 1, 2] for k in (0, 3, 6))
    assert orders[0] != [0, 1, 2] * 3


# -- generator prefetch -------------------------------------------------------------------------
def test_prefetched_generator_trains_identically_and_stops_its_thread():
    a, b = linear_model(), linear_model()
    threads = threading.active_count()
    a.fit(counting_generator([]), steps_per_epoch=3, epochs=2, verbose=0)
    b.fit(counting_generator([]), steps_per_epoch=3, epochs=2, verbose=0, workers=2)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    assert no_workers_left(threads)


def test_generator_enqueuer_reraises_the_generator_error():
    def broken():
        yield 1
        raise OSError("disk gone")

    enqueuer = GeneratorEnqueuer(broken(), max_queue_size=2)
    it = iter(enqueuer)
    assert next(it) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(it)
    enqueuer.close()


# -- torch Dataset / DataLoader -----------------------------------------------------------------
def test_dataloader_trains_like_the_arrays():
    a, b = linear_model(), linear_model()
    a.fit(X, Y, batch_size=5, epochs=2, shuffle=False, verbose=0)
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=5)
    b.fit(loader, epochs=2, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    np.testing.assert_allclose(b.evaluate(loader, verbose=0), b.evaluate(X, Y, verbose=0),
                               rtol=1e-6)  # fmt: skip


def test_map_style_dataset_is_batched_with_batch_size():
    a, b = linear_model(), linear_model()
    a.fit(X, Y, batch_size=3, epochs=1, shuffle=False, verbose=0)
    b.fit(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=3, shuffle=False,
          epochs=1, verbose=0)  # fmt: skip
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)


def test_class_weight_applies_to_dataloaders_like_arrays():
    labels = np.array([0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1], "float32").reshape(12, 1)
    cw = {0: 3.0, 1: 0.5}
    a, b = linear_model(), linear_model()
    ha = a.fit(X, labels, batch_size=4, epochs=2, shuffle=False, class_weight=cw, verbose=0)
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(labels)), batch_size=4)
    hb = b.fit(loader, epochs=2, class_weight=cw, verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)


# -- bad input ------------------------------------------------------------------------------------
def test_y_with_a_generator_is_refused():
    with pytest.raises(ValueError, match="y and sample_weight must be None"):
        linear_model().fit(counting_generator([]), Y, steps_per_epoch=1, verbose=0)


def test_validation_split_with_a_generator_is_refused():
    with pytest.raises(ValueError, match="validation_split works only with arrays"):
        linear_model().fit(counting_generator([]), steps_per_epoch=1, validation_split=0.2,
                           verbose=0)  # fmt: skip


def test_generator_changing_structure_is_reported():
    def gen():
        yield X[:4], Y[:4]
        yield (X[4:8],)

    with pytest.raises(ValueError, match="different structures: batch 1 .*y=None"):
        linear_model().fit(gen(), verbose=0)

    def rank_change():
        yield X[:4], Y[:4]
        yield X[4:8], Y[4:8, 0]

    with pytest.raises(ValueError, match="batch 1 is .*y=\\[1-D array\\].*first .*y=\\[2-D"):
        linear_model().fit(rank_change(), verbose=0)


def test_generator_with_mismatched_batch_sizes_is_reported():
    def gen():
        yield X[:4], Y[:3]

    with pytest.raises(ValueError, match=r"batch 0 .*different batch sizes \(x: \[4\], y: \[3\]"):
        linear_model().fit(gen(), verbose=0)


def test_generator_yielding_four_items_is_reported():
    def gen():
        yield X[:4], Y[:4], np.ones(4), np.ones(4)

    with pytest.raises(ValueError, match="must yield x, .x,., .x, y. or .x, y, sample_weight.*4"):
        linear_model().fit(gen(), verbose=0)


def test_bad_worker_options_are_reported():
    with pytest.raises(ValueError, match="workers must be a positive integer; got -1"):
        linear_model().fit(ArraySequence(), workers=-1, verbose=0)
    with pytest.raises(ValueError, match="max_queue_size must be a positive integer"):
        linear_model().fit(ArraySequence(), max_queue_size=0, workers=2, verbose=0)


def test_dataloader_workers_stop_after_fit_with_fewer_steps_than_batches():
    loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=2,
                        num_workers=2)  # fmt: skip
    model = linear_model()
    threads = threading.active_count()
    model.fit(loader, steps_per_epoch=2, epochs=2, verbose=0)  # 4 of 6 batches: left mid-pass
    assert no_workers_left(threads)
    # after an error, while its traceback still holds fit's frames (and the loader iterator)
    with pytest.raises(KeyboardInterrupt) as info:
        model.fit(loader, steps_per_epoch=2, epochs=2, verbose=0, callbacks=[_Interrupt()])
    assert info.traceback and no_workers_left(threads)


class PaddedBatches:
    """Seed 003's bert4keras-style data_generator: `__len__` and an endless `__iter__`,
    each batch padded to its own longest sequence (T differs between batches)."""

    def __init__(self, lengths, batch=2):
        self.lengths, self.batch = lengths, batch

    def __len__(self):
        return len(self.lengths) // self.batch

    def __iter__(self):
        while True:
            for i in range(0, len(self.lengths), self.batch):
                chunk = self.lengths[i : i + self.batch]
                x = np.zeros((len(chunk), max(chunk), 2), "float32")
                for j, n in enumerate(chunk):
                    x[j, :n] = 1.0
                yield x, np.array([[float(n)] for n in chunk], "float32")


def test_seed_003_padded_generator_pattern():
    train_D, valid_D = PaddedBatches([1, 3, 2, 5, 4, 4]), PaddedBatches([2, 6])
    model = Sequential([layers.Lambda(lambda t: t.sum(dim=1)), layers.Dense(1)])
    model.compile(optimizers.SGD(learning_rate=0.01), loss="mse")
    hist = model.fit_generator(
        train_D.__iter__(), steps_per_epoch=len(train_D), epochs=2,
        validation_data=valid_D.__iter__(), validation_steps=len(valid_D),
        callbacks=[callbacks.EarlyStopping(monitor="val_loss", patience=3)], verbose=0,
    )  # fmt: skip
    assert len(hist.history["val_loss"]) == 2

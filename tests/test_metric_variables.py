"""Keras 3's custom-metric API (`Metric.add_variable`/`add_weight`, `assign`/`assign_add`)
and the `fitorch.Variable` API, on the Keras guide's CategoricalTruePositives."""

import copy

import numpy as np
import pytest
import torch

import fitorch as keras
from fitorch import layers, ops


class CategoricalTruePositives(keras.metrics.Metric):
    """The "Training & evaluation with the built-in methods" guide's metric, as written."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0.0)


Y_TRUE = torch.tensor([[0], [1], [2], [1]])
Y_PRED = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8]])


def test_custom_metric_counts_true_positives_and_resets():
    metric = CategoricalTruePositives()
    assert isinstance(metric.true_positives, keras.Variable)
    metric.update_state(Y_TRUE, Y_PRED)  # rows 0 and 1 are right
    assert float(metric.result()) == 2.0
    metric.update_state(Y_TRUE, Y_PRED, sample_weight=torch.tensor([[0.5], [1], [1], [1]]))
    assert float(metric.result()) == 3.5
    metric.reset_state()
    assert float(metric.result()) == 0.0


def test_custom_metric_in_fit_logs_the_epoch_count():
    x = np.eye(3, dtype="float32")[[0, 1, 2, 1, 0, 2]]
    y = np.array([[0], [1], [2], [1], [0], [2]])
    model = keras.Sequential([layers.Dense(3, kernel_initializer="identity", use_bias=False)])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=[CategoricalTruePositives()])
    logs = model.evaluate(x, y, batch_size=2, return_dict=True, verbose=0)
    assert logs["categorical_true_positives"] == 6.0  # identity logits: all right, summed


def test_declared_variable_state_keeps_its_identity_through_merge_sync_and_to():
    metric, other = CategoricalTruePositives(), CategoricalTruePositives()
    var = metric.true_positives
    metric.update_state(Y_TRUE, Y_PRED)
    other.update_state(Y_TRUE, Y_PRED)
    metric.merge_state([other])
    metric.to("cpu")
    assert metric.true_positives is var and float(var) == 4.0
    metric.set_state("ctp", torch.tensor(9.0))
    assert float(var) == 9.0
    assert metric.state_names() == ["ctp"]


def test_add_weight_and_initializers_and_default_reset():
    class Total(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="total")
            self.total = self.add_weight(shape=(2,), initializer="ones", name="t")

        def update_state(self, values):
            self.total.assign_add(values)

        def result(self):
            return self.total

    m = Total()
    m.update_state(torch.tensor([1.0, 2.0]))
    assert m.result().tolist() == [2.0, 3.0]
    m.reset_state()  # the declared initial value (see docs/symbolic.md for Keras's zeros)
    assert m.result().tolist() == [1.0, 1.0]


def test_variables_lists_the_states_and_a_keras_style_reset_works():
    """Keras' default `reset_state` loops over `self.variables`; custom metrics copy it."""

    class Count(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="count")
            self.n = self.add_variable(shape=(), initializer="zeros", name="n")
            self.s = self.add_variable(shape=(2,), initializer="zeros", name="s")

        def update_state(self, values):
            self.n.assign_add(1.0)
            self.s.assign_add(values)

        def result(self):
            return self.s / self.n

        def reset_state(self):
            for v in self.variables:
                v.assign(ops.zeros(v.shape, dtype=v.dtype))

    m = Count()
    m.update_state(torch.tensor([1.0, 3.0]))
    assert [v is w for v, w in zip(m.variables, [m.n, m.s])] == [True, True]
    m.reset_state()
    assert float(m.n) == 0.0 and m.s.tolist() == [0.0, 0.0]
    assert [tuple(v.shape) for v in keras.metrics.Mean().variables] == [(), ()]


def test_add_variable_argument_errors():
    metric = CategoricalTruePositives()
    with pytest.raises(ValueError, match="expected 'sum', received 'mean'"):
        metric.add_variable(shape=(), aggregation="mean", name="x")
    with pytest.raises(ValueError, match="add_variable\\(name='ctp'\\)"):
        metric.add_variable(shape=(), name="ctp")


def test_variable_api():
    v = keras.Variable(np.array([1.0, 2.0]), name="bias")
    assert v.dtype == torch.float32 and v.trainable and v.name == "bias" and v.path == "bias"
    assert v.assign([3.0, 4.0]) is v and v.numpy().tolist() == [3.0, 4.0]
    v.assign_add(torch.tensor([1.0, 1.0])).assign_sub([0.5, 0.5])
    np.testing.assert_allclose(v.value.detach().numpy(), [3.5, 4.5])
    v.trainable = False
    assert not v.requires_grad
    w = keras.Variable("ones", shape=(2, 3), dtype="float64")
    assert w.dtype == torch.float64 and w.numpy().sum() == 6.0
    assert isinstance(copy.deepcopy(w), keras.Variable)
    with pytest.raises(ValueError, match="needs `shape`"):
        keras.Variable("zeros")
    with pytest.raises(ValueError, match=r"has shape \(2,\); shape=\(3,\)"):
        keras.Variable(np.zeros(2), shape=(3,))
    dense = layers.Dense(2)
    dense.build((None, 3))
    assert dense.kernel.name == "kernel" and dense.kernel.path.endswith("/kernel")

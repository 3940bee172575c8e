"""Keras 2 files with indexing on symbolic tensors: tf-keras writes `x[:, 0]` as a
`SlicingOpLambda` layer, and `a * b` of two symbolic tensors as a `TFOpLambda` whose second
tensor is a keyword argument. The fixtures were written by tf-keras
(`tests/fixtures/make_sliceop_fixture.py`); the expected predictions are tf-keras's."""

import os

import numpy as np
import pytest
import torch

import fitorch
from fitorch.layers.op_node import keras_op_layer

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
EXPECTED = np.load(os.path.join(FIXTURES, "keras2_sliceop_expected.npz"))


@pytest.mark.parametrize(
    "name, key", [("keras2_sliceop.h5", "h5"), ("keras2_sliceop.keras", "keras")]
)
def test_tf_keras_slicing_model_predicts_as_tf_keras(name, key):
    model = fitorch.saving.load_model(os.path.join(FIXTURES, name))
    ops = [layer for layer in model.layers if type(layer).__name__ == "OpLayer"]
    assert len(ops) == 4  # three getitems and the multiply
    np.testing.assert_allclose(model.predict(EXPECTED["x"], verbose=0), EXPECTED[key], atol=1e-6)


def test_loaded_slicing_model_round_trips_through_fitorch(tmp_path):
    model = fitorch.saving.load_model(os.path.join(FIXTURES, "keras2_sliceop.h5"))
    model.save(tmp_path / "again.keras")
    again = fitorch.saving.load_model(tmp_path / "again.keras")
    np.testing.assert_allclose(again.predict(EXPECTED["x"], verbose=0), EXPECTED["h5"], atol=1e-6)


def test_slicing_record_as_tf_keras_writes_it():
    # The record and call of `x[:, 1:3, ::2]` exactly as in the fixture's model_config.
    record = {"class_name": "SlicingOpLambda",
              "config": {"name": "tf.__operators__.getitem_1", "trainable": True,
                         "dtype": "float32", "function": "__operators__.getitem"}}  # fmt: skip
    layer = keras_op_layer(record, "layer 'tf.__operators__.getitem_1'")
    spec = [{"start": None, "stop": None, "step": None}, {"start": 1, "stop": 3, "step": None},
            {"start": None, "stop": None, "step": 2}]  # fmt: skip
    x = np.arange(24.0).reshape(2, 4, 3)
    out = layer(torch.from_numpy(x), slice_spec=spec)
    np.testing.assert_array_equal(out.numpy(), x[:, 1:3, ::2])
    ellipsis = layer(torch.from_numpy(x), slice_spec=[{"class_name": "__ellipsis__"}, -1, None])
    np.testing.assert_array_equal(ellipsis.numpy(), x[..., -1, None])
    with pytest.raises(ValueError, match="index entry must be an int.*got 'a'"):
        layer(torch.from_numpy(x), slice_spec=["a"])

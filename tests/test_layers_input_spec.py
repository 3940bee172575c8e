"""`InputSpec` checks at every call (eager and functional), as Keras 3's."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch.layers import InputSpec
from tests._layer_oracle import keras


def _spec_layer(lib, **spec):
    class Checked(lib.layers.Layer):
        def __init__(self):
            super().__init__()
            self.input_spec = lib.layers.InputSpec(**spec)

        def call(self, x):
            return x * 2

    return Checked()


CASES = [
    ({"ndim": 3, "axes": {-1: 4}}, (2, 5, 4), None),
    ({"ndim": 3, "axes": {-1: 4}}, (2, 4), "expected ndim=3"),
    ({"ndim": 3, "axes": {-1: 4}}, (2, 5, 3), "expected axis -1"),
    ({"min_ndim": 3}, (2, 4), "expected min_ndim=3"),
    ({"max_ndim": 2}, (2, 4, 1), "expected max_ndim=2"),
    ({"shape": (None, 28, 28, 1), "allow_last_axis_squeeze": True}, (3, 28, 28), None),
    ({"shape": (None, 28, 28)}, (3, 28, 27), "expected shape"),
    ({"dtype": "float32"}, (2, 3), None),
]


@pytest.mark.parametrize("spec,shape,error", CASES)
def test_input_spec_accepts_and_rejects_as_keras(spec, shape, error):
    x = np.zeros(shape, "float32")
    for lib in (fitorch, keras):
        if error is None:
            _spec_layer(lib, **spec)(x)
        else:
            with pytest.raises(ValueError, match=error):
                _spec_layer(lib, **spec)(x)


def test_input_spec_is_checked_on_symbolic_inputs_and_dtypes():
    with pytest.raises(ValueError, match="expected axis -1"):
        _spec_layer(fitorch, axes={-1: 4})(fitorch.Input((5, 3)))
    with pytest.raises(ValueError, match="expected dtype=int64"):
        _spec_layer(fitorch, dtype=torch.int64)(torch.zeros(2, 3))
    assert InputSpec(ndim=2).get_config()["ndim"] == 2
    with pytest.raises(TypeError, match="integer keys"):
        InputSpec(axes={"a": 1})

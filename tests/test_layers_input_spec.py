"""`InputSpec` on custom layers: the calls Keras 3 accepts and refuses, eager and symbolic."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402

CASES = [  # (InputSpec kwargs, input shape with the batch, dtype)
    ({"ndim": 3}, (2, 5, 4), "float32"),
    ({"ndim": 3}, (2, 4), "float32"),
    ({"min_ndim": 2}, (2,), "float32"),
    ({"max_ndim": 3}, (2, 3, 4, 5), "float32"),
    ({"axes": {-1: 4}}, (2, 5, 4), "float32"),
    ({"axes": {-1: 4}}, (2, 5, 3), "float32"),
    ({"ndim": 3, "axes": {1: 5}}, (2, 6, 4), "float32"),
    ({"shape": (None, 5, 4)}, (2, 5, 4), "float32"),
    ({"shape": (None, 5, 4)}, (2, 6, 4), "float32"),
    ({"shape": (None, 28, 28, 1), "allow_last_axis_squeeze": True}, (2, 28, 28), "float32"),
    ({"dtype": "int32"}, (2, 3), "float32"),
    ({"dtype": "float32"}, (2, 3), "float32"),
]


def _spec_layer(lib, spec_kwargs):
    class Spec(lib.layers.Layer):
        def __init__(self):
            super().__init__()
            self.input_spec = lib.layers.InputSpec(**spec_kwargs)

        def call(self, x):
            return x * 2

    return Spec()


def _raises(fn) -> bool:
    try:
        fn()
    except ValueError:
        return True
    return False


@pytest.mark.parametrize("spec_kwargs, shape, dtype", CASES)
def test_eager_calls_are_accepted_and_refused_as_keras(spec_kwargs, shape, dtype):
    x = np.ones(shape, dtype)
    theirs = _raises(lambda: _spec_layer(keras, spec_kwargs)(keras.ops.convert_to_tensor(x)))
    ours = _raises(lambda: _spec_layer(fitorch, spec_kwargs)(torch.as_tensor(x)))
    assert ours == theirs


@pytest.mark.parametrize("spec_kwargs, shape, dtype", CASES)
def test_symbolic_calls_are_accepted_and_refused_as_keras(spec_kwargs, shape, dtype):
    def call(lib):
        return _spec_layer(lib, spec_kwargs)(lib.Input(shape[1:], dtype=dtype))

    assert _raises(lambda: call(fitorch)) == _raises(lambda: call(keras))


def test_the_error_names_the_layer_the_input_and_what_differs():
    layer = _spec_layer(fitorch, {"ndim": 3})
    with pytest.raises(
        ValueError, match=r"Input 0 of layer 'spec' .*expected ndim=3, found ndim=2"
    ):
        layer(torch.ones(2, 4))
    assert layer(torch.ones(2, 1, 4)).shape == (2, 1, 4)


def test_a_spec_set_in_build_checks_that_first_call_and_every_later_one():
    class Later(fitorch.layers.Layer):
        def build(self, input_shape):
            self.input_spec = fitorch.layers.InputSpec(axes={-1: input_shape[-1]})

        def call(self, x):
            return x

    layer = Later()
    layer(torch.ones(2, 3))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3"):
        layer(torch.ones(2, 4))


def test_one_spec_per_input_and_named_specs_for_a_dict():
    class Pair(fitorch.layers.Layer):
        def __init__(self):
            super().__init__()
            self.input_spec = [
                fitorch.InputSpec(ndim=2, name="a"),
                fitorch.InputSpec(ndim=3, name="b"),
            ]

        def call(self, inputs):
            return inputs["a"] if isinstance(inputs, dict) else inputs[0]

    layer = Pair()
    layer([torch.ones(2, 3), torch.ones(2, 3, 1)])
    layer({"b": torch.ones(2, 3, 1), "a": torch.ones(2, 3)})
    with pytest.raises(ValueError, match="expects 2 input"):
        layer([torch.ones(2, 3)])
    with pytest.raises(ValueError, match="Missing data for input 'b'"):
        layer({"a": torch.ones(2, 3), "c": torch.ones(2, 3, 1)})


def test_input_spec_config_round_trips_and_rejects_bad_axes():
    spec = fitorch.InputSpec(shape=(None, 4), axes={"1": 4})
    assert spec.ndim == 2 and spec.axes == {1: 4}
    again = fitorch.InputSpec.from_config(spec.get_config())
    assert (
        again.get_config()
        == spec.get_config()
        == keras.InputSpec.from_config(spec.get_config()).get_config()
    )
    with pytest.raises(TypeError, match="axes"):
        fitorch.InputSpec(axes={"x": 1})
    with pytest.raises(ValueError, match="Axis|axis 3"):
        fitorch.InputSpec(ndim=2, axes={3: 1})

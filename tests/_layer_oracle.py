"""Differential oracle for layers: build the same layer in Keras 3 (torch backend) and fitorch,
copy Keras' weights with `set_weights`, compare outputs, parameter counts and config round trips.
"""

from __future__ import annotations

import inspect
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch.layers as fl  # noqa: E402

keras = pytest.importorskip("keras")


def make_inputs(shapes, seed=0, int_high=None):
    """Float32 normal inputs (or ints in [0, int_high)) for each shape; one array if one shape."""
    rng = np.random.default_rng(seed)
    arrays = []
    for shape in shapes:
        if int_high is not None:
            arrays.append(rng.integers(0, int_high, size=shape).astype("int64"))
        else:
            arrays.append(rng.standard_normal(shape).astype("float32"))
    return arrays


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [x]


def to_numpy(x):
    return [
        np.asarray(keras.ops.convert_to_numpy(v))
        if not isinstance(v, torch.Tensor)
        else v.detach().cpu().numpy()
        for v in _flat(x)
    ]


def call_fitorch(layer, inputs, training=None, **call_kwargs):
    kwargs = dict(call_kwargs)
    if training is not None and "training" in inspect.signature(layer.call).parameters:
        kwargs["training"] = training
    layer.train(bool(training))
    x = (
        [torch.as_tensor(a) for a in inputs]
        if isinstance(inputs, list)
        else torch.as_tensor(inputs)
    )
    return layer(x, **kwargs)


def call_keras(layer, inputs, training=None, **call_kwargs):
    x = (
        [torch.as_tensor(a) for a in inputs]
        if isinstance(inputs, list)
        else torch.as_tensor(inputs)
    )
    if training is not None:
        call_kwargs["training"] = training
    return layer(x, **call_kwargs)


def assert_close(ours, theirs, rtol=1e-5, atol=1e-5, what=""):
    a, b = to_numpy(ours), to_numpy(theirs)
    assert len(a) == len(b), f"{what}: {len(a)} outputs vs Keras {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.shape == y.shape, f"{what} output {i}: shape {x.shape} vs Keras {y.shape}"
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"{what} output {i}")


def check_layer(
    cls_name,
    kwargs,
    shapes,
    *,
    training=(False,),
    rtol=1e-5,
    atol=1e-5,
    int_high=None,
    call_kwargs=None,
    seed=0,
    keras_cls=None,
    roundtrip=True,
):
    """Run `cls_name(**kwargs)` in both libraries on the same inputs and weights; compare."""
    call_kwargs = call_kwargs or {}
    arrays = make_inputs(shapes, seed, int_high)
    inputs = arrays if len(arrays) > 1 else arrays[0]
    klayer = (keras_cls or getattr(keras.layers, cls_name))(**kwargs)
    ours = getattr(fl, cls_name)(**kwargs)
    call_keras(klayer, inputs, False, **call_kwargs)  # build
    call_fitorch(ours, inputs, False, **call_kwargs)
    weights = klayer.get_weights()
    ours.set_weights(weights)
    assert ours.count_params() == klayer.count_params(), cls_name
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]
    for mode in training:
        expected = call_keras(klayer, inputs, mode, **call_kwargs)
        got = call_fitorch(ours, inputs, mode, **call_kwargs)
        assert_close(got, expected, rtol, atol, f"{cls_name}({kwargs}) training={mode}")
        assert_close(
            [torch.as_tensor(w) for w in ours.get_weights()],
            [torch.as_tensor(w) for w in klayer.get_weights()],
            rtol,
            atol,
            f"{cls_name} weights after training={mode}",
        )
    if roundtrip:
        clone = type(ours).from_config(ours.get_config())
        call_fitorch(clone, inputs, False, **call_kwargs)
        clone.set_weights(ours.get_weights())
        assert_close(
            call_fitorch(clone, inputs, False, **call_kwargs),
            call_fitorch(ours, inputs, False, **call_kwargs),
            what=f"{cls_name} from_config",
        )
    return ours, klayer

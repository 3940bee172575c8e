"""MultiOptimizer and OptimizerMap equal Keras 3's: each weight follows the optimizer its
path maps to (exact key, else one `re.fullmatch` pattern, else the default)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from fitorch import optimizers as O

SHAPES = {"enc_kernel": (3, 4), "enc_bias": (4,), "head_kernel": (4, 1), "head_bias": (1,)}


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    return pytest.importorskip("keras")


def _multi(optimizers, loss_scale_factor=None):
    """The same program for `optimizers` = keras.optimizers or fitorch.optimizers."""
    mapping = optimizers.OptimizerMap(
        optimizers.SGD(0.05, momentum=0.9),
        {"enc_.*": optimizers.Adam(0.01), "head_kernel": optimizers.RMSprop(0.01)},
    )
    return optimizers.MultiOptimizer(mapping, loss_scale_factor=loss_scale_factor)


@pytest.mark.parametrize("loss_scale_factor", [None, 4.0])
def test_matches_keras3(keras, loss_scale_factor):
    rng = np.random.default_rng(0)
    init = {n: rng.normal(size=s).astype("float32") for n, s in SHAPES.items()}
    k_vars = [keras.Variable(v, name=n) for n, v in init.items()]
    k_opt = _multi(keras.optimizers, loss_scale_factor)
    params = {n: torch.nn.Parameter(torch.tensor(v)) for n, v in init.items()}
    opt = _multi(O, loss_scale_factor)
    opt.build(list(params.items()))
    for _ in range(4):
        grads = [rng.normal(size=s).astype("float32") for s in SHAPES.values()]
        k_opt.apply([keras.ops.convert_to_tensor(g) for g in grads], k_vars)
        opt.apply([torch.tensor(g) for g in grads])
    for v, p in zip(k_vars, params.values()):
        np.testing.assert_allclose(
            p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6
        )
    assert int(opt.iterations) == 4
    assert [int(o.iterations) for o in opt.optimizers] == [4, 4, 4]


def test_optimizer_map_lookup():
    adam, sgd, default = O.Adam(), O.SGD(), O.RMSprop()
    mapping = O.OptimizerMap(default, {"encoder/layer_0/dense": adam, "encoder/.*": sgd})
    assert mapping["encoder/layer_0/dense"] is adam  # the exact key wins over the pattern
    assert mapping["encoder/layer_1/dense"] is sgd
    assert mapping["encoder"] is default  # fullmatch: "encoder/.*" needs the slash
    mapping["enc.*"] = O.Lion()
    with pytest.raises(ValueError, match="Multiple optimizers"):
        mapping["encoder/x"]
    with pytest.raises(ValueError, match="already"):
        mapping["enc.*"] = O.Adam()
    with pytest.raises(ValueError, match="LossScaleOptimizer"):
        mapping["other"] = O.LossScaleOptimizer(O.Adam())


def test_state_config_and_learning_rate():
    params = [torch.nn.Parameter(torch.ones(s)) for s in SHAPES.values()]
    opt = _multi(O)
    opt.build(list(zip(SHAPES, params)))
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    clone = O.deserialize(O.serialize(opt))
    assert [type(o).__name__ for o in clone.optimizers] == ["Adam", "RMSprop", "SGD"]
    clone.build(list(zip(SHAPES, params)))
    clone.load_state_dict(opt.state_dict())
    assert int(clone.iterations) == 1 and int(clone.optimizers[0].iterations) == 1
    with pytest.raises(AttributeError, match="sub-optimizers"):
        _ = opt.learning_rate


def test_inside_a_loss_scale_optimizer_matches_keras3(keras):
    """Mixed-precision compile wraps the MultiOptimizer; an overflow skips every inner step."""
    rng = np.random.default_rng(1)
    init = {n: rng.normal(size=s).astype("float32") for n, s in SHAPES.items()}
    k_vars = [keras.Variable(v, name=n) for n, v in init.items()]
    k_opt = keras.optimizers.LossScaleOptimizer(_multi(keras.optimizers), initial_scale=4.0)
    params = {n: torch.nn.Parameter(torch.tensor(v)) for n, v in init.items()}
    opt = O.LossScaleOptimizer(_multi(O), initial_scale=4.0)
    opt.build(list(params.items()))
    for step in range(3):
        grads = [rng.normal(size=s).astype("float32") * 4.0 for s in SHAPES.values()]
        grads[0][0, 0] = np.inf if step == 1 else grads[0][0, 0]
        k_opt.apply([keras.ops.convert_to_tensor(g) for g in grads], k_vars)
        opt.apply([torch.tensor(g) for g in grads])
    for v, p in zip(k_vars, params.values()):
        np.testing.assert_allclose(
            p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=2e-5, atol=2e-6
        )
    assert [int(o.iterations) for o in opt.inner_optimizer.optimizers] == [2, 2, 2]
    assert float(opt.dynamic_scale) == float(keras.ops.convert_to_numpy(k_opt.dynamic_scale))

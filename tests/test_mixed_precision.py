"""Mixed precision: policies, autocast in the step, float32 losses, loss scaling for float16.

bfloat16 runs on the CPU; float16 training needs CUDA and is skipped without it.
"""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers, mixed_precision
from fitorch.optimizers.loss_scale import LossScaleOptimizer

X = np.random.default_rng(1).normal(size=(64, 6)).astype("float32")
Y = (X @ np.arange(1, 7, dtype="float32") / 10.0)[:, None]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="float16 autocast needs CUDA")


@pytest.fixture(autouse=True)
def _float32_afterwards():
    yield
    mixed_precision.set_global_policy("float32")


def _model(last_dtype=None):
    fitorch.utils.set_random_seed(0)
    return fitorch.Sequential(
        [
            layers.Input((6,)),
            layers.Dense(16, activation="tanh"),
            layers.Dense(1, dtype=last_dtype),
        ]
    )


def _dtypes_seen(model):
    """Output dtype of each Dense during the next forward pass."""
    seen = []
    for layer in model.layers:
        layer.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    return seen


def test_policy_names_and_dtypes():
    p = mixed_precision.DTypePolicy("mixed_bfloat16")
    assert (p.compute_dtype, p.variable_dtype, p.is_mixed) == (torch.bfloat16, torch.float32, True)
    assert mixed_precision.Policy("float32").compute_dtype == torch.float32
    with pytest.raises(ValueError, match="Unknown dtype policy 'mixed_bfloat61'.*mixed_bfloat16"):
        mixed_precision.set_global_policy("mixed_bfloat61")
    mixed_precision.set_global_policy("mixed_float16")
    assert mixed_precision.global_policy().name == "mixed_float16"


def test_layers_take_the_global_policy_at_construction():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = _model()
    mixed_precision.set_global_policy("float32")  # later changes do not touch built layers
    assert all(mixed_precision.policy_of(m).name == "mixed_bfloat16" for m in model.layers)
    assert all(w.dtype == np.float32 for w in model.get_weights())  # variables stay float32


def test_bfloat16_fit_computes_in_bfloat16_and_stays_close_to_float32():
    reference = _model()
    reference.compile("sgd", "mse")
    h32 = reference.fit(X, Y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = _model()
    seen_by_loss = []

    def mse(y_true, y_pred):
        seen_by_loss.append(y_pred.dtype)
        return torch.mean((y_true - y_pred) ** 2, dim=-1)

    model.compile("sgd", mse)
    seen = _dtypes_seen(model)
    h16 = model.fit(X, Y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    assert set(seen) == {torch.bfloat16}  # both Dense layers computed in bfloat16
    assert set(seen_by_loss) == {torch.float32}  # the loss sees float32 outputs
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # bfloat16 keeps ~3 significant digits: the losses agree to about 1e-2 relative.
    np.testing.assert_allclose(h16.history["loss"], h32.history["loss"], rtol=3e-2)
    assert h16.history["loss"] != h32.history["loss"]  # it did compute in lower precision


def test_a_float32_layer_inside_a_mixed_model_computes_in_float32():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = _model(last_dtype="float32")
    model.compile("sgd", "mse")
    seen = _dtypes_seen(model)
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    assert seen[:2] == [torch.bfloat16, torch.float32]


def test_a_mixed_layer_inside_a_float32_model():
    model = fitorch.Sequential(
        [layers.Input((6,)), layers.Dense(4, dtype="mixed_bfloat16"), layers.Dense(1)]
    )
    model.compile("sgd", "mse")
    seen = _dtypes_seen(model)
    model.fit(X, Y, batch_size=32, epochs=1, verbose=0)
    assert seen[:2] == [torch.float32, torch.float32]  # it hands float32 to its consumer
    assert model.predict(X, verbose=0).dtype == np.float32
    dense, x = model.layers[0], torch.from_numpy(X)
    with torch.no_grad():
        out = dense(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            expected = torch.addmm(dense.bias, x, dense.kernel)  # computed in bfloat16
        assert expected.dtype == torch.bfloat16 and torch.equal(out, expected.float())
        assert not torch.allclose(out, x @ dense.kernel + dense.bias, atol=1e-4)


def test_predict_and_evaluate_under_bfloat16_return_float32():
    mixed_precision.set_global_policy("mixed_bfloat16")
    model = _model()
    model.compile("sgd", "mse")
    pred = model.predict(X, verbose=0)
    assert pred.dtype == np.float32 and pred.shape == (64, 1)
    w = model.get_weights()
    exact = np.tanh(X @ w[0] + w[1]) @ w[2] + w[3]
    np.testing.assert_allclose(pred, exact, atol=5e-2)  # bfloat16 matmuls
    loss = model.evaluate(X, Y, verbose=0)
    np.testing.assert_allclose(loss, np.mean((exact - Y) ** 2), rtol=5e-2)


def test_mixed_float16_wraps_the_optimizer_for_loss_scaling():
    mixed_precision.set_global_policy("mixed_float16")
    model = _model()
    model.compile("adam", "mse")
    assert isinstance(model.trainer.optimizer, LossScaleOptimizer)
    other = _model()
    other.compile("adam", "mse", auto_scale_loss=False)
    assert not isinstance(other.trainer.optimizer, LossScaleOptimizer)
    mixed_precision.set_global_policy("mixed_bfloat16")  # bfloat16 needs no loss scaling
    bf = _model()
    bf.compile("adam", "mse")
    assert not isinstance(bf.trainer.optimizer, LossScaleOptimizer)


@CUDA
def test_float16_fit_on_cuda_close_to_float32():
    reference = _model().to("cuda")
    reference.compile("sgd", "mse")
    h32 = reference.fit(X, Y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    mixed_precision.set_global_policy("mixed_float16")
    model = _model().to("cuda")
    model.compile("sgd", "mse")
    seen = _dtypes_seen(model)
    h16 = model.fit(X, Y, batch_size=16, epochs=3, verbose=0, shuffle=False)
    assert set(seen) == {torch.float16}
    np.testing.assert_allclose(h16.history["loss"], h32.history["loss"], rtol=1e-2)
    assert float(model.trainer.optimizer.dynamic_scale) > 0

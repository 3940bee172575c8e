"""A subclassed model first built by `predict` (inside torch.inference_mode) has normal
weights: it saves, reloads with load_model and load_weights, and trains on."""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers


@fitorch.saving.register_keras_serializable(package="rel20")
class TwoDense(fitorch.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(4, activation="relu")
        self.out = layers.Dense(1)

    def call(self, x):
        return self.out(self.hidden(x))


def _data():
    rng = np.random.default_rng(0)
    return rng.random((16, 3), dtype=np.float32), rng.random((16, 1), dtype=np.float32)


def _predicted_model(seed):
    fitorch.utils.set_random_seed(seed)
    model = TwoDense()
    model.compile(fitorch.optimizers.SGD(0.1), "mse")
    model.predict(_data()[0], verbose=0)  # builds the layers under inference mode
    return model


def test_weights_built_by_predict_are_not_inference_tensors():
    model = _predicted_model(0)
    assert len(list(model.parameters())) == 4
    assert not any(p.is_inference() for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("filename", ["w.weights.h5", "w.safetensors"])
def test_load_weights_into_a_model_built_by_predict_then_train(tmp_path, filename):
    x, y = _data()
    source, target = _predicted_model(0), _predicted_model(1)
    source.save_weights(tmp_path / filename)
    target.load_weights(tmp_path / filename)
    np.testing.assert_array_equal(target.predict(x, verbose=0), source.predict(x, verbose=0))
    before = [p.detach().clone() for p in target.parameters()]
    loss_before = target.evaluate(x, y, verbose=0)
    target.fit(x, y, batch_size=16, epochs=5, verbose=0)
    assert int(target.optimizer.iterations) == 5
    assert not all(torch.equal(a, b) for a, b in zip(before, target.parameters()))
    assert target.evaluate(x, y, verbose=0) < loss_before


def test_save_and_load_model_of_a_model_built_by_predict(tmp_path):
    x, y = _data()
    model = _predicted_model(0)
    model.save(tmp_path / "m.keras")
    loaded = fitorch.saving.load_model(tmp_path / "m.keras")
    assert type(loaded) is TwoDense
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 2

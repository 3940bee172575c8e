"""Whole-model save/load: architectures, compile state, exact resumption, custom objects,
atomic writes, and weights-only files (safetensors and Keras HDF5 layout)."""

import json
import os
import zipfile

import numpy as np
import pytest
import safetensors.torch
import torch

import fitorch
from fitorch import backend as K
from fitorch import layers, losses, metrics, optimizers, registry, saving
from fitorch.models import Model, Sequential, load_model
from fitorch.utils import set_random_seed

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 3)).astype("float32")
Y = (X @ np.array([[1.0], [-2.0], [0.5]], "float32") + 0.3).astype("float32")


def mlp():
    return Sequential(
        [
            layers.Dense(8, activation="relu", input_shape=(3,)),
            layers.Dropout(0.25),
            layers.Dense(1),
        ]
    )


def graph_model():
    """Two inputs, two outputs (dict), a shared layer called twice, a torch op node."""
    a, b = fitorch.Input((3,), name="a"), fitorch.Input((3,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    ha, hb = shared(a), shared(b)
    merged = ha + hb
    out1 = layers.Dense(1, name="sum_head")(merged)
    out2 = layers.Dense(2, activation="softmax", name="cls_head")(torch.cat([ha, merged], 1))
    return Model(inputs=[a, b], outputs={"sum_head": out1, "cls_head": out2})


def test_sequential_roundtrip_predicts_identically_and_keeps_structure(tmp_path):
    model = mlp()
    model.compile("adam", "mse", metrics=["mae"])
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert [type(l).__name__ for l in loaded.layers] == ["Dense", "Dropout", "Dense"]
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert loaded.layers[1].rate == 0.25 and loaded.input_shape == (None, 3)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert isinstance(loaded.optimizer, optimizers.Adam)
    assert loaded.get_compile_config()["metrics"] == ["mae"]


def test_functional_shared_layer_multi_io_roundtrip(tmp_path):
    model = graph_model()
    xa, xb = X[:5], X[5:10]
    model.save(tmp_path / "g.keras")
    loaded = load_model(tmp_path / "g.keras")
    # The shared layer is one layer (one set of weights) with two calls in the rebuilt graph.
    assert [l.name for l in loaded.layers] == [l.name for l in model.layers]
    assert sum(isinstance(l, layers.Dense) and l.name == "shared" for l in loaded.layers) == 1
    assert loaded.count_params() == model.count_params()
    want, got = model.predict([xa, xb], verbose=0), loaded.predict([xa, xb], verbose=0)
    assert set(got) == {"sum_head", "cls_head"}
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_config_json_is_keras_style(tmp_path):
    model = graph_model()
    model.compile(
        optimizers.SGD(0.1, momentum=0.9),
        loss={"sum_head": "mse", "cls_head": "categorical_crossentropy"},
        metrics={"cls_head": ["acc"]},
    )
    model.save(tmp_path / "g.keras")
    with zipfile.ZipFile(tmp_path / "g.keras") as zf:
        names = set(zf.namelist())
        config = json.loads(zf.read("config.json"))
        meta = json.loads(zf.read("metadata.json"))
    assert {"config.json", "metadata.json", "model.weights.safetensors"} <= names
    assert set(config) >= {"module", "class_name", "config", "registered_name", "compile_config"}
    assert config["class_name"] == "Functional"
    shared = next(r for r in config["config"]["layers"] if r["name"] == "shared")
    assert len(shared["inbound_nodes"]) == 2
    assert shared["inbound_nodes"][1]["args"][0]["config"]["keras_history"] == ["b", 0, 0]
    cc = config["compile_config"]
    assert cc["loss"] == {"sum_head": "mse", "cls_head": "categorical_crossentropy"}
    assert cc["optimizer"]["class_name"] == "SGD" and cc["optimizer"]["config"]["momentum"] == 0.9
    assert (
        meta["fitorch_version"] == fitorch.__version__
        and meta["torch_version"] == torch.__version__
    )
    assert "date_saved" in meta


@pytest.mark.parametrize("opt", ["adam", "sgd_momentum", "rmsprop"])
def test_resumed_training_is_bit_identical(tmp_path, opt):
    def make_opt():
        return {
            "adam": lambda: optimizers.Adam(0.01),
            "rmsprop": lambda: optimizers.RMSprop(0.01),
            "sgd_momentum": lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
        }[opt]()

    def run_first_epoch():
        set_random_seed(1)
        model = mlp()
        model.compile(make_opt(), "mse", metrics=["mae"])
        model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
        return model

    never_stopped = run_first_epoch()
    set_random_seed(7)
    ref = never_stopped.fit(X, Y, epochs=2, batch_size=8, verbose=0).history
    stopped = run_first_epoch()
    stopped.save(tmp_path / "ckpt.keras")
    resumed = load_model(tmp_path / "ckpt.keras")
    assert int(resumed.optimizer.iterations) == 4
    set_random_seed(7)
    got = resumed.fit(X, Y, epochs=2, batch_size=8, verbose=0).history
    assert got == ref  # same floats, not merely close
    for a, b in zip(never_stopped.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- custom objects -------------------------------------------------------------------
def vae_loss(y_true, y_pred):
    return K.mean(K.square(y_pred - y_true), axis=-1) * 2.0


def mean_pred(y_true, y_pred):
    return K.mean(y_pred)


def _save_custom(tmp_path):
    model = mlp()
    model.compile("sgd", loss=vae_loss, metrics=["accuracy", mean_pred])
    model.save(tmp_path / "c.keras")
    return model


@pytest.fixture
def forget_compile_seen(monkeypatch):
    """A fresh process: nothing used in compile is remembered."""
    monkeypatch.setattr(registry, "_SEEN_OBJECTS", {})


def test_missing_custom_loss_error_names_it_where_and_the_fix(tmp_path, forget_compile_seen):
    _save_custom(tmp_path)
    registry._SEEN_OBJECTS.clear()
    with pytest.raises(ValueError) as err:
        load_model(tmp_path / "c.keras")
    msg = str(err.value)
    assert "'vae_loss'" in msg and "loss" in msg
    assert "custom_objects={'vae_loss': vae_loss}" in msg
    assert "@fitorch.saving.register_serializable()" in msg and "compile=False" in msg
    # Inference needs nothing: compile=False always works.
    loaded = load_model(tmp_path / "c.keras", compile=False)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), _predict_saved(tmp_path))


def _predict_saved(tmp_path):
    return load_model(tmp_path / "c.keras", compile=False).predict(X, verbose=0)


def test_missing_custom_metric_names_metric(tmp_path, forget_compile_seen):
    _save_custom(tmp_path)
    registry._SEEN_OBJECTS.clear()
    with pytest.raises(
        ValueError, match=r"(?s)metric .mean_pred.*custom_objects=\{'mean_pred': mean_pred\}"
    ):
        load_model(tmp_path / "c.keras", custom_objects={"vae_loss": vae_loss})


def _check_custom_loaded(model, tmp_path):
    loaded_loss = model.compiled_loss.identifiers[0]
    assert loaded_loss is vae_loss
    hist = model.fit(X, Y, epochs=1, batch_size=32, verbose=0, shuffle=False).history
    assert set(hist) == {"loss", "accuracy", "mean_pred"}


def test_custom_objects_argument(tmp_path, forget_compile_seen):
    _save_custom(tmp_path)
    registry._SEEN_OBJECTS.clear()
    model = load_model(
        tmp_path / "c.keras", custom_objects={"vae_loss": vae_loss, "mean_pred": mean_pred}
    )
    _check_custom_loaded(model, tmp_path)


def test_custom_object_scope(tmp_path, forget_compile_seen):
    _save_custom(tmp_path)
    registry._SEEN_OBJECTS.clear()
    with saving.custom_object_scope({"vae_loss": vae_loss, "mean_pred": mean_pred}):
        model = load_model(tmp_path / "c.keras")
    _check_custom_loaded(model, tmp_path)


def test_register_serializable_records_package_name(tmp_path, forget_compile_seen, monkeypatch):
    monkeypatch.setattr(registry, "_CUSTOM_OBJECTS", {})
    monkeypatch.setattr(registry, "_CUSTOM_NAMES", {})
    saving.register_serializable("my_pkg")(vae_loss)
    saving.register_serializable("my_pkg")(mean_pred)
    _save_custom(tmp_path)
    with zipfile.ZipFile(tmp_path / "c.keras") as zf:
        cc = json.loads(zf.read("config.json"))["compile_config"]
    assert cc["loss"] == {
        "module": __name__,
        "class_name": "function",
        "config": "my_pkg>vae_loss",
        "registered_name": "function",
    }
    registry._SEEN_OBJECTS.clear()
    _check_custom_loaded(load_model(tmp_path / "c.keras"), tmp_path)


def test_compile_seen_objects_load_in_the_same_process(tmp_path):
    _save_custom(tmp_path)  # compile() remembered vae_loss and mean_pred
    _check_custom_loaded(load_model(tmp_path / "c.keras"), tmp_path)


@saving.register_serializable("test_saving")
class ScaledDense(layers.Layer):
    """A custom layer with its own constructor argument and config."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale

    def build(self, input_shape):
        self.add_weight("kernel", (input_shape[-1], self.units), "glorot_uniform")

    def call(self, x):
        return self.scale * (x @ self.kernel)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


@saving.register_serializable("test_saving")
class TwoTower(Model):
    """A subclassed model: built lazily by its first call."""

    def __init__(self, width=4, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.left = layers.Dense(width, activation="relu")
        self.right = ScaledDense(1, scale=0.5)

    def call(self, x):
        return self.right(self.left(x))

    def get_config(self):
        return {**super().get_config(), "width": self.width}


def test_custom_layer_and_subclassed_model_roundtrip(tmp_path):
    seq = Sequential([layers.Dense(4, input_shape=(3,)), ScaledDense(2, scale=3.0)])
    seq.save(tmp_path / "s.keras")
    loaded = load_model(tmp_path / "s.keras")
    assert isinstance(loaded.layers[1], ScaledDense) and loaded.layers[1].scale == 3.0
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), seq.predict(X, verbose=0))

    sub = TwoTower(width=5)
    sub.compile("adam", "mse")
    sub.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    sub.save(tmp_path / "t.keras")
    again = load_model(tmp_path / "t.keras")
    assert isinstance(again, TwoTower) and again.width == 5
    np.testing.assert_array_equal(again.predict(X, verbose=0), sub.predict(X, verbose=0))
    assert int(again.optimizer.iterations) == 2


def test_lambda_layer_needs_unsafe_mode(tmp_path):
    model = Sequential([layers.Dense(2, input_shape=(3,)), layers.Lambda(lambda t: t * 3.0 + 1.0)])
    model.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match=r"(?s)arbitrary code.*safe_mode=False"):
        load_model(tmp_path / "lam.keras")
    loaded = load_model(tmp_path / "lam.keras", safe_mode=False)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_lambda_with_registered_function_loads_in_safe_mode(tmp_path):
    model = Sequential([layers.Dense(2, input_shape=(3,)), layers.Lambda(mean_pred_like)])
    model.save(tmp_path / "lam.keras")
    loaded = load_model(tmp_path / "lam.keras")
    assert loaded.layers[1].function is mean_pred_like
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


@saving.register_serializable("test_saving")
def mean_pred_like(x):
    return x - x.mean(dim=-1, keepdim=True)


def test_torch_optimizer_and_torch_loss_roundtrip(tmp_path):
    model = mlp()
    model.compile(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.5), torch.nn.L1Loss())
    model.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "t.keras")
    loaded = load_model(tmp_path / "t.keras")
    assert type(loaded.optimizer) is torch.optim.SGD
    assert loaded.optimizer.param_groups[0]["momentum"] == 0.5
    ref_state = model.optimizer.state_dict()["state"]
    got_state = loaded.optimizer.state_dict()["state"]
    for k in ref_state:
        torch.testing.assert_close(got_state[k]["momentum_buffer"], ref_state[k]["momentum_buffer"])
    set_random_seed(3)
    h1 = model.fit(X, Y, epochs=1, batch_size=8, verbose=0).history
    set_random_seed(3)
    h2 = loaded.fit(X, Y, epochs=1, batch_size=8, verbose=0).history
    assert h1 == h2


# -- atomic writes --------------------------------------------------------------------
def test_interrupted_save_leaves_previous_file_loadable(tmp_path, monkeypatch):
    from fitorch.saving import archive

    model = mlp()
    path = tmp_path / "m.keras"
    model.save(path)
    before = model.predict(X, verbose=0)
    with torch.no_grad():
        model.layers[0].kernel.add_(1.0)
    calls = []

    def failing(zf, name, data):
        calls.append(name)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        zf.writestr(name, data)

    monkeypatch.setattr(archive, "_write_member", failing)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert os.listdir(tmp_path) == ["m.keras"]  # no temporary file left behind
    monkeypatch.undo()
    np.testing.assert_array_equal(load_model(path).predict(X, verbose=0), before)


def test_overwrite_false_refuses(tmp_path):
    model = mlp()
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=False"):
        model.save(tmp_path / "m.keras", overwrite=False)


# -- weights only ---------------------------------------------------------------------
def test_seed_weight_filename_is_safetensors_and_roundtrips(tmp_path):
    model, other = mlp(), mlp()
    path = str(tmp_path / "model") + str(3) + ".weight"  # the seed's ModelCheckpoint name
    model.save_weights(path)
    tensors = safetensors.torch.load_file(path)  # readable by the safetensors package
    assert set(tensors) == set(model.state_dict())
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(X, verbose=0), model.predict(X, verbose=0))


def test_refused_load_leaves_weights_untouched_and_skip_mismatch_loads_the_rest(tmp_path):
    src = Sequential([layers.Dense(8, input_shape=(3,)), layers.Dropout(0.1), layers.Dense(2)])
    src.save_weights(tmp_path / "w.safetensors")
    dst = mlp()
    before = dst.get_weights()
    with pytest.raises(
        ValueError, match=r"(?s)nothing was loaded.*_stack.2.kernel: shape \(8, 2\)"
    ):
        dst.load_weights(tmp_path / "w.safetensors")
    for a, b in zip(dst.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match="Skipped loading"):
        dst.load_weights(tmp_path / "w.safetensors", skip_mismatch=True)
    np.testing.assert_array_equal(dst.get_weights()[0], src.get_weights()[0])
    np.testing.assert_array_equal(dst.get_weights()[2], before[2])


def test_dtype_mismatch_is_refused(tmp_path):
    model = mlp()
    state = {k: v.double() for k, v in model.state_dict().items()}
    safetensors.torch.save_file(state, tmp_path / "w64.safetensors")
    with pytest.raises(ValueError, match="dtype torch.float64 in the file, torch.float32"):
        model.load_weights(tmp_path / "w64.safetensors")


def test_h5_weights_roundtrip_and_layout(tmp_path):
    import h5py

    model, other = graph_model(), graph_model()
    model.save_weights(tmp_path / "g.weights.h5")
    with h5py.File(tmp_path / "g.weights.h5") as f:
        assert f["layers/dense/vars"].attrs["name"] == "shared"
        np.testing.assert_array_equal(
            f["layers/dense/vars/0"][()], model.get_layer("shared").get_weights()[0]
        )
    other.load_weights(tmp_path / "g.weights.h5")
    for a, b in zip(other.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_load_weights_from_a_keras_archive(tmp_path):
    model, other = mlp(), mlp()
    model.save(tmp_path / "m.keras")
    other.load_weights(tmp_path / "m.keras")
    np.testing.assert_array_equal(other.predict(X, verbose=0), model.predict(X, verbose=0))


def test_unbuilt_model_cannot_save_or_load_weights(tmp_path):
    with pytest.raises(ValueError, match="has no weights yet"):
        Sequential([layers.Dense(2)]).save_weights(tmp_path / "w.weight")


def test_builtin_function_loss_and_metric_objects_roundtrip(tmp_path):
    model = mlp()
    model.compile(
        "adam",
        loss=losses.mean_absolute_error,
        metrics=[metrics.RootMeanSquaredError(name="rmse"), losses.Huber(delta=0.5)],
    )
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    cc = loaded.get_compile_config()
    assert cc["loss"] is losses.mean_absolute_error
    assert (
        isinstance(cc["metrics"][0], metrics.RootMeanSquaredError)
        and cc["metrics"][0].name == "rmse"
    )
    assert (
        isinstance(cc["metrics"][1], losses.Huber) and cc["metrics"][1].get_config()["delta"] == 0.5
    )


# -- wrapped torch modules ------------------------------------------------------------
def torch_net():
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))


def test_wrapped_torch_module_reloads_given_the_module(tmp_path):
    model = Model.wrap(torch_net())
    model.compile("adam", "mse")
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "w.keras")
    with pytest.raises(ValueError, match=r"custom_objects=\{'Sequential': Sequential\(\.\.\.\)\}"):
        load_model(tmp_path / "w.keras")
    loaded = load_model(tmp_path / "w.keras", custom_objects={"Sequential": torch_net()})
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert int(loaded.optimizer.iterations) == 2


def test_torch_module_inside_a_sequential(tmp_path):
    # The torch container's class name must not capture fitorch's own Sequential record.
    model = Sequential([layers.Dense(3, input_shape=(3,)), torch_net()])
    model.save(tmp_path / "s.keras")
    loaded = load_model(tmp_path / "s.keras", custom_objects={"Sequential": torch_net()})
    assert isinstance(loaded, Sequential)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_keras2_functional_h5_file_loads(tmp_path):
    """A tf.keras 2 style file: class 'Model', list-form inbound_nodes, ':0' weight names."""
    import h5py

    kernel = RNG.normal(size=(3, 2)).astype("float32")
    bias = np.array([0.5, -0.25], "float32")
    config = {"class_name": "Model", "config": {"name": "model", "layers": [
        {"name": "input_1", "class_name": "InputLayer", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "input_1"}},
        {"name": "dense", "class_name": "Dense", "inbound_nodes": [[["input_1", 0, 0, {}]]],
         "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 2,
                    "activation": "relu", "use_bias": True,
                    "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
                    "bias_initializer": {"class_name": "Zeros", "config": {}}}}],
        "input_layers": [["input_1", 0, 0]], "output_layers": [["dense", 0, 0]]}}  # fmt: skip
    with h5py.File(tmp_path / "k2.h5", "w") as f:
        f.attrs["keras_version"] = "2.4.0"
        f.attrs["model_config"] = json.dumps(config)
        sgd = {"class_name": "SGD", "config": {"learning_rate": 0.1}}
        f.attrs["training_config"] = json.dumps(
            {"loss": "mae", "metrics": ["mse"], "optimizer_config": sgd}
        )
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = [b"input_1", b"dense"]
        weights.create_group("input_1").attrs["weight_names"] = []
        group = weights.create_group("dense")
        group.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        group["dense/kernel:0"] = kernel
        group["dense/bias:0"] = bias
    model = load_model(tmp_path / "k2.h5")
    np.testing.assert_allclose(
        model.predict(X, verbose=0), np.maximum(X @ kernel + bias, 0), rtol=1e-6
    )
    assert model.get_compile_config()["loss"] == "mae"
    assert isinstance(model.optimizer, optimizers.SGD) and model.optimizer.learning_rate == 0.1


class Unregistered(layers.Layer):
    def call(self, x):
        return x * 2.0


def test_missing_custom_layer_error_names_the_layer_and_the_fix(tmp_path):
    model = Sequential([layers.Dense(2, input_shape=(3,)), Unregistered(name="doubler")])
    model.save(tmp_path / "u.keras")
    with pytest.raises(ValueError) as err:
        load_model(tmp_path / "u.keras")
    msg = str(err.value)
    assert "Unknown layer 'Unregistered'" in msg and "layer 'doubler'" in msg
    assert "custom_objects={'Unregistered': Unregistered}" in msg and "class Unregistered" in msg
    loaded = load_model(tmp_path / "u.keras", custom_objects={"Unregistered": Unregistered})
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_keras_spellings_of_the_saving_api():
    assert saving.register_keras_serializable is saving.register_serializable
    assert saving.CustomObjectScope is saving.custom_object_scope
    record = saving.serialize_keras_object(losses.Huber(delta=2.0))
    assert record["class_name"] == "Huber" and record["config"]["delta"] == 2.0
    assert saving.deserialize_keras_object(record, "loss").get_config()["delta"] == 2.0


def test_h5_with_weights_for_layers_the_model_lacks_is_refused(tmp_path):
    bigger = Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(4), layers.Dense(1)])
    bigger.save_weights(tmp_path / "big.weights.h5")
    smaller = Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(4)])
    before = smaller.get_weights()
    with pytest.raises(ValueError, match="layers/dense_2/vars: weights in the file for no layer"):
        smaller.load_weights(tmp_path / "big.weights.h5")
    for a, b in zip(smaller.get_weights(), before):
        np.testing.assert_array_equal(a, b)

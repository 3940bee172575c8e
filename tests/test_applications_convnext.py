"""ConvNeXt and its LayerScale / StochasticDepth layers against Keras 3 (torch backend): the
same architecture built by both, Keras's weights copied in, equal layer names, weight names and
shapes, parameter counts and outputs; a Keras 2 (tf-keras) weight file loads to tf-keras's
outputs."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from keras.src.applications import convnext as keras_convnext  # noqa: E402

import fitorch  # noqa: E402
from fitorch import applications  # noqa: E402
from fitorch.applications import convnext  # noqa: E402
from tests._applications_oracle import compare, compare_structure  # noqa: E402

_FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
_MINI = dict(depths=[1, 1, 2, 1], projection_dims=[8, 16, 24, 32])


def _pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (2, *shape)).astype("float32")


def _with_random_scales(ker_model, seed=0):
    """Keras's weights with every LayerScale gamma drawn from U(0.5, 1.5) instead of 1e-6, so
    every block changes the output (with 1e-6 the blocks are nearly the identity)."""
    rng = np.random.default_rng(seed)
    for layer in ker_model.layers:
        if type(layer).__name__ == "LayerScale":
            layer.set_weights([rng.uniform(0.5, 1.5, layer.weights[0].shape).astype("float32")])
    return ker_model


# -- architectures ------------------------------------------------------------------------
@pytest.mark.parametrize("pooling", [None, "avg", "max"])
def test_convnext_builder_with_stochastic_depth_equals_keras(pooling):
    """Keras's own builder (not exported) with small stages: StochasticDepth layers in the
    blocks (rates 0 ... 0.3), automatic LayerNormalization after the pooling."""
    kw = dict(
        **_MINI,
        drop_path_rate=0.3,
        name="mini",
        include_top=False,
        input_shape=(32, 32, 3),
        pooling=pooling,
    )
    fit_model = convnext.ConvNeXt(**kw)
    ker_model = _with_random_scales(keras_convnext.ConvNeXt(**kw), seed=1)
    out = compare(fit_model, ker_model, _pixels((32, 32, 3), seed=1))
    assert out.shape == ((2, 1, 1, 32) if pooling is None else (2, 32))
    depth_rates = [
        x.drop_path_rate for x in fit_model.layers if isinstance(x, convnext.StochasticDepth)
    ]
    np.testing.assert_allclose(depth_rates, [0.075, 0.15, 0.225, 0.3])  # linspace(0, .3, 5)[1:]


def test_convnext_without_layer_scale_or_preprocessing_equals_keras():
    kw = dict(
        **_MINI,
        layer_scale_init_value=None,
        name="plain",
        include_preprocessing=False,
        input_shape=(40, 40, 3),
        classes=3,
    )
    fit_model = convnext.ConvNeXt(**kw)
    ker_model = keras_convnext.ConvNeXt(**kw)
    compare(fit_model, ker_model, _pixels((40, 40, 3), seed=2) / 255.0)
    kinds = {type(x).__name__ for x in fit_model.layers}
    assert "LayerScale" not in kinds and "Normalization" not in kinds


def test_convnext_skips_preprocessing_for_one_channel_as_keras():
    kw = dict(**_MINI, name="gray", include_top=False, input_shape=(32, 32, 1), pooling="avg")
    fit_model = convnext.ConvNeXt(**kw)
    ker_model = keras_convnext.ConvNeXt(**kw)
    compare(fit_model, ker_model, _pixels((32, 32, 1), seed=3))
    assert not any(type(x).__name__ == "Normalization" for x in fit_model.layers)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ConvNeXtSmall", "ConvNeXtBase"])
def test_convnext_small_and_base_structure_equals_keras(name):
    kw = dict(weights=None, include_top=False, input_shape=(32, 32, 3))
    compare_structure(getattr(applications, name)(**kw), getattr(keras.applications, name)(**kw))


def test_convnext_tables_equal_keras():
    """Stage configurations, weight URLs and hashes are Keras's (the variants' parameter counts
    then follow; all five were built once by hand: 28,589,128 / 50,223,688 / 88,591,464 /
    197,767,336 / 350,196,968 with the 1000-class top, equal to Keras)."""
    assert convnext.MODEL_CONFIGS == keras_convnext.MODEL_CONFIGS
    assert convnext.WEIGHTS_HASHES == keras_convnext.WEIGHTS_HASHES
    assert convnext.BASE_WEIGHTS_PATH == keras_convnext.BASE_WEIGHTS_PATH
    for variant in ("Tiny", "Small", "Base", "Large", "XLarge"):
        assert getattr(applications, f"ConvNeXt{variant}").__name__ == f"ConvNeXt{variant}"
        assert getattr(applications.convnext, f"ConvNeXt{variant}") is getattr(
            applications, f"ConvNeXt{variant}"
        )


# -- weights ------------------------------------------------------------------------------
def test_keras2_weight_file_from_tf_keras_gives_tf_keras_outputs():
    """tf-keras (which wrote Keras's published files) saved a small ConvNeXt in the Keras 2
    HDF5 layout: nested Sequential stem/downsampling entries, LayerScale `gamma`, stochastic
    depth; fitorch loads it by layer order and reproduces tf-keras's outputs."""
    model = convnext.ConvNeXt(
        [1, 1, 2, 1],
        [4, 8, 12, 16],
        drop_path_rate=0.2,
        name="convnext_mini",
        input_shape=(32, 32, 3),
        classes=5,
        classifier_activation=None,
        weights=os.path.join(_FIXTURES, "convnext_mini_tf_keras.h5"),
    )
    data = np.load(os.path.join(_FIXTURES, "convnext_mini_tf_keras.npz"))
    np.testing.assert_allclose(model.predict(data["x"], verbose=0), data["y"], atol=1e-4, rtol=1e-4)


def test_convnext_tiny_imagenet_weights_equal_keras(tmp_path, monkeypatch):
    """ConvNeXtTiny is Keras's layer for layer; weights='imagenet' asks for Keras's file name,
    URL and sha256, and the file (here a stand-in: Keras 3's model, LayerScale gammas made
    non-trivial, written in the Keras 2 layout of the published files) loads to Keras's
    outputs."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    from fitorch.applications import imagenet_utils

    kw = dict(include_top=False, input_shape=(32, 32, 3), pooling="avg")
    ker_model = _with_random_scales(keras.applications.ConvNeXtTiny(weights=None, **kw), seed=4)
    stand_in = tmp_path / "convnext_tiny_notop.h5"
    with h5py.File(stand_in, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, ker_model)
    asked = []

    def fake_get_weights_file(fname, origin, expected_hash=None):
        asked.append((fname, origin, expected_hash))
        return str(stand_in)

    monkeypatch.setattr(imagenet_utils, "get_weights_file", fake_get_weights_file)
    model = applications.ConvNeXtTiny(weights="imagenet", **kw)
    compare_structure(model, ker_model)
    assert model.layers[1].name == "convnext_tiny_prestem_normalization"
    assert [type(x).__name__ for x in model.layers[2].layers] == ["Conv2D", "LayerNormalization"]
    assert asked == [
        (
            "convnext_tiny_notop.h5",
            keras_convnext.BASE_WEIGHTS_PATH + "convnext_tiny_notop.h5",
            keras_convnext.WEIGHTS_HASHES["convnext_tiny"][1],
        )
    ]
    x = _pixels((32, 32, 3), seed=4)
    want = np.asarray(ker_model(x, training=False).detach())
    assert want.shape == (2, 768) and np.abs(want).max() > 1e-2
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-4, rtol=1e-4)


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="weights_name"):
        convnext.ConvNeXt(**_MINI, weights="imagenet", include_top=False)
    with pytest.raises(ValueError, match=r"depths=\[3, 3, 9, 3\]"):
        convnext.ConvNeXt(
            **_MINI, weights="imagenet", include_top=False, weights_name="convnext_tiny"
        )
    with pytest.raises(ValueError, match="classes must be 1000"):
        applications.ConvNeXtTiny(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="depths must be 4 positive integers"):
        convnext.ConvNeXt([1, 1, 1], [8, 16, 24, 32], include_top=False)
    with pytest.raises(ValueError, match="pooling must be None, 'avg' or 'max'"):
        convnext.ConvNeXt(**_MINI, include_top=False, input_shape=(32, 32, 3), pooling="sum")
    with pytest.raises(ValueError, match="at least 32x32"):
        convnext.ConvNeXt(**_MINI, include_top=False, input_shape=(16, 16, 3))
    fitorch.backend.set_image_data_format("channels_first")
    try:
        with pytest.raises(ValueError, match="channels_last"):
            convnext.ConvNeXt(**_MINI, include_top=False)
    finally:
        fitorch.backend.set_image_data_format("channels_last")


def test_preprocess_input_is_the_identity_and_decode_predictions_is_imagenet():
    x = _pixels((4, 4, 3))
    assert convnext.preprocess_input(x) is x
    assert keras_convnext.preprocess_input(x) is x
    assert convnext.decode_predictions is applications.imagenet_utils.decode_predictions


def test_save_and_load_model_round_trip(tmp_path):
    model = convnext.ConvNeXt(**_MINI, drop_path_rate=0.2, input_shape=(32, 32, 3), classes=3)
    x = _pixels((32, 32, 3), seed=5)
    model.save(tmp_path / "m.keras")
    loaded = fitorch.models.load_model(tmp_path / "m.keras")
    assert [type(x).__name__ for x in loaded.layers] == [type(x).__name__ for x in model.layers]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


# -- LayerScale and StochasticDepth -------------------------------------------------------
def test_layer_scale_multiplies_the_last_axis_and_matches_keras_config():
    layer = convnext.LayerScale(0.5, 3, name="ls")
    x = torch.arange(6.0).reshape(2, 3)
    torch.testing.assert_close(layer(x), x * 0.5)
    assert [w.name for w in layer.weights] == ["variable"]
    assert layer.gamma is layer.weights[0]
    with torch.no_grad():
        layer.gamma.copy_(torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(layer(x), torch.tensor([[0.0, 2.0, 6.0], [3.0, 8.0, 15.0]]))
    config = layer.get_config()
    ker_config = keras_convnext.LayerScale(0.5, 3, name="ls").get_config()
    assert {k: config[k] for k in ("name", "init_values", "projection_dim", "trainable")} == {
        k: ker_config[k] for k in ("name", "init_values", "projection_dim", "trainable")
    }
    clone = convnext.LayerScale.from_config(config)
    torch.testing.assert_close(clone(x), x * 0.5)


def test_layer_scale_errors_name_the_argument():
    with pytest.raises(TypeError, match="init_values must be a number; got 'big'"):
        convnext.LayerScale("big", 3)
    with pytest.raises(ValueError, match="projection_dim must be positive; got 0"):
        convnext.LayerScale(0.1, 0)
    with pytest.raises(ValueError, match="projection_dim=3; got input shape"):
        convnext.LayerScale(0.1, 3)(torch.ones(2, 4))


def test_stochastic_depth_drops_whole_samples_in_training_only():
    layer = convnext.StochasticDepth(0.25)
    x = torch.rand(4000, 2, 2, 3) + 1.0
    torch.testing.assert_close(layer(x), x)  # inference: identity
    torch.testing.assert_close(layer(x, training=False), x)
    out = layer(x, training=True)
    ratio = out / x
    per_sample = ratio.reshape(4000, -1)
    # Each sample is either all kept (scaled by 1 / 0.75) or all dropped.
    assert torch.all((per_sample.max(1).values - per_sample.min(1).values).abs() < 1e-5)
    first = per_sample[:, 0]
    assert torch.all((first == 0) | ((first - 1 / 0.75).abs() < 1e-5))
    kept = (per_sample[:, 0] > 0).float().mean().item()
    assert abs(kept - 0.75) < 0.03  # binomial std at n=4000: 0.007
    assert (
        convnext.StochasticDepth(0.25, name="sd").get_config()["drop_path_rate"]
        == (keras_convnext.StochasticDepth(0.25, name="sd").get_config()["drop_path_rate"])
    )


def test_stochastic_depth_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"drop_path_rate must be in \[0, 1\); got 1.0"):
        convnext.StochasticDepth(1.0)
    with pytest.raises(TypeError, match="drop_path_rate must be a number; got None"):
        convnext.StochasticDepth(None)

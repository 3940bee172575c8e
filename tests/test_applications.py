"""fitorch.applications against Keras 3 (torch backend) as the oracle: the same architecture
built by both, Keras's weights copied in, equal layer names, weight shapes, parameter counts
and outputs; plus the imagenet weights path, freezing and the transfer-learning guide."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fitorch import applications  # noqa: E402


def _names(model):
    # Auto-named layers (no name in the architecture) carry per-session counters in Keras.
    return [layer.name for layer in model.layers]


def _compare(fit_model, ker_model, x, atol=1e-4, auto_named=()):
    """Same names (auto-named layer types compared by type), shapes, counts and outputs."""
    fit_layers, ker_layers = fit_model.layers, ker_model.layers
    assert len(fit_layers) == len(ker_layers)
    for f, k in zip(fit_layers, ker_layers, strict=True):
        assert type(f).__name__ == type(k).__name__, (f.name, k.name)
        if type(k).__name__ not in (*auto_named, "InputLayer"):
            assert f.name == k.name
    assert fit_model.name == ker_model.name
    assert fit_model.count_params() == ker_model.count_params()
    ker_w = ker_model.get_weights()
    assert [w.shape for w in fit_model.get_weights()] == [w.shape for w in ker_w]
    fit_model.set_weights(ker_w)
    want = np.asarray(ker_model(x, training=False).detach().cpu())
    got = fit_model.predict(x, verbose=0)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=atol, rtol=1e-4)
    return got


def _images(shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (2, *shape)).astype("float32")


# -- VGG ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["VGG16", "VGG19"])
def test_vgg_without_top_equals_keras(name):
    kw = dict(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
    fit_model = getattr(applications, name)(**kw)
    ker_model = getattr(keras.applications, name)(**kw)
    out = _compare(fit_model, ker_model, _images((32, 32, 3)), auto_named=("GlobalMaxPooling2D",))
    assert out.shape == (2, 512)
    assert fit_model.count_params() == {"VGG16": 14_714_688, "VGG19": 20_024_384}[name]


def test_vgg16_top_small_classes_equals_keras():
    kw = dict(weights=None, input_shape=(32, 32, 3), classes=3)
    fit_model, ker_model = applications.VGG16(**kw), keras.applications.VGG16(**kw)
    out = _compare(fit_model, ker_model, _images((32, 32, 3), seed=1))
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)  # softmax top
    assert [layer.name for layer in fit_model.layers[-4:]] == [
        "flatten",
        "fc1",
        "fc2",
        "predictions",
    ]


def test_vgg_full_imagenet_shape_counts_params():
    model = applications.VGG16(weights=None)
    assert model.count_params() == 138_357_544
    assert tuple(model.inputs[0].shape) == (None, 224, 224, 3)


# -- ResNet -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ResNet50", "ResNet50V2"])
def test_resnet_equals_keras(name):
    kw = dict(weights=None, input_shape=(32, 32, 3), classes=5)
    fit_model = getattr(applications, name)(**kw)
    ker_model = getattr(keras.applications, name)(**kw)
    out = _compare(fit_model, ker_model, _images((32, 32, 3)), auto_named=("MaxPooling2D",))
    assert out.shape == (2, 5)


@pytest.mark.parametrize(
    "name, params",
    [
        ("ResNet101", 44_707_176),
        ("ResNet152", 60_419_944),
        ("ResNet101V2", 44_675_560),
        ("ResNet152V2", 60_380_648),
    ],
)
def test_deep_resnets_layer_names_and_params_equal_keras(name, params):
    fit_model = getattr(applications, name)(weights=None, include_top=True)
    assert fit_model.count_params() == params  # Keras's published counts
    ker_model = getattr(keras.applications, name)(
        weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg"
    )
    fit_notop = getattr(applications, name)(
        weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg"
    )
    names = [
        lay.name
        for lay in ker_model.layers
        if type(lay).__name__ not in ("InputLayer", "MaxPooling2D")
    ]
    assert [
        lay.name
        for lay in fit_notop.layers
        if type(lay).__name__ not in ("InputLayer", "MaxPooling2D")
    ] == names
    assert fit_notop.count_params() == ker_model.count_params()
    assert len(fit_model.layers) == len(ker_model.layers) + 1  # + predictions
    assert [w.shape for w in fit_notop.get_weights()] == [w.shape for w in ker_model.get_weights()]


# -- MobileNets ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        dict(input_shape=(32, 32, 3), classes=5, alpha=0.35),
        dict(input_shape=(35, 35, 3), include_top=False, pooling="avg", alpha=1.3),  # odd pad
    ],
)
def test_mobilenet_v2_equals_keras(kw):
    fit_model = applications.MobileNetV2(weights=None, **kw)
    ker_model = keras.applications.MobileNetV2(weights=None, **kw)
    _compare(
        fit_model, ker_model, _images(kw["input_shape"]), auto_named=("GlobalAveragePooling2D",)
    )


def test_mobilenet_v2_default_is_keras_size():
    model = applications.MobileNetV2(weights=None)
    assert model.name == "mobilenetv2_1.00_224"
    assert model.count_params() == 3_538_984


@pytest.mark.parametrize(
    "kw",
    [
        dict(input_shape=(32, 32, 3), classes=5, alpha=0.25),
        dict(input_shape=(35, 35, 3), include_top=False, depth_multiplier=2, alpha=0.5),
    ],
)
def test_mobilenet_equals_keras(kw):
    fit_model = applications.MobileNet(weights=None, **kw)
    ker_model = keras.applications.MobileNet(weights=None, **kw)
    _compare(
        fit_model, ker_model, _images(kw["input_shape"]), auto_named=("GlobalAveragePooling2D",)
    )


def test_mobilenet_default_params():
    model = applications.MobileNet(weights=None)
    assert (model.name, model.count_params()) == ("mobilenet_1.00_224", 4_253_864)

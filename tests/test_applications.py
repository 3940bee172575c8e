"""fitorch.applications against Keras 3 (torch backend) as the oracle: the same architecture
built by both, Keras's weights copied in, equal layer names, weight shapes, parameter counts
and outputs; plus the imagenet weights path, freezing and the transfer-learning guide."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import fitorch  # noqa: E402
from fitorch import applications  # noqa: E402
from tests._applications_oracle import compare as _compare  # noqa: E402
from tests._applications_oracle import images as _images  # noqa: E402


# -- VGG ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["VGG16", "VGG19"])
def test_vgg_without_top_equals_keras(name):
    kw = dict(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
    fit_model = getattr(applications, name)(**kw)
    ker_model = getattr(keras.applications, name)(**kw)
    out = _compare(fit_model, ker_model, _images((32, 32, 3)))
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
    out = _compare(fit_model, ker_model, _images((32, 32, 3)))
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
    _compare(fit_model, ker_model, _images(kw["input_shape"]))


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
    _compare(fit_model, ker_model, _images(kw["input_shape"]))


def test_mobilenet_default_params():
    model = applications.MobileNet(weights=None)
    assert (model.name, model.count_params()) == ("mobilenet_1.00_224", 4_253_864)


@pytest.mark.parametrize(
    "name, kw",
    [
        ("MobileNetV3Small", dict(input_shape=(32, 32, 3), classes=5)),
        ("MobileNetV3Large", dict(input_shape=(33, 33, 3), classes=5, alpha=0.75)),
        ("MobileNetV3Large", dict(input_shape=(32, 32, 3), classes=3, alpha=1.25)),
        (
            "MobileNetV3Small",
            dict(
                input_shape=(32, 32, 3),
                include_top=False,
                pooling="avg",
                minimalistic=True,
                include_preprocessing=False,
            ),
        ),
    ],
)
def test_mobilenet_v3_equals_keras(name, kw):
    fit_model = getattr(applications, name)(weights=None, **kw)
    ker_model = getattr(keras.applications, name)(weights=None, **kw)
    x = np.random.default_rng(0).uniform(0, 255, (2, *kw["input_shape"])).astype("float32")
    _compare(fit_model, ker_model, x)


def test_mobilenet_v3_default_params():
    assert applications.MobileNetV3Small(weights=None).count_params() == 2_554_968
    assert applications.MobileNetV3Large(weights=None).count_params() == 5_507_432


# -- DenseNet -----------------------------------------------------------------------------
def test_densenet121_equals_keras():
    kw = dict(weights=None, input_shape=(32, 32, 3), classes=5)
    fit_model, ker_model = applications.DenseNet121(**kw), keras.applications.DenseNet121(**kw)
    _compare(fit_model, ker_model, _images((32, 32, 3)))


@pytest.mark.parametrize("name, params", [("DenseNet169", 14_307_880), ("DenseNet201", 20_242_984)])
def test_deeper_densenets_layer_names_and_params_equal_keras(name, params):
    assert getattr(applications, name)(weights=None).count_params() == params  # Keras's counts
    kw = dict(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="max")
    fit_model, ker_model = (
        getattr(applications, name)(**kw),
        getattr(keras.applications, name)(**kw),
    )
    skip = ("InputLayer", "ZeroPadding2D")
    assert [x.name for x in fit_model.layers if type(x).__name__ not in skip] == [
        x.name for x in ker_model.layers if type(x).__name__ not in skip
    ]
    assert [w.shape for w in fit_model.get_weights()] == [w.shape for w in ker_model.get_weights()]


# -- EfficientNet -------------------------------------------------------------------------
def test_efficientnet_b0_equals_keras_with_normalization_statistics():
    kw = dict(weights=None, input_shape=(32, 32, 3), classes=5)
    fit_model = applications.EfficientNetB0(**kw)
    ker_model = keras.applications.EfficientNetB0(**kw)
    norm = ker_model.layers[2]
    assert type(norm).__name__ == "Normalization"
    mean, var, count = norm.get_weights()
    norm.set_weights([mean + [0.4, 0.5, 0.6], var * [0.05, 0.06, 0.07], count])
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    _compare(fit_model, ker_model, x)


@pytest.mark.parametrize(
    "variant, params",
    [
        (1, 7_856_239),
        (2, 9_177_569),
        (3, 12_320_535),
        (4, 19_466_823),
        (5, 30_562_527),
        (6, 43_265_143),
        (7, 66_658_687),
    ],
)
def test_efficientnets_names_and_params_equal_keras(variant, params):
    name = f"EfficientNetB{variant}"
    kw = dict(weights=None, include_top=False, input_shape=(32, 32, 3))
    fit_model, ker_model = (
        getattr(applications, name)(**kw),
        getattr(keras.applications, name)(**kw),
    )
    top = (
        applications.efficientnet.round_filters(
            1280, applications.efficientnet._SCALING[f"b{variant}"][0]
        )
        * 1000
        + 1000
    )
    assert fit_model.count_params() + top == params  # Keras's counts with the top
    assert fit_model.count_params() == ker_model.count_params()
    skip = ("InputLayer", "Rescaling", "Normalization")
    assert [x.name for x in fit_model.layers if type(x).__name__ not in skip] == [
        x.name for x in ker_model.layers if type(x).__name__ not in skip
    ]
    assert [w.shape for w in fit_model.get_weights()] == [w.shape for w in ker_model.get_weights()]


# -- EfficientNetV2 ------------------------------------------------------------------------
def test_efficientnet_v2_b0_equals_keras():
    """B variants: Rescaling + fixed-statistics Normalization, fused and MBConv blocks."""
    kw = dict(weights=None, input_shape=(32, 32, 3), classes=5)
    fit_model = applications.EfficientNetV2B0(**kw)
    ker_model = keras.applications.EfficientNetV2B0(**kw)
    assert fit_model.name == "efficientnetv2-b0"
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    _compare(fit_model, ker_model, x)


def test_efficientnet_v2_s_without_top_equals_keras():
    """S/M/L: Rescaling(1/128, offset=-1); fused blocks with expansion 1 project alone."""
    kw = dict(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg")
    fit_model = applications.EfficientNetV2S(**kw)
    ker_model = keras.applications.EfficientNetV2S(**kw)
    x = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    _compare(fit_model, ker_model, x)


@pytest.mark.parametrize(
    "variant, params",
    [
        ("B1", 8_212_124),
        ("B2", 10_178_374),
        ("B3", 14_467_622),
        ("M", 54_431_388),
    ],
)
def test_efficientnet_v2_names_and_params_equal_keras(variant, params):
    """EfficientNetV2L (119,027,848 parameters, M's blocks deeper) is left out: building it in
    both libraries takes minutes on a shared CPU; it was checked the same way by hand."""
    name = f"EfficientNetV2{variant}"
    kw = dict(weights=None, input_shape=(32, 32, 3), include_preprocessing=False)
    fit_model, ker_model = (
        getattr(applications, name)(**kw),
        getattr(keras.applications, name)(**kw),
    )
    assert fit_model.count_params() == ker_model.count_params() == params
    assert [x.name for x in fit_model.layers[1:]] == [x.name for x in ker_model.layers[1:]]
    assert [w.shape for w in fit_model.get_weights()] == [w.shape for w in ker_model.get_weights()]


def test_efficientnet_v2_preprocess_input_is_the_identity():
    x = np.arange(12, dtype="float32").reshape(1, 2, 2, 3)
    assert applications.efficientnet_v2.preprocess_input(x) is x


# -- Xception -----------------------------------------------------------------------------
def test_xception_equals_keras_at_its_minimum_size():
    kw = dict(weights=None, input_shape=(71, 71, 3), classes=5)
    fit_model, ker_model = applications.Xception(**kw), keras.applications.Xception(**kw)
    _compare(fit_model, ker_model, _images((71, 71, 3)))
    assert applications.Xception(weights=None).count_params() == 22_910_480
    with pytest.raises(ValueError, match="at least 71x71"):
        applications.Xception(weights=None, include_top=False, input_shape=(70, 70, 3))


# -- InceptionV3 --------------------------------------------------------------------------
def test_inception_v3_equals_keras_at_its_minimum_size():
    kw = dict(weights=None, input_shape=(75, 75, 3), classes=5)
    fit_model, ker_model = applications.InceptionV3(**kw), keras.applications.InceptionV3(**kw)
    _compare(fit_model, ker_model, _images((75, 75, 3)))  # automatic conv2d/batch_norm names
    assert applications.InceptionV3(weights=None).count_params() == 23_851_784


# -- weights="imagenet": Keras's files, cache folder and download -------------------------
_V2_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"


def _keras2_weights_file(path):
    """A stand-in for Keras's published file: the same architecture's weights in the Keras 2
    HDF5 layout (`layer_names`/`weight_names`) that the ImageNet files use."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    ker_model = keras.applications.MobileNetV2(
        weights=None, include_top=False, alpha=0.35, input_shape=(96, 96, 3)
    )
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, ker_model)
    return ker_model


def test_imagenet_weights_come_from_the_keras_cache_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    ker_model = _keras2_weights_file(tmp_path / "models" / _V2_FILE)
    model = applications.MobileNetV2(
        weights="imagenet", include_top=False, alpha=0.35, input_shape=(96, 96, 3)
    )
    x = _images((96, 96, 3), seed=3)
    want = np.asarray(ker_model(x, training=False).detach())
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-4, rtol=1e-4)
    # weights=<path> loads the same file.
    again = applications.MobileNetV2(
        weights=str(tmp_path / "models" / _V2_FILE),
        include_top=False,
        alpha=0.35,
        input_shape=(96, 96, 3),
    )
    np.testing.assert_allclose(again.predict(x, verbose=0), want, atol=1e-4, rtol=1e-4)


def test_imagenet_weights_offline_error_names_url_and_cache_path(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(OSError) as info:
        applications.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    msg = str(info.value)
    assert (
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ) in msg
    assert str(tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5") in msg
    assert not list((tmp_path / "models").iterdir())  # no partial file left


def test_imagenet_weights_download_from_a_local_server(tmp_path, monkeypatch):
    import functools
    import http.server
    import threading

    from fitorch.applications import imagenet_utils, mobilenet_v2

    served = tmp_path / "served"
    served.mkdir()
    ker_model = _keras2_weights_file(served / _V2_FILE)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
        monkeypatch.setattr(mobilenet_v2, "_BASE", base)
        model = applications.MobileNetV2(
            weights="imagenet", include_top=False, alpha=0.35, input_shape=(96, 96, 3)
        )
        cached = tmp_path / "home" / "models" / _V2_FILE
        assert cached.read_bytes() == (served / _V2_FILE).read_bytes()
        x = _images((96, 96, 3), seed=4)
        np.testing.assert_allclose(
            model.predict(x, verbose=0),
            np.asarray(ker_model(x, training=False).detach()),
            atol=1e-4,
            rtol=1e-4,
        )
        # A hash is checked: md5 for 32 hex digits, sha256 for 64.
        md5 = imagenet_utils.file_hash(str(served / _V2_FILE), "md5")
        sha = imagenet_utils.file_hash(str(served / _V2_FILE), "sha256")
        cached.unlink()
        assert imagenet_utils.get_weights_file(_V2_FILE, base + _V2_FILE, md5) == str(cached)
        assert imagenet_utils.get_weights_file(_V2_FILE, base + _V2_FILE, sha) == str(cached)
        cached.unlink()
        with pytest.raises(ValueError, match="does not match hash"):
            imagenet_utils.get_weights_file(_V2_FILE, base + _V2_FILE, "0" * 32)
        assert not cached.exists()
    finally:
        server.shutdown()
        server.server_close()


# -- preprocess_input / decode_predictions ------------------------------------------------
@pytest.mark.parametrize(
    "module",
    [
        "vgg16",
        "vgg19",
        "resnet50",
        "resnet",
        "resnet_v2",
        "mobilenet",
        "mobilenet_v2",
        "densenet",
        "xception",
        "inception_v3",
        "efficientnet",
        "mobilenet_v3",
    ],
)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_equals_keras(module, data_format):
    x = np.random.default_rng(5).uniform(0, 255, (2, 3, 4, 3)).astype("float32")
    if data_format == "channels_first":
        x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    ours = getattr(applications, module).preprocess_input
    theirs = getattr(keras.applications, module).preprocess_input
    want = theirs(x.copy(), data_format=data_format)
    np.testing.assert_allclose(ours(x.copy(), data_format=data_format), want, rtol=1e-6, atol=1e-5)
    got_t = ours(torch.as_tensor(x), data_format=data_format)
    np.testing.assert_allclose(got_t.numpy(), want, rtol=1e-6, atol=1e-5)


def test_preprocess_input_modes_by_hand():
    from fitorch.applications.imagenet_utils import preprocess_input

    px = np.array([[[[255.0, 0.0, 127.5]]]])
    np.testing.assert_allclose(preprocess_input(px.copy(), mode="tf"), [[[[1.0, -1.0, 0.0]]]])
    np.testing.assert_allclose(
        preprocess_input(px.copy(), mode="caffe"),
        [[[[127.5 - 103.939, 0.0 - 116.779, 255.0 - 123.68]]]],  # BGR order
    )
    np.testing.assert_allclose(
        preprocess_input(px.copy(), mode="torch"),
        [[[[(1 - 0.485) / 0.229, -0.456 / 0.224, (0.5 - 0.406) / 0.225]]]],
    )
    ints = preprocess_input(np.full((1, 1, 1, 3), 255, dtype="uint8"), mode="tf")
    assert ints.dtype == np.float32 and np.all(ints == 1.0)
    with pytest.raises(ValueError, match="mode"):
        preprocess_input(px, mode="pytorch")
    with pytest.raises(ValueError, match="data_format"):
        preprocess_input(px, data_format="NHWC")


def test_decode_predictions_reads_the_cached_class_index(tmp_path, monkeypatch):
    import json

    from fitorch.applications import imagenet_utils

    index = {str(i): [f"n{i:08d}", f"label_{i}"] for i in range(1000)}
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "imagenet_class_index.json").write_text(json.dumps(index))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", None)
    monkeypatch.setattr(imagenet_utils, "_CLASS_INDEX", None)
    preds = np.zeros((2, 1000), dtype="float32")
    preds[0, [7, 3, 999]] = [0.5, 0.3, 0.2]
    preds[1, 42] = 1.0
    out = applications.vgg16.decode_predictions(preds, top=3)
    assert [t[:2] for t in out[0]] == [
        ("n00000007", "label_7"),
        ("n00000003", "label_3"),
        ("n00000999", "label_999"),
    ]
    np.testing.assert_allclose([t[2] for t in out[0]], [0.5, 0.3, 0.2])
    assert out[1][0][:2] == ("n00000042", "label_42") and len(out[1]) == 3
    with pytest.raises(ValueError, match=r"\(samples, 1000\)"):
        applications.vgg16.decode_predictions(np.zeros((2, 10)))


# -- freezing and the Keras transfer-learning guide ---------------------------------------
def _guide_data(seed=0):
    """Synthetic 32x32 RGB images in [0, 255]; label 1 when the red channel is bright."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (16, 32, 32, 3)).astype("float32")
    x[:8, ..., 0] = np.clip(x[:8, ..., 0] + 80, 0, 255)
    x[8:, ..., 0] = np.clip(x[8:, ..., 0] - 80, 0, 255)
    y = np.r_[np.ones(8), np.zeros(8)].astype("float32")
    return x, y


def _guide_weights(seed=1):
    """Base weights with non-trivial BatchNorm statistics, and a head, from Keras's layout."""
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)  # Keras's unseeded initializers draw from a global seed
    ker_base = keras.applications.MobileNetV2(
        weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3)
    )
    base_w = []
    for layer in ker_base.layers:
        ws = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":  # gamma, beta, mean, variance
            ws = [w + rng.normal(0, 0.1, w.shape).astype("float32") for w in ws[:3]] + [
                rng.uniform(0.5, 1.5, ws[3].shape).astype("float32")
            ]
        base_w += ws
    head_w = [rng.normal(0, 0.05, (1280, 1)).astype("float32"), np.zeros(1, "float32")]
    return base_w, head_w


def _guide(lib, base_w, head_w, x, y, fine_tune):
    """The guide's flow: frozen base called with training=False under a new head, fit; then
    unfreeze, recompile with a low learning rate, fit again. Returns histories and models."""
    base = lib.applications.MobileNetV2(
        weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3)
    )
    base.set_weights(base_w)
    base.trainable = False
    inputs = lib.Input(shape=(32, 32, 3))
    h = lib.layers.Rescaling(scale=1 / 127.5, offset=-1)(inputs)
    h = base(h, training=False)
    h = lib.layers.GlobalAveragePooling2D()(h)
    outputs = lib.layers.Dense(1)(h)
    model = lib.Model(inputs, outputs)
    model.layers[-1].set_weights(head_w)

    def compile_fit(lr, epochs):
        model.compile(
            optimizer=lib.optimizers.Adam(lr),
            loss=lib.losses.BinaryCrossentropy(from_logits=True),
            metrics=[lib.metrics.BinaryAccuracy()],
        )
        return model.fit(x, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0).history

    first = compile_fit(1e-3, 4)
    second = None
    if fine_tune:
        base.trainable = True
        second = compile_fit(1e-5, 2)
    return first, second, model, base


def test_trainable_false_freezes_every_nested_layer():
    base = applications.MobileNetV2(
        weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3)
    )
    n_weights = len(base.weights)
    base.trainable = False
    assert base.trainable_weights == [] and len(base.non_trainable_weights) == n_weights
    assert all(not layer.trainable for layer in base.layers)
    assert all(not w.requires_grad for w in base.weights)
    base.trainable = True
    ker_base = keras.applications.MobileNetV2(
        weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3)
    )
    assert len(base.trainable_weights) == len(
        ker_base.trainable_weights
    )  # 156: BN statistics are not
    assert len(base.non_trainable_weights) == len(ker_base.non_trainable_weights)


def test_batchnorm_in_a_frozen_model_runs_in_inference_mode_even_when_training():
    base_w, _ = _guide_weights()
    base = applications.MobileNetV2(
        weights=None, include_top=False, alpha=0.35, input_shape=(32, 32, 3)
    )
    base.set_weights(base_w)
    x = torch.as_tensor(_images((32, 32, 3), seed=7))
    inference = base.predict(x.numpy(), verbose=0)
    base.trainable = False
    base.train()
    frozen = base(x, training=True).detach().numpy()
    np.testing.assert_allclose(frozen, inference, atol=1e-5, rtol=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(base.get_weights(), base_w, strict=True))
    base.trainable = True  # a trainable model normalises with the batch statistics
    training = base(x, training=True).detach().numpy()
    assert np.abs(training - inference).max() > 1e-2


def test_transfer_learning_feature_extraction_equals_keras():
    x, y = _guide_data()
    base_w, head_w = _guide_weights()
    ours, _, model, base = _guide(fitorch, base_w, head_w, x, y, fine_tune=False)
    theirs, _, _, _ = _guide(keras, base_w, head_w, x, y, fine_tune=False)
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-4)
    np.testing.assert_allclose(ours["binary_accuracy"], theirs["binary_accuracy"])
    assert ours["loss"][-1] < ours["loss"][0]
    # The frozen base (BatchNorm statistics included) is untouched; the head learned.
    assert all(np.array_equal(a, b) for a, b in zip(base.get_weights(), base_w, strict=True))
    assert not np.array_equal(model.layers[-1].get_weights()[0], head_w[0])
    assert len(model.trainable_weights) == 2


def test_transfer_learning_fine_tuning_after_unfreezing():
    x, y = _guide_data()
    base_w, head_w = _guide_weights()
    _, second, model, base = _guide(fitorch, base_w, head_w, x, y, fine_tune=True)
    assert len(model.trainable_weights) == 2 + 156  # the base's 52 conv kernels + 52 BN pairs
    assert second["loss"][-1] < second["loss"][0]
    kernel = base.get_layer("Conv1").get_weights()[0]
    assert not np.array_equal(kernel, base_w[0])  # the base's convolutions were fine-tuned


def test_fine_tuning_equals_keras_batchnorm_trains_despite_recorded_training_false():
    """Keras 3's rule: fit's training=True replaces the training=False recorded for the base
    call, so the unfrozen base's BatchNormalization normalises with batch statistics and
    updates its moving statistics (keras-team/keras#20285); both phases' losses match."""
    x, y = _guide_data()
    base_w, head_w = _guide_weights()
    first, ours, _, base = _guide(fitorch, base_w, head_w, x, y, fine_tune=True)
    k_first, theirs, _, k_base = _guide(keras, base_w, head_w, x, y, fine_tune=True)
    np.testing.assert_allclose(first["loss"], k_first["loss"], rtol=1e-4)
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-4)
    moving_mean = base.get_layer("bn_Conv1").get_weights()[2]
    assert not np.array_equal(moving_mean, base_w[3])  # base_w: Conv1 kernel, bn_Conv1 ...
    np.testing.assert_allclose(
        moving_mean, k_base.get_layer("bn_Conv1").get_weights()[2], rtol=1e-4, atol=1e-5
    )


# -- arguments ----------------------------------------------------------------------------
def test_input_tensor_after_other_layers_uses_the_source_input():
    inputs = fitorch.Input(shape=(32, 32, 3))
    scaled = fitorch.layers.Rescaling(2.0)(inputs)
    model = applications.ResNet50(
        weights=None, include_top=False, input_tensor=scaled, pooling="avg"
    )
    assert model.inputs == [inputs]
    assert type(model.layers[1]).__name__ == "Rescaling"
    x = _images((32, 32, 3), seed=9)
    direct = applications.ResNet50(
        weights=None, include_top=False, input_shape=(32, 32, 3), pooling="avg"
    )
    direct.set_weights(model.get_weights())
    np.testing.assert_allclose(
        model.predict(x, verbose=0), direct.predict(2.0 * x, verbose=0), atol=1e-5, rtol=1e-5
    )


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="weights"):
        applications.VGG16(weights="no/such/file.h5")
    with pytest.raises(ValueError, match="classes must be 1000"):
        applications.ResNet50(weights="imagenet", classes=10)
    with pytest.raises(ValueError, match="input_shape must be"):
        applications.VGG16(weights="imagenet", input_shape=(64, 64, 3))
    with pytest.raises(ValueError, match="at least 32x32"):
        applications.MobileNetV2(weights=None, include_top=False, input_shape=(31, 31, 3))
    with pytest.raises(ValueError, match="pooling"):
        applications.VGG19(weights=None, include_top=False, input_shape=(32, 32, 3), pooling="mean")
    with pytest.raises(ValueError, match="alpha"):
        applications.MobileNetV2(weights="imagenet", alpha=0.6)
    with pytest.raises(ValueError, match="classifier_activation"):
        applications.imagenet_utils.validate_activation("relu", "imagenet")
    with pytest.raises(TypeError, match="input_tensor"):
        applications.VGG16(weights=None, include_top=False, input_tensor=torch.zeros(1, 32, 32, 3))


# -- saving -------------------------------------------------------------------------------
def test_save_and_load_model_round_trip(tmp_path):
    model = applications.MobileNetV2(weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=3)
    x = _images((32, 32, 3), seed=11)
    model.save(tmp_path / "m.keras")
    loaded = fitorch.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_save_and_load_model_round_trip_of_a_branching_model(tmp_path):
    model = applications.ResNet50(weights=None, input_shape=(32, 32, 3), classes=3)
    x = _images((32, 32, 3), seed=12)
    model.save(tmp_path / "m.keras")
    loaded = fitorch.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_save_and_load_model_round_trip_keeps_graph_ops(tmp_path):
    """MobileNetV3's hard-sigmoid arithmetic (graph ops, not Keras layers) is saved and
    rebuilt, in the same layer order."""
    model = applications.MobileNetV3Small(weights=None, input_shape=(32, 32, 3), classes=3)
    x = np.random.default_rng(13).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = fitorch.models.load_model(tmp_path / "m.keras")
    assert [x.name for x in loaded.layers] == [x.name for x in model.layers]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)

"""NASNet against Keras 3 (torch backend): the same architecture built by both, Keras's weights
copied in, equal layer names (automatic ones by pattern), weight names and shapes, parameter
counts and outputs. Keras 3 refuses `NASNetMobile` on its torch backend (an open bug there),
so the oracle is Keras's builder `NASNet(...)` called with NASNetMobile's arguments."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.applications import nasnet as keras_nasnet  # noqa: E402

from fitorch import applications  # noqa: E402
from fitorch.applications import nasnet  # noqa: E402
from tests._applications_oracle import compare  # noqa: E402

# NASNetMobile's arguments to the builder (Keras's NASNetMobile passes these).
_MOBILE = dict(
    penultimate_filters=1056,
    num_blocks=4,
    stem_block_filters=32,
    skip_reduction=False,
    filter_multiplier=2,
    default_size=224,
)


def _random_weights(ker_model, seed=0):
    """Keras's model with random weights: normal(0, 0.1), moving variances in (0.5, 1.5), so
    BatchNormalization's statistics matter."""
    rng = np.random.default_rng(seed)
    ker_model.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype("float32")
            if "moving_variance" in w.path
            else rng.normal(0.0, 0.1, w.shape).astype("float32")
            for w in ker_model.weights
        ]
    )
    return ker_model


def _images(seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")


def test_small_nasnet_equals_keras_builder_through_the_imagenet_path(tmp_path, monkeypatch):
    """One normal cell per stack, NASNetMobile's wiring (no skip_reduction): both cell kinds,
    the spatial adjust path, average pooling. weights='imagenet' asks for Keras's file name,
    URL and md5; the file (a stand-in: Keras's model in the Keras 2 layout of the published
    files) loads to Keras's outputs."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    from fitorch.applications import imagenet_utils

    kw = dict(_MOBILE, penultimate_filters=96, num_blocks=1, stem_block_filters=8)
    kw.update(include_top=False, pooling="avg", name="mini")
    ker_model = _random_weights(keras_nasnet.NASNet((32, 32, 3), weights=None, **kw))
    stand_in = tmp_path / "nasnet_mobile_no_top.h5"
    with h5py.File(stand_in, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, ker_model)
    asked = []

    def fake_get_weights_file(fname, origin, expected_hash=None):
        asked.append((fname, origin, expected_hash))
        return str(stand_in)

    monkeypatch.setattr(imagenet_utils, "get_weights_file", fake_get_weights_file)
    fit_model = nasnet.NASNet((32, 32, 3), weights="imagenet", **kw)
    base = keras_nasnet.BASE_WEIGHTS_PATH
    assert nasnet.BASE_WEIGHTS_PATH == base
    assert asked == [
        (
            "nasnet_mobile_no_top.h5",
            base + "NASNet-mobile-no-top.h5",
            "1ed92395b5b598bdda52abe5c0dbfd63",
        )
    ]
    x = _images()
    want = np.asarray(ker_model(x, training=False).detach())
    np.testing.assert_allclose(fit_model.predict(x, verbose=0), want, atol=1e-4, rtol=1e-4)
    compare(fit_model, ker_model, x)  # layers, weight names and shapes too
    names = {x.name for x in fit_model.layers}
    assert {"adjust_conv_1_stem_2", "reduction_concat_reduce_1", "normal_concat_3"} <= names


@pytest.mark.slow
def test_small_nasnet_with_skip_reduction_equals_keras_builder():
    """NASNetLarge's wiring: the cell after a reduction cell sees the cell before it."""
    kw = dict(_MOBILE, penultimate_filters=96, num_blocks=1, stem_block_filters=8)
    kw.update(skip_reduction=True, weights=None, include_top=False, pooling="max", name="mini")
    fit_model = nasnet.NASNet((32, 32, 3), **kw)
    ker_model = _random_weights(keras_nasnet.NASNet((32, 32, 3), **kw), seed=1)
    assert compare(fit_model, ker_model, _images(seed=1)).shape == (2, 96)


@pytest.mark.slow
def test_nasnet_mobile_equals_keras_at_its_minimum_size():
    """NASNetMobile (771 layers) at 32x32, the smallest input Keras accepts, with the top;
    covers the channel-projection adjust path (about 5 minutes for both libraries on a
    loaded 2-core machine)."""
    kw = dict(weights=None, classes=5)
    fit_model = applications.NASNetMobile((32, 32, 3), **kw)
    ker_model = _random_weights(
        keras_nasnet.NASNet((32, 32, 3), **_MOBILE, name="nasnet_mobile", **kw)
    )
    assert compare(fit_model, ker_model, _images(seed=2)).shape == (2, 5)
    assert "adjust_conv_projection_1" in {x.name for x in fit_model.layers}


def test_keras_refuses_nasnet_mobile_on_torch_fitorch_does_not_need_to():
    with pytest.raises(ValueError, match="torch backend"):
        keras.applications.NASNetMobile(weights=None, input_shape=(32, 32, 3))
    assert applications.NASNetMobile is nasnet.NASNetMobile


def test_argument_errors_name_the_argument():
    with pytest.raises(ValueError, match="multiple of 24 \\* filter_multiplier\\*\\*2 = 96"):
        nasnet.NASNet((32, 32, 3), penultimate_filters=100, weights=None)
    with pytest.raises(ValueError, match="static input_shape"):
        nasnet.NASNet((None, None, 3), include_top=False, weights="imagenet")
    with pytest.raises(ValueError, match="default_size=96"):
        nasnet.NASNet((96, 96, 3), include_top=False, weights="imagenet", default_size=96)
    with pytest.raises(ValueError, match="at least 32x32"):
        applications.NASNetMobile((16, 16, 3), weights=None, include_top=False)
    with pytest.raises(ValueError, match="classes must be 1000"):
        applications.NASNetMobile(weights="imagenet", classes=3)


def test_preprocess_input_equals_keras():
    x = np.random.default_rng(3).uniform(0, 255, (2, 3, 4, 3)).astype("float32")
    want = keras.applications.nasnet.preprocess_input(x.copy())
    np.testing.assert_allclose(nasnet.preprocess_input(x.copy()), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(want, x / 127.5 - 1.0, rtol=1e-6, atol=1e-6)
    assert nasnet.decode_predictions is applications.imagenet_utils.decode_predictions

"""utils/traceback_utils.py: errors leaving fit/evaluate/predict carry the user's frames only
(Keras's traceback filtering); switching it off shows fitorch's frames again."""

import os
import traceback

import numpy as np
import pytest

import fitorch
from fitorch import layers
from fitorch.callbacks import LambdaCallback
from fitorch.utils import traceback_utils

PACKAGE = os.path.dirname(os.path.abspath(fitorch.__file__)) + os.sep


def _model():
    model = fitorch.models.Sequential([layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _files(err) -> list[str]:
    return [os.path.abspath(f.filename) for f in traceback.extract_tb(err.__traceback__)]


def _internal(files) -> list[str]:
    return [f for f in files if f.startswith(PACKAGE)]


def _user_callback_error():
    def broken(epoch, logs):
        raise KeyError("user bug")

    with pytest.raises(KeyError, match="user bug") as info:
        _model().fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0,
                     callbacks=[LambdaCallback(on_epoch_end=broken)])  # fmt: skip
    return info.value


def test_user_frames_stay_and_internal_frames_go():
    files = _files(_user_callback_error())
    assert files[0] == os.path.abspath(__file__)  # the user's fit call
    assert files[-1] == os.path.abspath(__file__)  # the user's broken callback, where it raised
    # Only the re-raising entry point itself remains of fitorch (as in Keras's tracebacks).
    assert _internal(files) == [os.path.abspath(traceback_utils.__file__)]


def test_an_error_raised_by_fitorch_keeps_the_raising_frame():
    with pytest.raises(ValueError, match="Data cardinality is ambiguous") as info:
        _model().fit(np.ones((4, 3)), np.ones((5, 1)), verbose=0)
    internal = _internal(_files(info.value))
    assert internal == [os.path.abspath(traceback_utils.__file__), PACKAGE + "training/data.py"]


def test_disable_traceback_filtering_shows_internal_frames():
    traceback_utils.disable_traceback_filtering()
    try:
        assert not traceback_utils.is_traceback_filtering_enabled()
        internal = _internal(_files(_user_callback_error()))
    finally:
        traceback_utils.enable_traceback_filtering()
    assert traceback_utils.is_traceback_filtering_enabled()
    assert PACKAGE + "training/trainer.py" in internal
    assert PACKAGE + "callbacks/callback_list.py" in internal


def test_chained_causes_are_kept():
    def broken(batch, logs):
        try:
            {}["missing"]
        except KeyError as err:
            raise RuntimeError("wrapped") from err

    with pytest.raises(RuntimeError, match="wrapped") as info:
        _model().predict(np.ones((4, 3)), verbose=0,
                         callbacks=[LambdaCallback(on_predict_batch_end=broken)])  # fmt: skip
    assert isinstance(info.value.__cause__, KeyError)


def test_without_internal_frames_of_none_is_none():
    assert traceback_utils.without_internal_frames(None) is None


def test_config_switches_are_the_traceback_utils_ones():
    from fitorch import config
    from fitorch.utils import traceback_utils

    assert config.disable_traceback_filtering is traceback_utils.disable_traceback_filtering
    config.disable_traceback_filtering()
    try:
        assert not config.is_traceback_filtering_enabled()
    finally:
        config.enable_traceback_filtering()
    assert traceback_utils.is_traceback_filtering_enabled()

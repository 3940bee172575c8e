"""utils/optional.py: a missing optional package is reported when the need is declared
(`TensorBoard(...)`), naming the package and the pip command."""

import sys

import pytest

from fitorch.callbacks import TensorBoard
from fitorch.utils.optional import require


def test_require_returns_the_module():
    import json

    assert require("json", "this test") is json


def test_require_names_package_and_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` fail
    with pytest.raises(ImportError) as info:
        require("onnx", "export(format='onnx')", extra="onnx")
    assert str(info.value) == (
        "export(format='onnx') needs the 'onnx' package, which is not installed: "
        "pip install onnx (or pip install fitorch[onnx])."
    )


def test_tensorboard_without_tensorboard_fails_at_construction(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    pattern = r"TensorBoard needs the 'tensorboard' package.*pip install tensorboard \("
    with pytest.raises(ImportError, match=pattern):
        TensorBoard(log_dir=tmp_path)


def test_tensorboard_constructs_when_installed(tmp_path):
    assert TensorBoard(log_dir=tmp_path).log_dir == str(tmp_path)

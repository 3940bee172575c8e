"""saving/safetensors_io.py: tensors go through the `safetensors` package, files are memory-
mapped on load (not copied into memory), and hostile headers are refused before the package
reads anything."""

import json
import struct

import numpy as np
import pytest
import safetensors.torch
import torch

from fitorch import layers
from fitorch.models import Sequential
from fitorch.saving import safetensors_io


def _tensors():
    return {
        "f64": torch.arange(6, dtype=torch.float64).reshape(2, 3) / 7,
        "bf16": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        "i8": torch.tensor([[-3], [4]], dtype=torch.int8),
        "flag": torch.tensor([True, False]),
        "empty": torch.zeros(0, 4),
        "strided": torch.arange(12.0).reshape(3, 4).t(),  # not C-contiguous
    }


def test_encode_is_the_package_format_both_ways():
    data = safetensors_io.encode(_tensors(), {"format": "fitorch"})
    theirs = safetensors.torch.load(data)
    for name, t in _tensors().items():
        assert torch.equal(theirs[name], t.contiguous()), name
    ours, meta = safetensors_io.decode(safetensors.torch.save(_tensors_contiguous(), {"k": "v"}))
    assert meta == {"k": "v"}
    assert all(torch.equal(ours[k], v) for k, v in _tensors_contiguous().items())


def _tensors_contiguous():
    return {k: v.contiguous() for k, v in _tensors().items()}


def test_tied_tensors_are_saved_as_two_copies():
    w = torch.randn(3, 2)
    out, _ = safetensors_io.decode(safetensors_io.encode({"a": w, "b": w}))
    assert torch.equal(out["a"], w) and torch.equal(out["b"], w)


def test_unsupported_dtype_names_the_tensor():
    with pytest.raises(TypeError, match=r"tensor 'c' of dtype torch.complex64"):
        safetensors_io.encode({"c": torch.zeros(2, dtype=torch.complex64)})


def test_load_file_reads_metadata_and_device(tmp_path):
    path = tmp_path / "w.safetensors"
    safetensors.torch.save_file(_tensors_contiguous(), path, metadata={"layout": "x"})
    tensors, meta = safetensors_io.load_file(path, device="cpu")
    assert meta == {"layout": "x"}
    assert sorted(tensors) == sorted(_tensors())
    assert all(t.device.type == "cpu" for t in tensors.values())
    assert torch.equal(tensors["f64"], _tensors()["f64"])


def _rss_anon_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("RssAnon:"))
    return int(line.split()[1]) / 1024


def test_load_file_maps_the_file_instead_of_copying_it(tmp_path):
    path = tmp_path / "big.safetensors"
    safetensors.torch.save_file({f"w{i}": torch.full((2**22,), float(i)) for i in range(4)}, path)
    before = _rss_anon_mb()
    tensors, _ = safetensors_io.load_file(path)  # 64 MiB of float32
    total = sum(float(t.sum()) for t in tensors.values())  # touch every page
    grown = _rss_anon_mb() - before
    assert total == (0 + 1 + 2 + 3) * 2**22
    assert grown < 16, f"anonymous memory grew by {grown:.0f} MiB for a 64 MiB file"


def _lying(kind: str) -> bytes:
    good = safetensors_io.encode({"w": torch.ones(2, 2)})
    n = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8 : 8 + n])
    header["w"].update({"count": {"shape": [4, 4]}, "dtype": {"dtype": "PICKLE"}}[kind])
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + good[8 + n :]


@pytest.mark.parametrize(
    "kind, pattern",
    [("count", "needs 64 bytes; the header gives 16"), ("dtype", "unknown dtype 'PICKLE'")],
)
def test_hostile_files_are_refused_before_the_package_reads_them(tmp_path, kind, pattern):
    path = tmp_path / f"{kind}.safetensors"
    path.write_bytes(_lying(kind))
    with pytest.raises(ValueError, match=pattern):
        safetensors_io.load_file(path)
    with pytest.raises(ValueError, match=pattern):
        safetensors_io.decode(_lying(kind))


def test_load_weights_of_a_safetensors_file_round_trips(tmp_path):
    model = Sequential([layers.Dense(3, input_shape=(2,)), layers.Dense(1)])
    path = tmp_path / "m.safetensors"
    model.save_weights(path)
    other = Sequential([layers.Dense(3, input_shape=(2,)), layers.Dense(1)])
    other.load_weights(path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)

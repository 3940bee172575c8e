"""Hostile files loaded in a subprocess under an address-space limit (`RLIMIT_AS`, 1 GiB over
what the process holds after importing fitorch): each is refused with a ValueError naming the
file, decided from declared sizes before allocating, never a MemoryError or an allocator
error. A file that fits loads under the same limit (the limit is not what refuses)."""

import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile

import pytest

from fitorch import layers
from fitorch.models import Sequential

h5py = pytest.importorskip("h5py")
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS, /proc")

CHILD = r"""
import json, re, resource, sys
import h5py, safetensors, torch
from fitorch.models import load_model
vm = int(re.search(r"VmSize:\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 2**30, vm + 2**30))
for path in sys.argv[1:]:
    try:
        load_model(path)
        result = {"type": "loaded", "message": ""}
    except Exception as err:  # reported to the parent test, which asserts the type
        result = {"type": type(err).__name__, "message": str(err)}
    print(json.dumps(dict(result, path=path)), flush=True)
"""
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def bounded(tmp_path_factory):
    """{case name: (path, the child's result)} for every file `CASES` makes, all loaded in
    one child process (importing torch once keeps this file fast)."""
    folder = tmp_path_factory.mktemp("bounded")
    paths = {name: str(make(folder)) for name, make in CASES.items()}
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", CHILD, *paths.values()],
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
    results = {}
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
            results[result["path"]] = result
    assert len(results) == len(paths), f"rc={done.returncode} {done.stderr[-2000:]}"
    return {name: (path, results[path]) for name, path in paths.items()}


def _saved(folder, suffix, name="ok"):
    model = Sequential([layers.Dense(2, input_shape=(1000,))])
    path = folder / f"{name}{suffix}"
    model.save(path)
    return path


def _zip_members(path):
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _names(group, key):
    return [n.decode() if isinstance(n, bytes) else n for n in group.attrs[key]]


def _last_kernel(f):
    """(layer group, name of its kernel dataset) of the model's last layer."""
    layer = f["model_weights"][_names(f["model_weights"], "layer_names")[-1]]
    return layer, [w for w in _names(layer, "weight_names") if w.endswith("kernel")][0]


def _huge_units(config, units=1_000_000):  # a 1000 x 1e6 float32 kernel: 4 GB
    config["config"]["layers"][-1]["config"]["units"] = units
    return config


def _h5_copy(folder, name):
    path = folder / name
    shutil.copy(_saved(folder, ".h5", name=f"src_{name}"), path)
    return path


def huge_layer_keras(folder):
    members = _zip_members(_saved(folder, ".keras", name="src"))
    members["config.json"] = json.dumps(_huge_units(json.loads(members["config.json"]))).encode()
    return _write_zip(folder / "huge.keras", members)


def huge_layer_h5(folder):
    path = _h5_copy(folder, "huge.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = json.dumps(_huge_units(json.loads(f.attrs["model_config"])))
    return path


def huge_layer_declared_weights_h5(folder):
    """Declared dataset shapes cost a hostile file nothing (unallocated chunks)."""
    path = _h5_copy(folder, "declared.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["model_config"] = json.dumps(_huge_units(json.loads(f.attrs["model_config"])))
        group = f["model_weights"]
        for name in _names(group, "layer_names"):
            layer = group[name]
            for weight in _names(layer, "weight_names"):
                shape = (1000, 1_000_000) if weight.endswith("kernel") else (1_000_000,)
                del layer[weight]
                layer.create_dataset(weight, shape=shape, dtype="float32", chunks=True)
    return path


def huge_dataset_shape_h5(folder):
    path = _h5_copy(folder, "shape.h5")
    with h5py.File(path, "r+") as f:
        layer, kernel = _last_kernel(f)
        del layer[kernel]
        layer.create_dataset(kernel, shape=(100_000, 100_000), dtype="float32", chunks=True)
    return path


def huge_element_dtype_h5(folder):
    """The right shape with 1 MB strings as elements: a 2 GB read."""
    path = _h5_copy(folder, "dtype.h5")
    with h5py.File(path, "r+") as f:
        layer, kernel = _last_kernel(f)
        del layer[kernel]
        layer.create_dataset(kernel, shape=(1000, 2), dtype="S1000000", chunks=True)
    return path


def huge_zip_member(folder):
    path = _saved(folder, ".keras", name="member")
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")  # central-directory entries; find config.json's
    while data[entry + 46 : entry + 46 + 11] != b"config.json":
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 24 : entry + 28] = struct.pack("<I", 0xFFFFFFF0)  # uncompressed size
    path.write_bytes(bytes(data))
    return path


def huge_safetensors_header(folder):
    members = _zip_members(_saved(folder, ".keras", name="src_st"))
    header = json.dumps({"dense.kernel": {"dtype": "F32", "shape": [1_000_000, 1_000_000],
                                          "data_offsets": [0, 8]}}).encode()  # fmt: skip
    members["model.weights.safetensors"] = struct.pack("<Q", len(header)) + header + bytes(8)
    return _write_zip(folder / "st.keras", members)


CASES = {
    "fits_keras": lambda folder: _saved(folder, ".keras", name="fits"),
    "fits_h5": lambda folder: _saved(folder, ".h5", name="fits"),
    "huge_layer_keras": huge_layer_keras,
    "huge_layer_h5": huge_layer_h5,
    "huge_layer_declared_weights_h5": huge_layer_declared_weights_h5,
    "huge_dataset_shape_h5": huge_dataset_shape_h5,
    "huge_element_dtype_h5": huge_element_dtype_h5,
    "huge_zip_member": huge_zip_member,
    "huge_safetensors_header": huge_safetensors_header,
}


@pytest.mark.parametrize("case", ["fits_keras", "fits_h5"])
def test_files_that_fit_load_under_the_limit(bounded, case):
    _, result = bounded[case]
    assert result["type"] == "loaded", result


@pytest.mark.parametrize(
    "case, pattern",
    [
        ("huge_layer_keras", "more weights than the file holds"),
        ("huge_layer_h5", "more weights than the file holds"),
        # The budget counts the bytes datasets occupy, not their declared shapes.
        ("huge_layer_declared_weights_h5", "more weights than the file holds"),
        ("huge_dataset_shape_h5", "shape (100000, 100000) in the file"),
        ("huge_element_dtype_h5", "is not numeric"),
        ("huge_zip_member", "declares 4294967280 bytes, over the limit"),
        ("huge_safetensors_header", ""),
    ],
)
def test_hostile_file_is_refused_by_declared_sizes(bounded, case, pattern):
    path, result = bounded[case]
    assert result["type"] == "ValueError", result  # never MemoryError or an allocator error
    assert path in result["message"] and pattern in result["message"], result["message"]

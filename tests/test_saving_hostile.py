"""Hostile files: each is refused with a clear ValueError, nothing is imported or executed
(a canary module and a canary file prove it), and memory stays bounded."""

import base64
import json
import marshal
import stat
import struct
import sys
import zipfile

import numpy as np
import pytest
import torch

from fitorch import layers
from fitorch.models import Sequential, load_model
from fitorch.saving import archive, safetensors_io

CANARY_MODULE = "fitorch_canary_mod"


def base_members(tmp_path) -> dict:
    model = Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(np.ones((4, 3), "float32"), np.ones((4, 1), "float32"), verbose=0)
    model.save(tmp_path / "good.keras")
    with zipfile.ZipFile(tmp_path / "good.keras") as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path, members: dict, extra=()):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for info, data in extra:
            zf.writestr(info, data)
    return path


@pytest.fixture
def canary(tmp_path, monkeypatch):
    """A module on sys.path whose import would create a file; neither may ever happen."""
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    flag = tmp_path / "CANARY_TRIGGERED"
    (code_dir / f"{CANARY_MODULE}.py").write_text(
        f"open({str(flag)!r}, 'w').write('imported')\n"
        "class EvilLayer:\n    pass\n"
        "def evil(*a, **k):\n    open(" + repr(str(flag)) + ", 'w').write('called')\n"
    )
    monkeypatch.syspath_prepend(str(code_dir))
    sys.modules.pop(CANARY_MODULE, None)
    yield flag
    assert CANARY_MODULE not in sys.modules, "a module named by the file was imported"
    assert not flag.exists(), "code from the file ran"


def config_of(members) -> dict:
    return json.loads(members["config.json"])


def with_config(members, mutate):
    config = config_of(members)
    mutate(config)
    return {**members, "config.json": json.dumps(config).encode()}


def set_first_layer(record):
    def mutate(config):
        config["config"]["layers"][1] = record

    return mutate


def patched_declared_size(path, member: str, size: int):
    """Rewrite the central directory's uncompressed size of `member` (a lying zip header)."""
    data = bytearray(path.read_bytes())
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) != -1:
        name_len = struct.unpack("<H", data[pos + 28 : pos + 30])[0]
        if data[pos + 46 : pos + 46 + name_len].decode() == member:
            data[pos + 24 : pos + 28] = struct.pack("<I", size)
        pos += 4
    path.write_bytes(bytes(data))


def lambda_code(flag) -> str:
    fn = eval(f"lambda x: open({str(flag)!r}, 'w').write('ran') or x")  # noqa: S307 - test payload
    return base64.b64encode(marshal.dumps(fn.__code__)).decode()


def lying_safetensors(kind: str) -> bytes:
    good = safetensors_io.encode({"w": torch.ones(2, 2)})
    n = struct.unpack("<Q", good[:8])[0]
    header = json.loads(good[8 : 8 + n])
    if kind == "length":
        return struct.pack("<Q", 10**12) + good[8:]
    if kind == "offsets":
        header["w"]["data_offsets"] = [0, 10**9]
    if kind == "count":
        header["w"]["shape"] = [4, 4]
    if kind == "dtype":
        header["w"]["dtype"] = "PICKLE"
    if kind == "json":
        raw = b"{not json"
        return struct.pack("<Q", len(raw)) + raw + good[8 + n :]
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + good[8 + n :]


def _cases(flag):
    """(case id, members -> (members, extra zip entries), error regex)."""
    symlink = zipfile.ZipInfo("assets/link")
    symlink.external_attr = (stat.S_IFLNK | 0o777) << 16
    return [
        (
            "path_traversal",
            lambda m: (m, [(zipfile.ZipInfo("../../evil.json"), b"{}")]),
            "unsafe path",
        ),
        (
            "absolute_path",
            lambda m: (m, [(zipfile.ZipInfo("/tmp/evil.json"), b"{}")]),
            "unsafe path",
        ),
        ("symlink", lambda m: (m, [(symlink, b"/etc/passwd")]), "symbolic link"),
        (
            "malformed_json",
            lambda m: ({**m, "config.json": b'{"class_name": '}, []),
            "config.json is not valid JSON",
        ),
        (
            "json_not_object",
            lambda m: ({**m, "config.json": b"[1, 2]"}, []),
            "must hold a JSON object",
        ),
        (
            "no_config",
            lambda m: ({k: v for k, v in m.items() if k != "config.json"}, []),
            "no config.json",
        ),
        (
            "st_header_length",
            lambda m: ({**m, "model.weights.safetensors": lying_safetensors("length")}, []),
            "header claims 1000000000000 bytes",
        ),
        (
            "st_offsets",
            lambda m: ({**m, "model.weights.safetensors": lying_safetensors("offsets")}, []),
            r"claims bytes \[0, 1000000000\)",
        ),
        (
            "st_byte_count",
            lambda m: ({**m, "model.weights.safetensors": lying_safetensors("count")}, []),
            "needs 64 bytes; the header gives 16",
        ),
        (
            "st_dtype",
            lambda m: ({**m, "model.weights.safetensors": lying_safetensors("dtype")}, []),
            "unknown dtype 'PICKLE'",
        ),
        (
            "st_header_json",
            lambda m: ({**m, "model.weights.safetensors": lying_safetensors("json")}, []),
            "header is not valid JSON",
        ),
        (
            "wrong_shapes",
            lambda m: (with_config(m, _widen_first_dense), []),
            r"_stack.1.kernel: shape \(4, 1\) in the file, \(4, 2\) in the model",
        ),
        (
            "unknown_class",
            lambda m: (
                with_config(
                    m,
                    set_first_layer(
                        {
                            "module": CANARY_MODULE,
                            "class_name": "EvilLayer",
                            "config": {},
                            "registered_name": None,
                        }
                    ),
                ),
                [],
            ),
            r"(?s)Unknown layer 'EvilLayer'.*never imports modules",
        ),
        (
            "registered_name_with_module",
            lambda m: (
                with_config(
                    m,
                    set_first_layer(
                        {
                            "module": CANARY_MODULE,
                            "class_name": "Dense",
                            "config": {"units": 2},
                            "registered_name": f"{CANARY_MODULE}>EvilLayer",
                        }
                    ),
                ),
                [],
            ),
            f"Unknown layer '{CANARY_MODULE}>EvilLayer'",
        ),
        (
            "unknown_function",
            lambda m: (
                with_config(
                    m,
                    set_first_layer(
                        {
                            "module": "fitorch.layers.core",
                            "class_name": "Lambda",
                            "config": {
                                "function": {
                                    "module": CANARY_MODULE,
                                    "class_name": "function",
                                    "config": "evil",
                                    "registered_name": "function",
                                }
                            },
                            "registered_name": None,
                        }
                    ),
                ),
                [],
            ),
            r"Unknown object 'evil' \(used as the function of Lambda layer",
        ),
        (
            "os_system_function",
            lambda m: (
                with_config(
                    m,
                    set_first_layer(
                        {
                            "module": "fitorch.layers.core",
                            "class_name": "Lambda",
                            "config": {
                                "function": {
                                    "module": "os",
                                    "class_name": "function",
                                    "config": "os>system",
                                    "registered_name": "function",
                                }
                            },
                            "registered_name": None,
                        }
                    ),
                ),
                [],
            ),
            "Unknown object 'os>system'",
        ),
        (
            "lambda_bytecode",
            lambda m: (
                with_config(
                    m,
                    set_first_layer(
                        {
                            "module": "fitorch.layers.core",
                            "class_name": "Lambda",
                            "config": {
                                "function": {
                                    "class_name": "__lambda__",
                                    "config": {"code": lambda_code(flag)},
                                }
                            },
                            "registered_name": None,
                        }
                    ),
                ),
                [],
            ),
            r"(?s)Refusing to rebuild a Python lambda.*arbitrary code.*safe_mode=False",
        ),
        (
            "torch_op_not_allowed",
            lambda m: (with_config(m, _torch_op("torch.load")), []),
            "'torch.load' is not an operation fitorch rebuilds from a file",
        ),
        (
            "unknown_loss",
            lambda m: (
                with_config(
                    m,
                    _set_loss(
                        {
                            "module": CANARY_MODULE,
                            "class_name": "function",
                            "config": "evil",
                            "registered_name": "function",
                        }
                    ),
                ),
                [],
            ),
            r"(?s)Unknown loss 'evil' \(used as loss\).*compile=False",
        ),
        (
            "unknown_optimizer",
            lambda m: (with_config(m, _set_optimizer("EvilOpt")), []),
            "Unknown optimizer 'EvilOpt'",
        ),
        (
            "impossible_weights",
            lambda m: (with_config(m, _huge_dense), []),
            "more weights than the file holds.*before allocating",
        ),
        (
            "json_depth_bomb",
            lambda m: ({**m, "config.json": b"[" * 100_000 + b"]" * 100_000}, []),
            "config.json is not valid JSON",
        ),
        (
            "optimizer_slot_shape",
            lambda m: ({**m, "optimizer.safetensors": _bad_slots(m)}, []),
            r"optimizer slot 'momentum' of parameter \d+ has shape \(\d+, \d+\); the parameter has",
        ),
    ]


def _widen_first_dense(config):
    config["config"]["layers"][2]["config"]["units"] = 2


def _huge_dense(config):
    # 2**62 floats cannot be allocated: refused as a bad file, not a crash.
    config["config"]["layers"][2]["config"]["units"] = 2**62


def _torch_op(op):
    def mutate(config):
        config["class_name"] = "Functional"
        config["config"] = {
            "name": "f",
            "trainable": True,
            "layers": [
                {
                    "module": "fitorch.layers.input",
                    "class_name": "InputLayer",
                    "name": "x",
                    "config": {"batch_shape": [None, 3], "name": "x"},
                    "inbound_nodes": [],
                },
                {
                    "module": "fitorch.layers",
                    "class_name": "TorchOp",
                    "name": "op",
                    "config": {"name": "op", "op": op},
                    "inbound_nodes": [
                        {
                            "args": [
                                {
                                    "class_name": "__keras_tensor__",
                                    "config": {"keras_history": ["x", 0, 0]},
                                }
                            ],
                            "kwargs": {},
                        }
                    ],
                },
            ],
            "input_layers": ["x", 0, 0],
            "output_layers": ["op", 0, 0],
        }

    return mutate


def _set_loss(record):
    def mutate(config):
        config["compile_config"]["loss"] = record

    return mutate


def _set_optimizer(name):
    def mutate(config):
        config["compile_config"]["optimizer"].update(class_name=name, registered_name=name)

    return mutate


def _bad_slots(members):
    tensors, _ = safetensors_io.decode(members["optimizer.safetensors"])
    key = next(k for k in tensors if k.endswith("/momentum") and tensors[k].ndim == 2)
    tensors[key] = tensors[key].T.contiguous()
    return safetensors_io.encode(tensors)


CASE_IDS = [c[0] for c in _cases("x")]


@pytest.mark.parametrize("case", CASE_IDS)
def test_hostile_archive_is_refused(tmp_path, canary, case):
    _, build, pattern = next(c for c in _cases(canary) if c[0] == case)
    members, extra = build(base_members(tmp_path))
    path = write_zip(tmp_path / "hostile.keras", members, extra)
    with pytest.raises(ValueError, match=pattern):
        load_model(path)


def test_huge_declared_size_is_refused_before_reading(tmp_path, canary, monkeypatch):
    path = write_zip(tmp_path / "big.keras", base_members(tmp_path))
    patched_declared_size(path, "config.json", 0xFFFFFFF0)
    reads = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: reads.append(a) or None)
    with pytest.raises(
        ValueError, match=r"'config.json' declares 4294967280 bytes, over the limit"
    ):
        load_model(path)
    assert reads == []  # refused from the directory, no member opened


def test_zip_bomb_ratio_is_refused(tmp_path, canary):
    members = base_members(tmp_path)
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        zf.writestr("assets/blob.bin", b"\0" * (4 * 2**20))
    with pytest.raises(ValueError, match="zip bomb"):
        load_model(path)


def test_member_shorter_than_declared_is_refused(tmp_path):
    path = write_zip(tmp_path / "short.keras", base_members(tmp_path))
    patched_declared_size(path, "metadata.json", 2**20)
    with pytest.raises(ValueError, match="metadata.json"):
        load_model(path)


def test_not_an_archive(tmp_path):
    path = tmp_path / "junk.keras"
    path.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="not a model archive"):
        load_model(path)


def test_lying_standalone_weights_file_leaves_model_untouched(tmp_path):
    model = Sequential([layers.Dense(2, input_shape=(2,))])
    before = model.get_weights()
    for kind in ("length", "offsets", "count"):
        path = tmp_path / f"{kind}.weight"
        path.write_bytes(lying_safetensors(kind))
        with pytest.raises(ValueError, match=str(path)):
            model.load_weights(path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_h5_external_link_is_refused(tmp_path):
    import h5py

    model = Sequential([layers.Dense(2, input_shape=(3,))])
    model.save_weights(tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("k", data=np.zeros((3, 2), "float32"))
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "k")
    with pytest.raises(ValueError, match="ExternalLink"):
        model.load_weights(tmp_path / "w.weights.h5")


def test_archive_reader_is_used_for_every_member(tmp_path):
    # Unknown members are validated (names, sizes) but never read.
    members = base_members(tmp_path)
    path = write_zip(
        tmp_path / "extra.keras", members, [(zipfile.ZipInfo("assets/readme.txt"), b"hi")]
    )
    got = archive.read_archive(path, wanted={"config.json"})
    assert set(got) == {"config.json"}
    assert load_model(path).count_params() == 4 * 3 + 4 + 4 + 1


@pytest.mark.parametrize("depth", [150, 5000])
def test_deeply_nested_config_is_refused_not_a_recursion_error(tmp_path, depth):
    members = base_members(tmp_path)
    config = config_of(members)
    config["config"]["layers"][1]["config"]["name"] = "__DEEP__"
    text = json.dumps(config).replace('"__DEEP__"', "[" * depth + "]" * depth)
    members["config.json"] = text.encode()
    path = write_zip(tmp_path / "deep.keras", members)
    match = r"config.json is (nested too deeply: \d+ levels|not valid JSON: maximum recursion)"
    with pytest.raises(ValueError, match=match):
        load_model(path)


def test_json_depth_counts_levels():
    assert archive.json_depth({"a": [1, {"b": []}]}) == 4
    assert archive.json_depth({}) == 1


def _with_lr(members, value):
    structure = json.loads(members["optimizer.json"])
    groups = dict(structure["__dict__"])["param_groups"]
    for group in groups:
        group["__dict__"] = [[k, value if k == "lr" else v] for k, v in group["__dict__"]]
    return {**members, "optimizer.json": json.dumps(structure).encode()}


def _with_slot(members, make):
    tensors, _ = safetensors_io.decode(members["optimizer.safetensors"])
    key = next(k for k in tensors if k.endswith("/momentum") and tensors[k].ndim == 2)
    tensors[key] = make(tensors[key])
    return {**members, "optimizer.safetensors": safetensors_io.encode(tensors)}


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda m: _with_lr(m, float("nan")), r"hyperparameter 'lr' of param group 0 is nan"),
        (lambda m: _with_lr(m, float("inf")), r"hyperparameter 'lr' of param group 0 is inf"),
        (
            lambda m: _with_slot(m, lambda t: torch.full_like(t, float("nan"))),
            r"optimizer slot 'momentum' of parameter \d+ holds NaN or inf",
        ),
        (
            lambda m: _with_slot(m, lambda t: torch.zeros(t.numel() * 1000)),
            r"optimizer slot 'momentum' of parameter \d+ has shape \(\d+,\); the parameter has "
            r"\(\d+, \d+\)",
        ),
    ],
)
def test_optimizer_state_that_cannot_fit_is_refused_at_load(tmp_path, mutate, pattern):
    path = write_zip(tmp_path / "opt.keras", mutate(base_members(tmp_path)))
    with pytest.raises(ValueError, match=pattern):
        load_model(path)
    assert load_model(path, compile=False).optimizer is None  # the model itself still loads


@pytest.mark.parametrize(
    "record",
    [
        {"class_name": "function", "config": "eval", "module": "builtins"},
        {"class_name": "DTypePolicy", "config": "float32"},
    ],
)
def test_a_non_policy_record_as_dtype_names_the_layer(tmp_path, canary, record):
    members = base_members(tmp_path)
    config = config_of(members)
    config["config"]["layers"][1]["config"]["dtype"] = record
    members["config.json"] = json.dumps(config).encode()
    path = write_zip(tmp_path / "dtype.keras", members)
    match = r"Could not rebuild Dense \(layer 'dense'.*dtype must be a dtype name or a Keras "
    with pytest.raises(ValueError, match=match):
        load_model(path)


@pytest.mark.parametrize("class_name", ["DTypePolicy", "FloatDTypePolicy", "Policy"])
def test_keras_policy_records_still_give_the_dtype(class_name):
    dense = layers.Dense(2, dtype={"class_name": class_name, "config": {"name": "float64"}})
    assert dense.variable_dtype == "float64"

"""safetensors through the `safetensors` package, with every header claim checked first.

Layout: 8 bytes little-endian header length N, N bytes of JSON
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`, then
the data. Tensors are written and read by the package only (`save`, `load`, and for files
`safe_open`, which memory-maps the file: loading does not copy it into memory, and the
tensors land on the requested device). Before the package sees a file, `read_header` refuses,
with a `ValueError` naming the file, a header longer than the file or than
`MAX_HEADER_BYTES`, malformed JSON, a dtype outside `_DTYPES`, a shape that is not a list of
non-negative ints, offsets outside the data, a byte count that does not equal
numel * itemsize, and overlapping tensors. No code runs on load: the format holds only bytes.
"""

from __future__ import annotations

import json
import math
import os
import struct

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

__all__ = ["encode", "decode", "load_file", "read_header", "MAX_HEADER_BYTES"]

_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_CODES = {v: k for k, v in _DTYPES.items()}
MAX_HEADER_BYTES = 100 * 2**20


def encode(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors bytes of `tensors` (CPU, C order; the package sorts names).

    Tensors that share storage (tied weights) are written as separate copies, which the
    package requires.
    """
    plain, seen = {}, set()
    for name, t in tensors.items():
        if t.dtype not in _CODES:
            raise TypeError(f"Cannot save tensor {name!r} of dtype {t.dtype} in safetensors.")
        t = t.detach().cpu().contiguous()
        key = t.untyped_storage().data_ptr() if t.numel() else None
        plain[name] = t.clone() if key in seen else t
        if key is not None:
            seen.add(key)
    meta = {str(k): str(v) for k, v in metadata.items()} if metadata else None
    return _st_save(plain, metadata=meta)


def read_header(data: bytes, where: str = "safetensors", max_header_bytes: int = MAX_HEADER_BYTES):
    """(entries, metadata, data_start) of safetensors bytes after validating every entry."""
    return _parse_header(data, len(data), where, max_header_bytes)


def _parse_header(data: bytes, file_size: int, where: str, max_header_bytes: int):
    """Validate the header at the start of `data` against a file of `file_size` bytes."""
    if file_size < 8:
        raise ValueError(f"{where}: {file_size} bytes is too short for a safetensors file.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > max_header_bytes or n > file_size - 8:
        raise ValueError(
            f"{where}: the header claims {n} bytes but the file has {file_size - 8} after the "
            f"length field (limit {max_header_bytes}); the file is corrupt or hostile."
        )
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{where}: the header is not valid JSON ({err}).") from err
    if not isinstance(header, dict):
        raise ValueError(f"{where}: the header must be a JSON object; got {type(header).__name__}.")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"{where}: __metadata__ must be an object of strings.")
    start, size = 8 + n, file_size - 8 - n
    spans = []
    for name, entry in header.items():
        spans.append((*_check_entry(name, entry, size, where), name))
    spans.sort()
    for (_, e0, n0), (b1, _, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"{where}: tensors {n0!r} and {n1!r} overlap in the data.")
    return header, metadata, start


def _check_entry(name, entry, size, where):
    if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
        raise ValueError(f"{where}: entry {name!r} must have exactly dtype, shape, data_offsets.")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _DTYPES:
        raise ValueError(
            f"{where}: tensor {name!r} has unknown dtype {dtype!r}; known: {sorted(_DTYPES)}."
        )
    if not isinstance(shape, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape
    ):
        raise ValueError(f"{where}: tensor {name!r} has an invalid shape {shape!r}.")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise ValueError(f"{where}: tensor {name!r} has invalid data_offsets {offsets!r}.")
    begin, end = offsets
    if not 0 <= begin <= end <= size:
        raise ValueError(
            f"{where}: tensor {name!r} claims bytes [{begin}, {end}) but the data holds "
            f"{size} bytes."
        )
    expected = math.prod(shape) * _DTYPES[dtype].itemsize
    if end - begin != expected:
        raise ValueError(
            f"{where}: tensor {name!r} of shape {shape} and dtype {dtype} needs {expected} bytes; "
            f"the header gives {end - begin}."
        )
    return begin, end


def decode(data: bytes, where: str = "safetensors") -> tuple[dict[str, torch.Tensor], dict]:
    """(name -> tensor, metadata) from safetensors bytes, validated by `read_header` first."""
    _, metadata, _ = read_header(data, where)
    try:
        return _st_load(data), metadata
    except SafetensorError as err:
        raise ValueError(f"{where}: the safetensors package refused the data ({err}).") from err


def load_file(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[dict[str, torch.Tensor], dict]:
    """(name -> tensor on `device`, metadata) of a safetensors file, memory-mapped.

    Only the header is read here (and validated as `read_header` does); the tensors come from
    `safetensors.safe_open`, which maps the file instead of reading it into memory.
    """
    where = os.fspath(path)
    size = os.path.getsize(where)
    with open(where, "rb") as f:
        prefix = f.read(8)
        if len(prefix) == 8:
            (n,) = struct.unpack("<Q", prefix)
            prefix += f.read(min(n, MAX_HEADER_BYTES, size - 8))
    _, metadata, _ = _parse_header(prefix, size, where, MAX_HEADER_BYTES)
    try:
        with safe_open(where, framework="pt", device=str(device)) as st:
            return {name: st.get_tensor(name) for name in st.keys()}, metadata
    except SafetensorError as err:
        raise ValueError(f"{where}: the safetensors package refused the file ({err}).") from err

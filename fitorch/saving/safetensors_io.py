"""The safetensors format, written and read here with every header claim checked.

Layout: 8 bytes little-endian header length N, N bytes of JSON
`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`, then
the data. `decode` refuses, with a `ValueError` and before copying any tensor, a header
longer than the file or than `max_header_bytes`, malformed JSON, an unknown dtype, a shape
that is not a list of non-negative ints, offsets outside the data, a byte count that does not
equal numel * itemsize, and overlapping tensors. Files interoperate with the `safetensors`
package (tested both ways).
"""

from __future__ import annotations

import json
import math
import struct

import torch

__all__ = ["encode", "decode", "read_header"]

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
    """The safetensors bytes of `tensors` (CPU copies, C order), names sorted."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach()
        if t.dtype not in _CODES:
            raise TypeError(f"Cannot save tensor {name!r} of dtype {t.dtype} in safetensors.")
        data = (
            t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
            if t.numel()
            else b""
        )
        header[name] = {
            "dtype": _CODES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the data starts 8-byte aligned, as the format recommends
    return struct.pack("<Q", len(raw)) + raw + b"".join(chunks)


def read_header(data: bytes, where: str = "safetensors", max_header_bytes: int = MAX_HEADER_BYTES):
    """(entries, metadata, data_start) after validating every entry against the file size."""
    if len(data) < 8:
        raise ValueError(f"{where}: {len(data)} bytes is too short for a safetensors file.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > max_header_bytes or n > len(data) - 8:
        raise ValueError(
            f"{where}: the header claims {n} bytes but the file has {len(data) - 8} after the "
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
    start, size = 8 + n, len(data) - 8 - n
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
    header, metadata, start = read_header(data, where)
    out = {}
    for name, entry in header.items():
        dtype = _DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        if end == begin:
            out[name] = torch.empty(entry["shape"], dtype=dtype)
            continue
        buf = bytearray(data[start + begin : start + end])
        out[name] = torch.frombuffer(buf, dtype=dtype).reshape(entry["shape"])
    return out, metadata

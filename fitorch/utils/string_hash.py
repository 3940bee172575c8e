"""The string hashes Keras's hashing layers use (through TensorFlow), on plain Python ints.

- `fingerprint64(data)`: FarmHash's `Fingerprint64` (the `farmhashna` 64-bit hash), which TF's
  `tf.strings.to_hash_bucket_fast` and `tf.fingerprint` use;
- `siphash64(data, key)`: SipHash-2-4 with a 128-bit key given as two uint64 halves (TF's
  `to_hash_bucket_strong`, through highwayhash's `SipHash`);
- `fingerprint_cat64(a, b)`: TF's combination of two fingerprints (`tf.sparse.cross_hashed`);
  `fingerprint_cat64_array` does it for uint64 arrays;
- `fingerprint64_array(items)`: `fingerprint64` of many byte strings at once (NumPy on uint64
  for the strings of up to 16 bytes, the usual tokens; one by one for longer ones);
- `hash_buckets(values, num_buckets, key=None)`: the bucket `hash % num_buckets` of every value
  of an array, each distinct value hashed once.

All arithmetic is modulo 2**64 (`& MASK64` after every product and sum). Values are bytes; text
is encoded as UTF-8 and integers are written in decimal first (`tf.strings.as_string`), which
is how Keras hashes integer inputs.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "fingerprint64",
    "fingerprint64_array",
    "fingerprint_cat64",
    "fingerprint_cat64_array",
    "hash_buckets",
    "siphash64",
    "to_bytes",
]

MASK64 = (1 << 64) - 1
# FarmHash's constants (primes between 2**63 and 2**64)
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F
_KMUL = 0x9DDFEA08EB382D69  # CityHash's Hash128to64 multiplier
_CAT_MUL = 0xC6A4A7935BD1E995  # TF FingerprintCat64 (MurmurHash2's multiplier)


def _u64(data: bytes, i: int) -> int:
    return int.from_bytes(data[i : i + 8], "little")


def _u32(data: bytes, i: int) -> int:
    return int.from_bytes(data[i : i + 4], "little")


def _rotr(v: int, shift: int) -> int:
    return ((v >> shift) | (v << (64 - shift))) & MASK64


def _rotl(v: int, shift: int) -> int:
    return ((v << shift) | (v >> (64 - shift))) & MASK64


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def _mix16(u: int, v: int, mul: int = _KMUL) -> int:
    """Two words -> one (CityHash's `HashLen16`): two multiply-xorshift rounds."""
    a = _shift_mix(((u ^ v) * mul) & MASK64)
    b = _shift_mix(((v ^ a) * mul) & MASK64)
    return (b * mul) & MASK64


def _len0to16(s: bytes) -> int:
    n = len(s)
    if n >= 8:
        mul = _K2 + 2 * n
        a = (_u64(s, 0) + _K2) & MASK64
        b = _u64(s, n - 8)
        c = (_rotr(b, 37) * mul + a) & MASK64
        d = ((_rotr(a, 25) + b) * mul) & MASK64
        return _mix16(c, d, mul)
    if n >= 4:
        return _mix16((n + (_u32(s, 0) << 3)) & MASK64, _u32(s, n - 4), _K2 + 2 * n)
    if n:
        y = s[0] + (s[n >> 1] << 8)
        z = n + (s[n - 1] << 2)
        return (_shift_mix(((y * _K2) ^ (z * _K0)) & MASK64) * _K2) & MASK64
    return _K2


def _len17to32(s: bytes) -> int:
    n = len(s)
    mul = _K2 + 2 * n
    a = (_u64(s, 0) * _K1) & MASK64
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * mul) & MASK64
    d = (_u64(s, n - 16) * _K2) & MASK64
    return _mix16(
        (_rotr((a + b) & MASK64, 43) + _rotr(c, 30) + d) & MASK64,
        (a + _rotr((b + _K2) & MASK64, 18) + c) & MASK64,
        mul,
    )


def _len33to64(s: bytes) -> int:
    n = len(s)
    mul = _K2 + 2 * n
    a = (_u64(s, 0) * _K2) & MASK64
    b = _u64(s, 8)
    c = (_u64(s, n - 8) * mul) & MASK64
    d = (_u64(s, n - 16) * _K2) & MASK64
    y = (_rotr((a + b) & MASK64, 43) + _rotr(c, 30) + d) & MASK64
    z = _mix16(y, (a + _rotr((b + _K2) & MASK64, 18) + c) & MASK64, mul)
    e = (_u64(s, 16) * mul) & MASK64
    f = _u64(s, 24)
    g = ((y + _u64(s, n - 32)) * mul) & MASK64
    h = ((z + _u64(s, n - 24)) * mul) & MASK64
    return _mix16(
        (_rotr((e + f) & MASK64, 43) + _rotr(g, 30) + h) & MASK64,
        (e + _rotr((f + a) & MASK64, 18) + g) & MASK64,
        mul,
    )


def _weak32(s: bytes, i: int, a: int, b: int) -> tuple[int, int]:
    """CityHash's `WeakHashLen32WithSeeds` on the 32 bytes at `s[i:]`."""
    w, x, y, z = _u64(s, i), _u64(s, i + 8), _u64(s, i + 16), _u64(s, i + 24)
    a = (a + w) & MASK64
    b = _rotr((b + a + z) & MASK64, 21)
    c = a
    a = (a + x + y) & MASK64
    b = (b + _rotr(a, 44)) & MASK64
    return (a + z) & MASK64, (b + c) & MASK64


def _long_round(s, i, x, y, z, v, w, mul, last):
    """One 64-byte block of the long-input loop; the last block mixes with `mul` and 9s."""
    x = (_rotr((x + y + v[0] + _u64(s, i + 8)) & MASK64, 37) * mul) & MASK64
    y = (_rotr((y + v[1] + _u64(s, i + 48)) & MASK64, 42) * mul) & MASK64
    x ^= (w[1] * 9) & MASK64 if last else w[1]
    y = (y + (v[0] * 9 if last else v[0]) + _u64(s, i + 40)) & MASK64
    z = (_rotr((z + w[0]) & MASK64, 33) * mul) & MASK64
    v = _weak32(s, i, (v[1] * mul) & MASK64, (x + w[0]) & MASK64)
    w = _weak32(s, i + 32, (z + w[1]) & MASK64, (y + _u64(s, i + 16)) & MASK64)
    return z, y, x, v, w  # x and z trade places after every block


def _len_over64(s: bytes) -> int:
    n, seed = len(s), 81
    y = (seed * _K1 + 113) & MASK64
    z = (_shift_mix((y * _K2 + 113) & MASK64) * _K2) & MASK64
    x = (seed * _K2 + _u64(s, 0)) & MASK64
    v = w = (0, 0)
    end = ((n - 1) // 64) * 64  # whole blocks before the last (possibly overlapping) 64 bytes
    for i in range(0, end, 64):
        x, y, z, v, w = _long_round(s, i, x, y, z, v, w, _K1, last=False)
    mul = (_K1 + ((z & 0xFF) << 1)) & MASK64
    w0 = (w[0] + ((n - 1) & 63)) & MASK64
    v0 = (v[0] + w0) & MASK64
    w0 = (w0 + v0) & MASK64
    x, y, z, v, w = _long_round(s, n - 64, x, y, z, (v0, v[1]), (w0, w[1]), mul, last=True)
    return _mix16(
        (_mix16(v[0], w[0], mul) + _shift_mix(y) * _K0 + z) & MASK64,
        (_mix16(v[1], w[1], mul) + x) & MASK64,
        mul,
    )


def fingerprint64(data: bytes) -> int:
    """FarmHash `Fingerprint64(data)` as an unsigned 64-bit int (platform independent).

    >>> fingerprint64(b"")  # the empty string hashes to the constant k2
    11160318154034397263
    """
    n = len(data)
    if n <= 16:
        return _len0to16(data)
    if n <= 32:
        return _len17to32(data)
    if n <= 64:
        return _len33to64(data)
    return _len_over64(data)


def siphash64(data: bytes, key: tuple[int, int]) -> int:
    """SipHash-2-4 of `data` under the 128-bit key `key[0] | key[1] << 64` (uint64 halves).

    Four state words from the key, each 8-byte little-endian block absorbed with 2 SipRounds,
    the last block holding the remaining bytes and `len(data) % 256` in its top byte, then
    4 SipRounds after `v2 ^= 0xff`; the result is `v0 ^ v1 ^ v2 ^ v3`.
    """
    k0, k1 = key[0] & MASK64, key[1] & MASK64
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D, k0 ^ 0x6C7967656E657261,
         k1 ^ 0x7465646279746573]  # fmt: skip

    def rounds(count: int) -> None:
        for _ in range(count):
            v[0] = (v[0] + v[1]) & MASK64
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & MASK64
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & MASK64
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & MASK64
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    whole = len(data) - len(data) % 8
    tail = data[whole:] + bytes(7 - len(data) % 8) + bytes([len(data) & 0xFF])
    for block in [_u64(data, i) for i in range(0, whole, 8)] + [_u64(tail, 0)]:
        v[3] ^= block
        rounds(2)
        v[0] ^= block
    v[2] ^= 0xFF
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    """TF's `FingerprintCat64`: fold fingerprint `fp2` into the running fingerprint `fp1`."""
    result = fp1 ^ _CAT_MUL
    result ^= (_shift_mix((fp2 * _CAT_MUL) & MASK64) * _CAT_MUL) & MASK64
    result = (result * _CAT_MUL) & MASK64
    return _shift_mix((_shift_mix(result) * _CAT_MUL) & MASK64)


def fingerprint_cat64_array(fp1: np.ndarray, fp2: np.ndarray) -> np.ndarray:
    """`fingerprint_cat64` elementwise on uint64 arrays (wrapping arithmetic)."""
    mul, s47 = np.uint64(_CAT_MUL), np.uint64(47)
    with np.errstate(over="ignore"):
        mixed = fp2 * mul
        result = fp1 ^ mul
        result ^= (mixed ^ (mixed >> s47)) * mul
        result = result * mul
        result = (result ^ (result >> s47)) * mul
    return result ^ (result >> s47)


def to_bytes(value) -> bytes:
    """The bytes Keras hashes for one value: UTF-8 text, bytes as they are, integers (and
    floats, truncated to int64 first as Keras casts them) in decimal."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"hashing expects strings or integers, got the boolean {value!r}")
    if isinstance(value, (float, np.floating)):
        value = int(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value)).encode("ascii")
    raise TypeError(f"hashing expects strings or integers, got {type(value).__name__} {value!r}")


def _words(padded: np.ndarray, start: np.ndarray, size: int) -> np.ndarray:
    """Little-endian `size`-byte words read at per-row offsets `start` of a uint8 matrix."""
    columns = start[:, None] + np.arange(size)
    parts = padded[np.arange(len(padded))[:, None], columns].astype(np.uint64)
    return (parts << (np.arange(size, dtype=np.uint64) * np.uint64(8))).sum(axis=1, dtype=np.uint64)


def _mix16_array(u: np.ndarray, v: np.ndarray, mul: np.ndarray) -> np.ndarray:
    s47 = np.uint64(47)
    a = (u ^ v) * mul
    a ^= a >> s47
    b = (v ^ a) * mul
    b ^= b >> s47
    return b * mul


def _rotr_array(v: np.ndarray, shift: int) -> np.ndarray:
    return (v >> np.uint64(shift)) | (v << np.uint64(64 - shift))


def _fingerprint_short(items: list[bytes]) -> np.ndarray:
    """`fingerprint64` of byte strings of at most 16 bytes, vectorised (`_len0to16`'s three
    branches on masks; uint64 arithmetic wraps modulo 2**64 as the C code)."""
    n = np.array([len(b) for b in items], dtype=np.int64)
    # NumPy pads to 16 bytes with zeros (the lengths come from `n`, so trailing zeros are kept)
    padded = np.array(items, dtype="S16").view(np.uint8).reshape(-1, 16)
    nu = n.astype(np.uint64)
    mul = np.uint64(_K2) + nu * np.uint64(2)
    out = np.full(len(items), _K2, dtype=np.uint64)
    with np.errstate(over="ignore"):
        long = n >= 8
        if long.any():
            a = _words(padded[long], np.zeros(long.sum(), np.int64), 8) + np.uint64(_K2)
            b = _words(padded[long], n[long] - 8, 8)
            c = _rotr_array(b, 37) * mul[long] + a
            d = (_rotr_array(a, 25) + b) * mul[long]
            out[long] = _mix16_array(c, d, mul[long])
        mid = (n >= 4) & (n < 8)
        if mid.any():
            first = _words(padded[mid], np.zeros(mid.sum(), np.int64), 4)
            last = _words(padded[mid], n[mid] - 4, 4)
            out[mid] = _mix16_array(nu[mid] + (first << np.uint64(3)), last, mul[mid])
        few = (n > 0) & (n < 4)
        if few.any():
            rows = padded[few].astype(np.uint64)
            k = n[few]
            y = rows[:, 0] + (rows[np.arange(len(k)), k >> 1] << np.uint64(8))
            z = nu[few] + (rows[np.arange(len(k)), k - 1] << np.uint64(2))
            v = (y * np.uint64(_K2)) ^ (z * np.uint64(_K0))
            out[few] = (v ^ (v >> np.uint64(47))) * np.uint64(_K2)
    return out


def fingerprint64_array(items: list[bytes]) -> np.ndarray:
    """`fingerprint64` of each byte string, as a uint64 array."""
    out = np.empty(len(items), dtype=np.uint64)
    short = [i for i, b in enumerate(items) if len(b) <= 16]
    if short:
        out[short] = _fingerprint_short([items[i] for i in short])
    for i, b in enumerate(items):
        if len(b) > 16:
            out[i] = fingerprint64(b)
    return out


def hash_buckets(values: np.ndarray, num_buckets: int, key=None) -> np.ndarray:
    """`hash(to_bytes(v)) % num_buckets` for every entry of `values` (int64, same shape):
    `fingerprint64` without a key, `siphash64` keyed by the pair `key`."""
    values = np.asarray(values, dtype=object)
    distinct = list(dict.fromkeys(values.reshape(-1).tolist()))  # first-seen order
    data = [to_bytes(v) for v in distinct]
    if key is None:
        digests = fingerprint64_array(data) % np.uint64(num_buckets)
    else:
        digests = np.array([siphash64(d, key) % num_buckets for d in data], dtype=np.uint64)
    bucket = dict(zip(distinct, digests.astype(np.int64).tolist()))
    flat = [bucket[v] for v in values.reshape(-1).tolist()]
    return np.array(flat, dtype=np.int64).reshape(values.shape)

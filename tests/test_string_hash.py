"""fitorch.utils.string_hash against TensorFlow's values (tests/fixtures/hashing_expected.json,
written by make_hashing_fixture.py with tf.fingerprint and tf.strings.to_hash_bucket_strong)."""

import json
import os

import numpy as np
import pytest

from fitorch.utils import string_hash

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "hashing_expected.json")
with open(FIXTURE, encoding="utf-8") as _f:
    RAW = json.load(_f)["raw"]
DATA = [bytes.fromhex(h) for h in RAW["bytes_hex"]]


def test_fingerprint64_equals_tensorflow_for_every_length_class():
    # lengths 0..69 and 100..1000 reach all of FarmHash's branches (0-3, 4-7, 8-16, 17-32,
    # 33-64 bytes, one and several 64-byte blocks)
    got = [str(string_hash.fingerprint64(d)) for d in DATA]
    assert got == RAW["fingerprint64"]


def test_siphash64_equals_tensorflow_strong_hash():
    key, big = tuple(RAW["siphash_key"]), int(RAW["big"])
    got = [str(string_hash.siphash64(d, key) % big) for d in DATA]
    assert got == RAW["siphash_mod_big"]


def test_siphash64_reference_vector():
    # the SipHash-2-4 paper's test vector: key 00..0f, message 00..0e -> a129ca6149be45e5
    key = (int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little"))
    assert string_hash.siphash64(bytes(range(15)), key) == 0xA129CA6149BE45E5


def test_empty_string_fingerprint_is_farmhash_k2():
    assert string_hash.fingerprint64(b"") == 0x9AE16A3B2F90404F


def test_fingerprint_cat64_hand_computed():
    # one fold by hand: r = a ^ m; r ^= shiftmix(b * m) * m; r *= m; shiftmix(shiftmix(r) * m)
    m, mask = 0xC6A4A7935BD1E995, (1 << 64) - 1

    def shift_mix(v):
        return v ^ (v >> 47)

    a, b = 0xDECAFCAFFE, 101
    r = a ^ m
    r ^= (shift_mix((b * m) & mask) * m) & mask
    r = (r * m) & mask
    assert string_hash.fingerprint_cat64(a, b) == shift_mix((shift_mix(r) * m) & mask)


def test_to_bytes_and_hash_buckets():
    assert string_hash.to_bytes(-12) == b"-12" and string_hash.to_bytes(2.9) == b"2"
    assert string_hash.to_bytes("é") == "é".encode()
    buckets = string_hash.hash_buckets(["A", "B", "A"], 3)
    assert buckets.tolist() == [1, 0, 1]  # Keras's Hashing(num_bins=3) docstring values
    with pytest.raises(TypeError, match="strings or integers"):
        string_hash.to_bytes(None)


def test_array_versions_equal_the_scalar_functions():
    # the fixture's strings (all length classes) plus short ones ending in zero bytes, which
    # the vectorised path pads with zeros
    items = DATA + [b"\0", b"a\0\0", bytes(16), b"\xff" * 16, "日本".encode()]
    assert string_hash.fingerprint64_array(items).tolist() == [
        string_hash.fingerprint64(d) for d in items
    ]
    assert [str(v) for v in string_hash.fingerprint64_array(DATA).tolist()] == RAW["fingerprint64"]
    fps = string_hash.fingerprint64_array(items)
    left = np.full(len(items), 0xDECAFCAFFE, dtype=np.uint64)
    assert string_hash.fingerprint_cat64_array(left, fps).tolist() == [
        string_hash.fingerprint_cat64(0xDECAFCAFFE, int(f)) for f in fps
    ]

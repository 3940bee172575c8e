"""`Hashing` and `HashedCrossing`: categorical values -> hash bins, with Keras 3's numbers.

Keras computes these with TensorFlow string ops; fitorch uses the same hash functions
(`fitorch.utils.string_hash`), so the bins are equal to Keras's for the same inputs:

- `Hashing`: `bin = Fingerprint64(bytes(v)) % num_bins` (FarmHash), or with a `salt`
  `SipHash-2-4(bytes(v), key=salt) % num_bins`; integers are hashed as their decimal strings,
  floats truncated to int64 first. With a `mask_value`, the mask maps to 0 and the others to
  `1 + hash % (num_bins - 1)`.
- `HashedCrossing`: one bin per row of scalar features, `fold(0xDECAFCAFFE, f_1, ..., f_n) %
  num_bins`, where `fold` is TF's `FingerprintCat64`, `f_i` is `Fingerprint64` of a string
  feature or the int64 value itself of an integer feature (`tf.sparse.cross_hashed`).

Inputs are Python values, NumPy arrays or torch tensors; the bins are computed on the host
(each distinct value hashed once) and returned as torch tensors on the input tensor's device.
"""

from __future__ import annotations

import numpy as np
import torch

from fitorch.layers.base import Layer
from fitorch.layers.preprocessing_text import encode_categorical_inputs
from fitorch.utils.string_hash import (
    fingerprint64_array,
    fingerprint_cat64_array,
    hash_buckets,
    to_bytes,
)

__all__ = ["HashedCrossing", "Hashing"]

_CROSS_KEY = 0xDECAFCAFFE  # tf.sparse.cross_hashed's default hash_key, used by Keras


def _host_values(inputs) -> tuple[np.ndarray, torch.device | None]:
    """A NumPy array of the values (int64 for numbers, object for strings) and the device of
    the input tensor (None for host inputs)."""
    if isinstance(inputs, torch.Tensor):
        array, device = inputs.detach().cpu().numpy(), inputs.device
    else:
        array, device = np.asarray(inputs), None
    if array.dtype.kind == "f":  # Keras casts floats to int64 before hashing (truncation)
        array = array.astype(np.int64)
    if array.dtype.kind in "iu":
        return array.astype(np.int64), device
    if array.dtype.kind in "USO":
        return array.astype(object), device
    raise TypeError(f"expected string or integer values, got an array of dtype {array.dtype}")


def _positive_bins(layer: str, num_bins) -> int:
    if isinstance(num_bins, bool) or not isinstance(num_bins, (int, np.integer)) or num_bins < 1:
        raise ValueError(f"{layer}: num_bins must be an int >= 1, got {num_bins!r}")
    return int(num_bins)


def _check_int_dtype(layer: str, output_mode: str, dtype: torch.dtype) -> None:
    if output_mode == "int" and dtype not in (torch.int32, torch.int64):
        raise ValueError(
            f"{layer}: output_mode='int' needs dtype 'int32' or 'int64', got "
            f"{str(dtype).replace('torch.', '')!r}"
        )


class Hashing(Layer):
    """Hash strings or integers into `num_bins` bins (Keras 3 `keras.layers.Hashing`).

    Args:
        num_bins: the number of bins, the mask bin included when `mask_value` is set.
        mask_value: a value mapped to bin 0 (the others hash into `1..num_bins-1`).
        salt: an int or a pair of ints: hash with SipHash-2-4 keyed by `(salt, salt)` or the
            pair instead of FarmHash.
        output_mode: `int` (bins, the input's shape), `one_hot`, `multi_hot` or `count`
            (`fitorch.layers.preprocessing_text.encode_categorical_inputs`).

    >>> Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).tolist()
    [[1], [0], [1], [1], [2]]
    """

    _MODES = ("int", "one_hot", "multi_hot", "count")

    def __init__(self, num_bins, mask_value=None, salt=None, output_mode="int", sparse=False,
                 **kwargs):  # fmt: skip
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "int64" if output_mode == "int" else "float32"
        super().__init__(**kwargs)
        self.num_bins = _positive_bins("Hashing", num_bins)
        if output_mode not in self._MODES:
            raise ValueError(
                f"Hashing: output_mode must be one of {self._MODES}, got {output_mode!r}"
            )
        _check_int_dtype("Hashing", output_mode, self.dtype)
        if sparse:
            raise ValueError("Hashing: sparse=True needs TensorFlow's SparseTensor; not supported")
        if salt is not None and not isinstance(salt, bool) and isinstance(salt, (int, np.integer)):
            salt = [int(salt), int(salt)]
        elif salt is not None and (
            not isinstance(salt, (list, tuple))
            or len(salt) != 2
            or not all(isinstance(s, (int, np.integer)) for s in salt)
        ):
            raise ValueError(f"Hashing: salt must be an int or a tuple of 2 ints, got {salt!r}")
        self.salt = None if salt is None else [int(s) for s in salt]
        self.mask_value, self.output_mode, self.sparse = mask_value, output_mode, False
        self.built = True

    def hash_values(self, values: np.ndarray) -> np.ndarray:
        """Values (the output of `_host_values`) -> int64 bins in `[0, num_bins)`."""
        bins = self.num_bins
        masked = None
        if self.mask_value is not None and bins > 1:  # Keras keeps no mask bin when num_bins=1
            bins -= 1
            if values.dtype == object:
                mask = to_bytes(self.mask_value)
                masked = np.vectorize(lambda v: to_bytes(v) == mask, otypes=[bool])(values)
            else:
                masked = values == self.mask_value
        key = None if self.salt is None else tuple(self.salt)
        ids = hash_buckets(values, bins, key)
        return ids if masked is None else np.where(masked, 0, ids + 1)

    def call(self, inputs):
        values, device = _host_values(inputs)
        ids = torch.as_tensor(self.hash_values(values), device=device)
        return encode_categorical_inputs(ids, self.output_mode, self.num_bins, self.dtype)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode,
                "sparse": False}  # fmt: skip


class HashedCrossing(Layer):
    """Cross scalar categorical features into `num_bins` bins (Keras 3
    `keras.layers.HashedCrossing`): called on a list or tuple of at least two inputs of one
    shape, `()`, `(batch,)` or `(batch, 1)`, each integer or string; the output has that shape
    (`int`) or a trailing `num_bins` axis (`one_hot`, the `(batch, 1)` axis replaced).

    >>> layer = HashedCrossing(num_bins=5)
    >>> layer((np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102]))).tolist()
    [1, 4, 1, 1, 3]
    """

    _MODES = ("int", "one_hot")

    def __init__(self, num_bins, output_mode="int", sparse=False, name=None, dtype=None,
                 **kwargs):  # fmt: skip
        if dtype is None:
            dtype = "int64" if output_mode == "int" else "float32"
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.num_bins = _positive_bins("HashedCrossing", num_bins)
        if output_mode not in self._MODES:
            raise ValueError(
                f"HashedCrossing: output_mode must be one of {self._MODES}, got {output_mode!r}"
            )
        _check_int_dtype("HashedCrossing", output_mode, self.dtype)
        if sparse:
            raise ValueError(
                "HashedCrossing: sparse=True needs TensorFlow's SparseTensor; not supported"
            )
        self.output_mode, self.sparse = output_mode, False
        self.built = True

    def __call__(self, inputs, *args, **kwargs):
        # a list of Python lists is a list of features here, not one nested array
        if isinstance(inputs, (list, tuple)):
            inputs = [np.asarray(x) if isinstance(x, (list, tuple)) else x for x in inputs]
        return super().__call__(inputs, *args, **kwargs)

    def _features(self, inputs) -> tuple[list[np.ndarray], torch.device | None]:
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(
                "HashedCrossing: expected a list or tuple of at least two inputs, got "
                f"{type(inputs).__name__} {inputs!r:.80}"
            )
        columns = [_host_values(x) for x in inputs]
        shape = columns[0][0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise ValueError(
                f"HashedCrossing: inputs must have shape (), (batch,) or (batch, 1), got {shape}"
            )
        shapes = [c[0].shape for c in columns]
        if any(s != shape for s in shapes):
            raise ValueError(f"HashedCrossing: inputs must have equal shapes, got {shapes}")
        device = next((d for _, d in columns if d is not None), None)
        return [c[0] for c in columns], device

    def cross_values(self, features: list[np.ndarray]) -> np.ndarray:
        """Feature arrays of one shape -> int64 bins of that shape (TF's hashed cross)."""
        digest = np.full(features[0].size, _CROSS_KEY, dtype=np.uint64)
        for column in (f.reshape(-1) for f in features):
            if column.dtype == object:  # strings enter as their fingerprint
                part = fingerprint64_array([to_bytes(v) for v in column.tolist()])
            else:  # integers as their own 64 bits (two's complement)
                part = column.astype(np.int64).view(np.uint64)
            digest = fingerprint_cat64_array(digest, part)
        bins = digest % np.uint64(self.num_bins)
        return bins.astype(np.int64).reshape(features[0].shape)

    def call(self, inputs):
        features, device = self._features(inputs)
        ids = torch.as_tensor(self.cross_values(features), device=device)
        return encode_categorical_inputs(ids, self.output_mode, self.num_bins, self.dtype)

    def get_config(self):
        return {**super().get_config(), "num_bins": self.num_bins,
                "output_mode": self.output_mode, "sparse": False}  # fmt: skip

"""`StringLookup` and `IntegerLookup`: tokens <-> vocabulary indices (Keras 3 semantics on
Python values and torch; Keras's layers need TensorFlow).

Index layout: the mask token at 0 (only in `int` mode: in the other modes a mask token gets no
index and masked values add nothing to the encoding), then `num_oov_indices` OOV indices, then
the vocabulary. A value outside the vocabulary goes to the single OOV index, or with
`num_oov_indices = n > 1` to OOV bucket `hash(value) % n` as Keras: strings by FarmHash
`Fingerprint64` (SipHash-2-4 with a `salt`), integers by `value % n` (`oov_method='floormod'`)
or by hashing their decimal text (`oov_method='farmhash'`); see `fitorch.utils.string_hash`.

`adapt` ranks values by count, ties by value in descending order (Keras's
`lexsort(...)[::-1]`), keeps `max_tokens` minus the reserved indices, and for `tf_idf` learns
`idf = log(1 + documents / (1 + documents_with_token))`, the reserved indices weighted by the
mean. Output modes: `int` (the input's shape), `one_hot`, `multi_hot`, `count`, `tf_idf`
(`count * idf`), the last axis being the sample axis as in Keras's `encode_categorical_inputs`.
`vocabulary` may be a path to a text file with one token per line.
"""

from __future__ import annotations

import collections
import os

import numpy as np
import torch

from fitorch.layers.base import Layer
from fitorch.layers.preprocessing_text import encode_categorical_inputs
from fitorch.utils.string_hash import hash_buckets

__all__ = ["IntegerLookup", "StringLookup"]

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_ALIASES = {"binary": "multi_hot", "tf-idf": "tf_idf"}
_OOV_METHODS = ("floormod", "farmhash")


def _salt_pair(kind: str, salt) -> list | None:
    if salt is None:
        return None
    if isinstance(salt, (int, np.integer)) and not isinstance(salt, bool):
        return [int(salt), int(salt)]
    if isinstance(salt, (list, tuple)) and len(salt) == 2:
        return [int(s) for s in salt]
    raise ValueError(f"{kind}: salt must be an int or a tuple of 2 ints, got {salt!r}")


def read_vocabulary_file(path: str) -> list[str]:
    """The lines of a vocabulary file (one token per line, UTF-8), trailing empty lines
    dropped."""
    if not os.path.isfile(path):
        raise ValueError(f"vocabulary file {path!r} does not exist")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    while lines and lines[-1] == "":
        lines.pop()
    return lines


class IndexLookup(Layer):
    """Shared lookup logic; subclasses say how values are read (`to_values`) and whether
    they are integers (`integer_keys`)."""

    integer_keys = False

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None,
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, oov_method="floormod", salt=None,
                 **kwargs):  # fmt: skip
        kwargs.pop("vocabulary_size", None)  # Keras records it in its config; derived here
        super().__init__(**kwargs)
        kind = type(self).__name__
        output_mode = _ALIASES.get(output_mode, output_mode)
        self._check_arguments(kind, max_tokens, num_oov_indices, output_mode, pad_to_max_tokens)
        if oov_method not in _OOV_METHODS:
            raise ValueError(
                f"{kind}: oov_method must be one of {_OOV_METHODS}, got {oov_method!r}"
            )
        if salt is not None and self.integer_keys and oov_method != "farmhash":
            raise ValueError(
                f"{kind}: salt is only used with oov_method='farmhash', got oov_method="
                f"{oov_method!r}"
            )
        if invert and output_mode != "int":
            raise ValueError(f"{kind}: invert=True needs output_mode='int', got {output_mode!r}")
        if sparse:
            raise ValueError(f"{kind}: sparse=True needs TensorFlow's SparseTensor; not supported")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(
                f"{kind}: idf_weights is only used with output_mode='tf_idf', got "
                f"output_mode={output_mode!r}"
            )
        if output_mode == "tf_idf" and vocabulary is not None and idf_weights is None:
            raise ValueError(f"{kind}: output_mode='tf_idf' with a vocabulary needs idf_weights")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token, self.invert = mask_token, oov_token, bool(invert)
        self.output_mode, self.pad_to_max_tokens, self.sparse = (
            output_mode,
            pad_to_max_tokens,
            False,
        )
        self.oov_method, self.salt = oov_method, _salt_pair(kind, salt)
        self._has_input_vocabulary = vocabulary is not None
        self._vocab: list = []
        self.idf_weights: torch.Tensor | None = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    @staticmethod
    def _check_arguments(kind, max_tokens, num_oov_indices, output_mode, pad_to_max_tokens):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"{kind}: max_tokens must be > 1 or None, got {max_tokens!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{kind}: pad_to_max_tokens=True needs max_tokens")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, (int, np.integer)):
            raise ValueError(
                f"{kind}: num_oov_indices must be an int >= 0, got {num_oov_indices!r}"
            )
        if num_oov_indices < 0:
            raise ValueError(f"{kind}: num_oov_indices must be >= 0, got {num_oov_indices}")
        if output_mode not in _MODES:
            raise ValueError(f"{kind}: output_mode must be one of {_MODES}, got {output_mode!r}")

    def to_values(self, inputs) -> np.ndarray:
        raise NotImplementedError

    # -- vocabulary ------------------------------------------------------------------------
    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def _reserved(self) -> list:
        return [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """The vocabulary (a leading copy of the reserved tokens is dropped), or the path of a
        file with one token per line (taken as it is, Keras's file rule); `idf_weights`, one per
        entry of `vocabulary`, exactly when `output_mode='tf_idf'`."""
        kind = type(self).__name__
        if (self.output_mode == "tf_idf") != (idf_weights is not None):
            raise ValueError(
                f"{kind}: idf_weights must be given exactly when output_mode='tf_idf' (here "
                f"{self.output_mode!r})"
            )
        from_file = isinstance(vocabulary, (str, os.PathLike))
        if from_file and self.output_mode == "tf_idf":
            raise ValueError(f"{kind}: output_mode='tf_idf' cannot read its vocabulary from a file")
        given = self._read_file(os.fspath(vocabulary)) if from_file else vocabulary
        vocab = list(self.to_values(np.asarray(given)).reshape(-1).tolist())
        if not vocab:
            raise ValueError(f"{kind}: the vocabulary is empty")
        reserved = self._reserved()
        found_reserved = not from_file and bool(reserved) and vocab[: len(reserved)] == reserved
        tokens = vocab[len(reserved) :] if found_reserved else vocab
        self._check_tokens(kind, tokens)
        if self.max_tokens is not None and len(reserved) + len(tokens) > self.max_tokens:
            raise ValueError(
                f"{kind}: the vocabulary has {len(reserved) + len(tokens)} entries with the "
                f"reserved ones, more than max_tokens={self.max_tokens}"
            )
        self._vocab = reserved + tokens
        self._index = {v: i for i, v in enumerate(tokens, start=len(reserved))}
        if idf_weights is not None:
            self._set_idf(np.asarray(idf_weights, dtype=np.float64), len(vocab), found_reserved)

    def _read_file(self, path: str) -> list:
        lines = read_vocabulary_file(path)
        if not self.integer_keys:
            return lines
        bad = [line for line in lines if not line.strip().lstrip("+-").isdigit()]
        if bad:
            raise ValueError(
                f"{type(self).__name__}: the vocabulary file {path!r} must hold one integer per "
                f"line, got {bad[:3]}"
            )
        return [int(line) for line in lines]

    def _check_tokens(self, kind: str, tokens: list) -> None:
        repeated = sorted(v for v, c in collections.Counter(tokens).items() if c > 1)
        if repeated:
            raise ValueError(f"{kind}: the vocabulary repeats {repeated} (values must be unique)")
        if self.mask_token is not None and self.mask_token in tokens:
            raise ValueError(
                f"{kind}: the mask token {self.mask_token!r} is in the vocabulary; leave it out "
                f"or put the reserved tokens first, in this order: {self._reserved()}"
            )
        if self.invert and self.oov_token is not None and self.oov_token in tokens:
            raise ValueError(
                f"{kind}: the OOV token {self.oov_token!r} is in the vocabulary of an inverted "
                f"lookup; leave it out or put the reserved tokens first: {self._reserved()}"
            )

    def _set_idf(self, idf: np.ndarray, given: int, found_reserved: bool) -> None:
        """Weights for every index: the reserved ones get the mean of the given weights (when
        the vocabulary came without them), `pad_to_max_tokens` pads zeros at the back."""
        if idf.ndim != 1 or len(idf) != given:
            raise ValueError(
                f"{type(self).__name__}: idf_weights must be 1-D with one weight per vocabulary "
                f"entry ({given}), got shape {idf.shape}"
            )
        front = 0 if found_reserved else self._token_start()
        weights = np.concatenate([np.full(front, np.average(idf)), idf])
        self.idf_weights = torch.tensor(self._padded(weights), dtype=torch.float32)

    def _padded(self, weights: np.ndarray) -> np.ndarray:
        if self.pad_to_max_tokens and self.max_tokens is not None:
            return np.pad(weights, (0, self.max_tokens - len(weights)))
        return weights

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        return list(self._vocab) if include_special_tokens else self._vocab[self._token_start() :]

    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary (and the idf weights) from an array or list (each row a
        document; a rank-1 array is one value per document) or an iterable of batches (a
        rank-1 batch is one document, as Keras)."""
        kind = type(self).__name__
        if self._has_input_vocabulary:
            raise ValueError(
                f"{kind} {self.name!r}: cannot adapt after a vocabulary was given (vocabulary=)"
            )
        whole = isinstance(data, (list, tuple, np.ndarray, torch.Tensor))
        counts, doc_counts, docs = collections.Counter(), collections.Counter(), 0
        for i, batch in enumerate([data] if whole else data):
            if steps is not None and i >= steps:
                break
            values = self.to_values(batch[0] if isinstance(batch, tuple) and not whole else batch)
            rows = values.reshape(-1, 1) if values.ndim < 2 and whole else values
            rows = rows.reshape(1, -1) if rows.ndim < 2 else rows.reshape(rows.shape[0], -1)
            counts.update(rows.reshape(-1).tolist())
            for row in rows.tolist():
                doc_counts.update(set(row))
            docs += rows.shape[0]
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        if not counts:
            raise ValueError(f"{kind}.adapt: got no values")
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        keep = None if self.max_tokens is None else self.max_tokens - self._token_start()
        tokens = [v for v, _ in ranked[:keep]]
        self._vocab = self._reserved() + tokens
        self._index = {v: i for i, v in enumerate(tokens, start=self._token_start())}
        if self.output_mode == "tf_idf":
            idf = np.log(1 + docs / (1 + np.array([doc_counts[t] for t in tokens], np.float64)))
            idf = idf.astype(np.float32)
            front = np.full(self._token_start(), idf.mean(dtype=np.float32), np.float32)
            weights = self._padded(np.concatenate([front, idf]))
            self.idf_weights = torch.tensor(weights, dtype=torch.float32)

    # -- call ------------------------------------------------------------------------------
    def _oov_buckets(self, values: list) -> np.ndarray:
        """OOV bucket offsets in `[0, num_oov_indices)` for values outside the vocabulary."""
        n = self.num_oov_indices
        if self.integer_keys and self.oov_method == "floormod":
            return np.mod(np.asarray(values, dtype=np.int64), n)  # floor modulo, as tf.floormod
        key = None if self.salt is None else tuple(self.salt)
        return hash_buckets(np.asarray(values, dtype=object), n, key)

    def _lookup(self, values: np.ndarray) -> torch.Tensor:
        """Indices; a masked value is 0 in `int` mode and -1 (dropped) otherwise."""
        flat = values.reshape(-1).tolist()
        masked = [self.mask_token is not None and v == self.mask_token for v in flat]
        ids = [-1 if m else self._index.get(v, -2) for v, m in zip(flat, masked)]
        if self.output_mode == "int":
            ids = [0 if m else i for i, m in zip(ids, masked)]
        unknown = [i for i, v in enumerate(ids) if v == -2]
        if unknown and not self.num_oov_indices:
            found = sorted({flat[i] for i in unknown}, key=str)
            raise ValueError(
                f"{type(self).__name__}: values {found[:5]} are not in the vocabulary and "
                "num_oov_indices=0 (use num_oov_indices >= 1 to map them to OOV indices)"
            )
        if unknown:
            buckets = self._oov_buckets([flat[i] for i in unknown])
            for i, bucket in zip(unknown, buckets.tolist()):
                ids[i] = self._oov_start() + bucket
        return torch.tensor(ids, dtype=torch.int64).reshape(values.shape)

    def _invert(self, inputs) -> np.ndarray:
        """Indices -> vocabulary values (the OOV token for indices outside it)."""
        ids = inputs.cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
        size = len(self._vocab)
        values = [self._vocab[i] if 0 <= i < size else self.oov_token for i in ids.reshape(-1)]
        return np.asarray(values, dtype=object).reshape(ids.shape)

    def _encode(self, ids: torch.Tensor) -> torch.Tensor:
        """`one_hot` / `multi_hot` / `count` / `tf_idf` of the indices; -1 adds nothing."""
        width = self.max_tokens if self.pad_to_max_tokens else len(self._vocab)
        mode = "count" if self.output_mode == "tf_idf" else self.output_mode
        spare = torch.where(ids < 0, torch.full_like(ids, width), ids)  # one extra column...
        out = encode_categorical_inputs(spare, mode, width + 1, torch.float32)[..., :width]
        if self.output_mode == "tf_idf":  # ...dropped here
            out = out * self.idf_weights.to(out.device)
        return out

    def call(self, inputs):
        if not self._vocab:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: call adapt() or pass a vocabulary first"
            )
        if self.invert:
            return self._invert(inputs)
        ids = self._lookup(self.to_values(inputs))
        if isinstance(inputs, torch.Tensor):  # looked up on the host, returned beside the input
            ids = ids.to(inputs.device)
        return ids if self.output_mode == "int" else self._encode(ids)

    def get_config(self):
        tf_idf = self.output_mode == "tf_idf" and self.idf_weights is not None
        tokens, reserved = self.get_vocabulary(False), self._reserved()
        # the reserved tokens come along with tf_idf (their weights are kept as they are) and
        # when the tokens themselves start like them (a file's lines), which set_vocabulary
        # would otherwise strip
        keep = tf_idf or (bool(reserved) and tokens[: len(reserved)] == reserved)
        vocab = (self.get_vocabulary() if keep else tokens) if self._vocab else None
        idf = self.idf_weights[: len(self._vocab)].tolist() if tf_idf else None
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "mask_token": self.mask_token,
                "oov_token": self.oov_token, "invert": self.invert,
                "output_mode": self.output_mode, "pad_to_max_tokens": self.pad_to_max_tokens,
                "sparse": False, "salt": self.salt,
                # the learned state travels in the config (no asset files in fitorch)
                "vocabulary": vocab, "idf_weights": idf}  # fmt: skip

    @classmethod
    def from_config(cls, config: dict):
        # a learned vocabulary in the config is state, not a user's `vocabulary=` (so the
        # layer may still be adapted again)
        layer = cls(**{**config, "vocabulary": None, "idf_weights": None})
        if config.get("vocabulary") is not None:
            layer.set_vocabulary(config["vocabulary"], config.get("idf_weights"))
        return layer


class StringLookup(IndexLookup):
    """Strings -> indices (`oov_token='[UNK]'`, `mask_token=None` by default), or back with
    `invert=True`. Arguments in Keras 3's order."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, idf_weights=None, invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, encoding="utf-8", name=None, salt=None,
                 **kwargs):  # fmt: skip
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, pad_to_max_tokens, sparse,
                         salt=salt, name=name, **kwargs)  # fmt: skip

    def to_values(self, inputs) -> np.ndarray:
        array = np.asarray(inputs, dtype=object)
        return np.vectorize(lambda v: v.decode(self.encoding) if isinstance(v, bytes) else str(v),
                            otypes=[object])(array) if array.size else array  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Integers -> indices (`oov_token=-1`, `mask_token=None` by default), or back.
    Arguments in Keras 3's order."""

    integer_keys = True

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False,
                 output_mode="int", sparse=False, pad_to_max_tokens=False,
                 oov_method="floormod", salt=None, name=None, **kwargs):  # fmt: skip
        if vocabulary_dtype not in ("int32", "int64"):
            raise ValueError(
                f"IntegerLookup: vocabulary_dtype must be 'int32' or 'int64', got "
                f"{vocabulary_dtype!r}"
            )
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary,
                         idf_weights, invert, output_mode, pad_to_max_tokens, sparse,
                         oov_method, salt, name=name, **kwargs)  # fmt: skip

    def to_values(self, inputs) -> np.ndarray:
        if isinstance(inputs, torch.Tensor):
            inputs = inputs.detach().cpu().numpy()
        array = np.asarray(inputs)
        # floats holding whole numbers (a model's shape probe, ids from a float array) are read
        whole = array.dtype.kind == "f" and bool(np.all(np.mod(array, 1) == 0))
        if array.dtype.kind not in "iub" and not whole:
            raise ValueError(f"IntegerLookup expects integer values, got dtype {array.dtype}")
        return array.astype(np.int64)

    def get_config(self):
        return {**super().get_config(), "vocabulary_dtype": self.vocabulary_dtype,
                "oov_method": self.oov_method}  # fmt: skip

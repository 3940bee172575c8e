"""`StringLookup` and `IntegerLookup`: tokens <-> vocabulary indices (Keras 3 semantics on
Python values and torch; Keras's layers need TensorFlow).

Index layout: the mask token (if any) at 0, then the OOV index (`num_oov_indices` 0 or 1),
then the vocabulary. `adapt` ranks values by count, ties by value in descending order (Keras's
`lexsort(...)[::-1]`) and keeps `max_tokens` minus the reserved indices. Output modes: `int`
(same shape as the input), `one_hot` (rank-1 input), `multi_hot` and `count` (one row per
sample, one column per index).
"""

from __future__ import annotations

import collections

import numpy as np
import torch

from fitorch.layers.base import Layer

__all__ = ["IntegerLookup", "StringLookup"]

_MODES = ("int", "one_hot", "multi_hot", "count")


class IndexLookup(Layer):
    """Shared lookup logic; subclasses say how values are read (`to_values`)."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=None,
                 vocabulary=None, invert=False, output_mode="int", pad_to_max_tokens=False,
                 sparse=False, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        kind = type(self).__name__
        if num_oov_indices not in (0, 1):
            raise ValueError(
                f"{kind}: num_oov_indices must be 0 or 1 (Keras hashes extra OOV buckets with "
                f"farmhash, not reproduced), got {num_oov_indices!r}"
            )
        output_mode = {"binary": "multi_hot"}.get(output_mode, output_mode)
        if output_mode not in _MODES:
            raise ValueError(f"{kind}: output_mode must be one of {_MODES}, got {output_mode!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{kind}: invert=True needs output_mode='int', got {output_mode!r}")
        if mask_token is not None and output_mode != "int":
            raise ValueError(f"{kind}: mask_token is only supported with output_mode='int'")
        if sparse:
            raise ValueError(f"{kind}: sparse=True needs TensorFlow; not supported")
        self.max_tokens, self.num_oov_indices = max_tokens, int(num_oov_indices)
        self.mask_token, self.oov_token, self.invert = mask_token, oov_token, bool(invert)
        self.output_mode, self.pad_to_max_tokens, self.sparse = (
            output_mode,
            pad_to_max_tokens,
            False,
        )
        self._vocab: list = []
        if vocabulary is not None:
            self.set_vocabulary(vocabulary)
        self.built = True

    def to_values(self, inputs) -> np.ndarray:
        raise NotImplementedError

    def _reserved(self) -> list:
        mask = [] if self.mask_token is None else [self.mask_token]
        return mask + [self.oov_token] * self.num_oov_indices

    def set_vocabulary(self, vocabulary) -> None:
        """The vocabulary without reserved tokens (a leading copy of them is dropped)."""
        vocab = list(self.to_values(np.asarray(vocabulary)).reshape(-1).tolist())
        reserved = self._reserved()
        if reserved and vocab[: len(reserved)] == reserved:
            vocab = vocab[len(reserved) :]
        clashes = [v for v in vocab if v in (self.mask_token, self.oov_token)]
        repeated = sorted({v for v, c in collections.Counter(vocab).items() if c > 1})
        if clashes or repeated:
            raise ValueError(
                f"{type(self).__name__}: the vocabulary repeats {repeated or clashes} "
                "(values must be unique and differ from mask_token and oov_token)"
            )
        self._vocab = reserved + vocab
        self._index = {
            v: i for i, v in enumerate(self._vocab) if i >= len(reserved) or v == self.mask_token
        }

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        return list(self._vocab) if include_special_tokens else self._vocab[len(self._reserved()) :]

    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def adapt(self, data, batch_size=None, steps=None) -> None:
        batches = [data] if isinstance(data, (list, tuple, np.ndarray, torch.Tensor)) else data
        counts = collections.Counter()
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            counts.update(
                self.to_values(batch[0] if isinstance(batch, tuple) else batch).reshape(-1).tolist()
            )
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        if not counts:
            raise ValueError(f"{type(self).__name__}.adapt: got no values")
        ranked = sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)
        keep = None if self.max_tokens is None else self.max_tokens - len(self._reserved())
        self.set_vocabulary([v for v, _ in ranked[:keep]])

    def _lookup(self, values: np.ndarray) -> torch.Tensor:
        oov = len(self._reserved()) - 1 if self.num_oov_indices else None
        flat = values.reshape(-1).tolist()
        unknown = sorted({v for v in flat if v not in self._index}, key=str)
        if unknown and oov is None:
            raise ValueError(
                f"{type(self).__name__}: values {unknown[:5]} are not in the vocabulary and "
                "num_oov_indices=0"
            )
        ids = [self._index.get(v, oov) for v in flat]
        return torch.tensor(ids, dtype=torch.int64).reshape(values.shape)

    def _invert(self, inputs) -> np.ndarray:
        """Indices -> vocabulary values (the OOV token for indices outside it)."""
        ids = inputs.cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
        size = len(self._vocab)
        values = [self._vocab[i] if 0 <= i < size else self.oov_token for i in ids.reshape(-1)]
        return np.asarray(values, dtype=object).reshape(ids.shape)

    def call(self, inputs):
        if not self._vocab:
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: call adapt() or pass a vocabulary first"
            )
        if self.invert:
            return self._invert(inputs)
        ids = self._lookup(self.to_values(inputs))
        if self.output_mode == "int":
            return ids
        width = self.max_tokens if self.pad_to_max_tokens and self.max_tokens else len(self._vocab)
        if self.output_mode == "one_hot":
            squeeze = ids.ndim == 2 and ids.shape[1] == 1
            return torch.nn.functional.one_hot(ids[:, 0] if squeeze else ids, width).float()
        rows = ids.reshape(ids.shape[0], -1) if ids.ndim > 1 else ids[:, None]
        out = torch.zeros(rows.shape[0], width).scatter_add_(1, rows, torch.ones(rows.shape))
        return (out > 0).float() if self.output_mode == "multi_hot" else out

    def get_config(self):
        return {**super().get_config(), "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "mask_token": self.mask_token,
                "oov_token": self.oov_token, "invert": self.invert,
                "output_mode": self.output_mode, "pad_to_max_tokens": self.pad_to_max_tokens,
                "sparse": False,
                # the learned vocabulary travels in the config (no asset files in fitorch)
                "vocabulary": self.get_vocabulary(False) or None}  # fmt: skip


class StringLookup(IndexLookup):
    """Strings -> indices (`oov_token='[UNK]'`, `mask_token=None` by default), or back with
    `invert=True`."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token="[UNK]",
                 vocabulary=None, encoding="utf-8", invert=False, output_mode="int",
                 pad_to_max_tokens=False, sparse=False, **kwargs):  # fmt: skip
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, invert,
                         output_mode, pad_to_max_tokens, sparse, **kwargs)  # fmt: skip

    def to_values(self, inputs) -> np.ndarray:
        array = np.asarray(inputs, dtype=object)
        return np.vectorize(lambda v: v.decode(self.encoding) if isinstance(v, bytes) else str(v),
                            otypes=[object])(array) if array.size else array  # fmt: skip

    def get_config(self):
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Integers -> indices (`oov_token=-1`, `mask_token=None` by default), or back."""

    def __init__(self, max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
                 output_mode="int", sparse=False, vocabulary=None, vocabulary_dtype="int64",
                 idf_weights=None, invert=False, pad_to_max_tokens=False, **kwargs):  # fmt: skip
        if idf_weights is not None:
            raise ValueError("IntegerLookup: idf_weights (output_mode='tf_idf') is not supported")
        self.vocabulary_dtype = vocabulary_dtype
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary, invert,
                         output_mode, pad_to_max_tokens, sparse, **kwargs)  # fmt: skip

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
        return {**super().get_config(), "vocabulary_dtype": self.vocabulary_dtype}

"""`pad_sequences`: list of variable-length sequences -> one rectangular numpy array (Keras)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def _check_side(name: str, value: str) -> None:
    if value not in ("pre", "post"):
        raise ValueError(f"{name} must be 'pre' or 'post', got {value!r}")


def pad_sequences(
    sequences: Iterable[Sequence],
    maxlen: int | None = None,
    dtype: str = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: float | str = 0.0,
) -> np.ndarray:
    """Pad (or truncate) each sequence to `maxlen` steps; returns `(len(sequences), maxlen, ...)`.

    `maxlen=None` uses the longest sequence. Sequences longer than `maxlen` lose steps at the
    start (`truncating="pre"`) or end (`"post"`); shorter ones get `value` before (`padding="pre"`)
    or after (`"post"`). Trailing shape comes from the first non-empty sequence.

    >>> pad_sequences([[1], [2, 3]]).tolist()
    [[0, 1], [2, 3]]
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"sequences must be iterable with a length, got {type(sequences)}")
    _check_side("padding", padding)
    _check_side("truncating", truncating)
    lengths, sample_shape = [], ()
    for x in sequences:
        try:
            lengths.append(len(x))
        except TypeError as err:
            raise ValueError(
                f"sequences must be a list of iterables, found non-iterable {x!r}"
            ) from err
        if len(x) and not sample_shape:
            sample_shape = np.asarray(x).shape[1:]
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if maxlen < 0:
        raise ValueError(f"maxlen must be >= 0, got {maxlen}")
    is_str = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.object_)
    if isinstance(value, str) and dtype is not object and not is_str:
        raise ValueError(
            f"dtype {dtype!r} is not compatible with the string padding value {value!r}; "
            "use dtype=object for variable-length strings"
        )
    out = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    for i, x in enumerate(sequences):
        if not len(x) or maxlen == 0:
            continue
        kept = np.asarray(x[-maxlen:] if truncating == "pre" else x[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(
                f"shape of sample {kept.shape[1:]} of sequence at position {i} differs from "
                f"the expected shape {tuple(sample_shape)}"
            )
        if padding == "post":
            out[i, : len(kept)] = kept
        else:
            out[i, -len(kept) :] = kept
    return out

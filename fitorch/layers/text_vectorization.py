"""`TextVectorization`: strings -> token ids or bag-of-words vectors (Keras 3 semantics,
written on Python strings and torch; Keras's own layer needs TensorFlow).

Pipeline per string: standardize (`lower_and_strip_punctuation` default; ASCII letters only are
lowered, as `tf.strings.lower`) -> split (whitespace
runs, or characters) -> ngrams (all 1..n-grams, or the given sizes, joined by a space, each size
in turn) -> lookup. Vocabulary (int mode): index 0 the mask `''`, 1 the OOV token `[UNK]`, then
the learned or given tokens; other modes have no mask, OOV at 0. `adapt` ranks tokens by count,
ties by the token in descending order (Keras's `lexsort(...)[::-1]`), keeps `max_tokens` minus
the reserved ones, and for `tf_idf` learns `idf = log(1 + docs / (1 + docs_with_token))`, the
OOV weight being the mean of the others.
"""

from __future__ import annotations

import collections
import math
import os
import re
import string

import numpy as np
import torch

from fitorch.layers.base import Layer
from fitorch.layers.index_lookup import read_vocabulary_file

__all__ = ["TextVectorization"]

OOV, MASK = "[UNK]", ""
_PUNCTUATION = re.compile("[" + re.escape(string.punctuation) + "]")
# Keras lowers with tf.strings.lower, which maps only ASCII letters ("Ü" stays "Ü")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)
_SPLIT = ("whitespace", "character", None)
_MODES = ("int", "multi_hot", "count", "tf_idf", "one_hot")


def standardize_text(text: str, how) -> str:
    if callable(how):
        return how(text)
    if how in ("lower", "lower_and_strip_punctuation"):
        text = text.translate(_ASCII_LOWER)
    if how in ("strip_punctuation", "lower_and_strip_punctuation"):
        text = _PUNCTUATION.sub("", text)
    return text


def split_text(text: str, how) -> list[str]:
    if callable(how):
        return list(how(text))
    if how == "whitespace":
        return text.split()
    if how == "character":
        return list(text)
    return [text]


def ngram_tokens(tokens: list[str], ngrams) -> list[str]:
    if ngrams is None:
        return tokens
    sizes = range(1, ngrams + 1) if isinstance(ngrams, int) else ngrams
    return [" ".join(tokens[i : i + n]) for n in sizes for i in range(len(tokens) - n + 1)]


def _strings(inputs) -> list[str]:
    """A batch of strings: list/tuple, NumPy str/bytes/object array `(n,)` or `(n, 1)`."""
    array = np.asarray(inputs, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"TextVectorization expects a batch of strings (n,) or (n, 1), got shape {array.shape}"
        )
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array]


class TextVectorization(Layer):
    """Strings -> int ids `(batch, length)` or `(batch, vocab)` multi_hot/count/tf_idf floats."""

    def __init__(self, max_tokens=None, standardize="lower_and_strip_punctuation",
                 split="whitespace", ngrams=None, output_mode="int", output_sequence_length=None,
                 pad_to_max_tokens=False, vocabulary=None, idf_weights=None, sparse=False,
                 ragged=False, encoding="utf-8", **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in _MODES:
            raise ValueError(
                f"TextVectorization: output_mode must be one of {_MODES}, got {output_mode!r}"
            )
        if not callable(standardize) and standardize not in _STANDARDIZE:
            raise ValueError(
                f"TextVectorization: standardize must be one of {_STANDARDIZE} or a callable, "
                f"got {standardize!r}"
            )
        if not callable(split) and split not in _SPLIT:
            raise ValueError(
                f"TextVectorization: split must be one of {_SPLIT} or a callable, got {split!r}"
            )
        if not (
            ngrams is None
            or isinstance(ngrams, int)
            or (isinstance(ngrams, (tuple, list)) and all(isinstance(n, int) for n in ngrams))
        ):
            raise ValueError(
                f"TextVectorization: ngrams must be None, an int or a tuple of ints, got {ngrams!r}"
            )
        if output_sequence_length is not None and output_mode != "int":
            raise ValueError(
                "TextVectorization: output_sequence_length is only for output_mode='int'"
            )
        if sparse or ragged:
            raise ValueError(
                "TextVectorization: sparse and ragged outputs need TensorFlow; not supported"
            )
        if max_tokens is not None and max_tokens < (2 if output_mode == "int" else 1) + 1:
            raise ValueError(
                "TextVectorization: max_tokens must leave room for learned tokens, "
                f"got {max_tokens}"
            )
        self.max_tokens, self.standardize, self.split = max_tokens, standardize, split
        self.ngrams = tuple(ngrams) if isinstance(ngrams, list) else ngrams
        self.output_mode, self.output_sequence_length = output_mode, output_sequence_length
        self.pad_to_max_tokens, self.encoding = pad_to_max_tokens, encoding
        self.sparse = self.ragged = False
        self._vocab: list[str] = []
        self.idf_weights: torch.Tensor | None = None
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)
        elif idf_weights is not None:
            raise ValueError("TextVectorization: idf_weights needs a vocabulary")
        self.built = True

    # -- vocabulary ------------------------------------------------------------------------
    def _reserved(self) -> list[str]:
        return [MASK, OOV] if self.output_mode == "int" else [OOV]

    def tokens(self, text: str) -> list[str]:
        """One string through standardize, split and ngrams."""
        return ngram_tokens(
            split_text(standardize_text(text, self.standardize), self.split), self.ngrams
        )

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Tokens (without the reserved mask/OOV, which are added; a leading copy is dropped),
        or the path of a text file with one token per line (taken as it is, Keras's file
        rule); `idf_weights` (one per token) is required for tf_idf and refused otherwise."""
        from_file = isinstance(vocabulary, (str, os.PathLike))
        if from_file and self.output_mode == "tf_idf":
            raise ValueError(
                "TextVectorization: output_mode='tf_idf' cannot read its vocabulary from a file"
            )
        if from_file:
            vocab = read_vocabulary_file(os.fspath(vocabulary))
        else:
            vocab = [str(v) for v in vocabulary]
        reserved = self._reserved()
        if not from_file and vocab[: len(reserved)] == reserved:
            vocab = vocab[len(reserved) :]
        if len(set(vocab)) != len(vocab):
            repeated = sorted({v for v in vocab if vocab.count(v) > 1})
            raise ValueError(f"TextVectorization: the vocabulary repeats {repeated}")
        if (self.output_mode == "tf_idf") != (idf_weights is not None):
            raise ValueError(
                "TextVectorization: idf_weights must be given exactly when output_mode='tf_idf'"
            )
        self._vocab = reserved + vocab
        self._index = {t: i for i, t in enumerate(self._vocab)}
        if idf_weights is not None:  # tf_idf: no mask, the OOV weight first
            idf = [float(w) for w in idf_weights]
            if len(idf) == len(vocab):
                idf = [sum(idf) / max(len(idf), 1)] + idf  # OOV: the mean (Keras)
            if len(idf) != len(self._vocab):
                raise ValueError(
                    f"TextVectorization: idf_weights has {len(idf_weights)} values for "
                    f"{len(vocab)} tokens"
                )
            self.idf_weights = torch.tensor(idf, dtype=torch.float32)

    def _config_vocabulary(self) -> list[str] | None:
        """The tokens, with the reserved ones first when the tokens start like them (a file's
        lines), so that `set_vocabulary` strips only those."""
        tokens, reserved = self.get_vocabulary(False), self._reserved()
        if not self._vocab:
            return None
        return reserved + tokens if tokens[: len(reserved)] == reserved else tokens

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        return list(self._vocab) if include_special_tokens else self._vocab[len(self._reserved()) :]

    def vocabulary_size(self) -> int:
        return len(self._vocab)

    def adapt(self, data, batch_size=None, steps=None) -> None:
        """Learn the vocabulary (and idf weights) from strings: a list/array, or an iterable
        of batches (`(texts, labels)` batches use the texts)."""
        batches = [data] if isinstance(data, (list, tuple, np.ndarray)) else data
        counts, doc_counts, docs = collections.Counter(), collections.Counter(), 0
        for i, batch in enumerate(batches):
            if steps is not None and i >= steps:
                break
            if isinstance(batch, tuple):
                batch = batch[0]
            for text in _strings(batch):
                toks = self.tokens(text)
                counts.update(toks)
                doc_counts.update(set(toks))
                docs += 1
        if not docs:
            raise ValueError("TextVectorization.adapt: got no strings")
        for special in (MASK, OOV):
            counts.pop(special, None)
        ranked = sorted(
            counts.items(), key=lambda kv: (kv[1], kv[0].encode(self.encoding)), reverse=True
        )
        keep = None if self.max_tokens is None else self.max_tokens - len(self._reserved())
        vocab = [t for t, _ in ranked[:keep]]
        idf = None
        if self.output_mode == "tf_idf":
            idf = [math.log(1 + docs / (1 + doc_counts[t])) for t in vocab]
        self.set_vocabulary(vocab, idf)

    # -- call ------------------------------------------------------------------------------
    def call(self, inputs):
        if not self._vocab:
            raise ValueError(
                f"TextVectorization {self.name!r}: call adapt() or pass a vocabulary first"
            )
        ids = [
            [self._index.get(t, self._index[OOV]) for t in self.tokens(s)] for s in _strings(inputs)
        ]
        if self.output_mode == "int":
            length = self.output_sequence_length or max((len(r) for r in ids), default=0)
            out = torch.zeros(len(ids), length, dtype=torch.int64)
            for row, r in zip(out, ids):
                row[: min(len(r), length)] = torch.tensor(r[:length], dtype=torch.int64)
            return out
        width = self.max_tokens if self.pad_to_max_tokens and self.max_tokens else len(self._vocab)
        out = torch.zeros(len(ids), width, dtype=torch.float32)
        for row, r in zip(out, ids):
            row.index_add_(0, torch.tensor(r, dtype=torch.int64), torch.ones(len(r)))
        if self.output_mode in ("multi_hot", "one_hot"):
            return (out > 0).to(torch.float32)
        if self.output_mode == "tf_idf":
            out[:, : len(self.idf_weights)] *= self.idf_weights.to(out.device)
        return out

    def get_config(self):
        config = {**super().get_config(), "max_tokens": self.max_tokens, "ngrams": self.ngrams,
                  "standardize": self.standardize, "split": self.split,
                  "output_mode": self.output_mode, "pad_to_max_tokens": self.pad_to_max_tokens,
                  "output_sequence_length": self.output_sequence_length, "sparse": False,
                  "ragged": False, "encoding": self.encoding,
                  # the learned state travels in the config (fitorch keeps no asset files)
                  "vocabulary": self._config_vocabulary(),
                  "idf_weights": None if self.idf_weights is None
                  else self.idf_weights.tolist()}  # fmt: skip
        return config

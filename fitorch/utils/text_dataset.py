"""`text_dataset_from_directory`: a folder of class subfolders of `.txt` files -> string batches."""

from __future__ import annotations

import functools

import numpy as np
import torch

from fitorch.utils import dataset_utils as du


def read_text(path: str, max_length: int | None) -> str:
    """The file's text (UTF-8), cut to its first `max_length` characters when given."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return text if max_length is None else text[:max_length]


def string_collate(samples):
    """A batch of strings -> NumPy str array `(batch,)` (with stacked labels when present)."""
    if isinstance(samples[0], tuple):
        texts, ys = zip(*samples)
        return np.asarray(texts, dtype=str), torch.stack(list(ys))
    return np.asarray(samples, dtype=str)


def text_dataset_from_directory(
    directory: str,
    labels="inferred",
    label_mode: str | None = "int",
    class_names=None,
    batch_size: int | None = 32,
    max_length: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    follow_links: bool = False,
    verbose: bool = True,
):
    """Batches `(texts, labels)` from `directory/<class>/*.txt` (Keras 3's indexing, split and
    label encodings as `image_dataset_from_directory`); texts are NumPy str arrays `(batch,)`
    (Keras yields tf string tensors) cut to `max_length` characters."""
    du.check_labels_arg(labels, class_names, label_mode, "text")
    load = functools.partial(read_text, max_length=max_length)
    return du.directory_datasets(
        directory, labels=labels, label_mode=label_mode, class_names=class_names,
        formats=(".txt",), what=".txt files", load=load, collate=string_collate,
        batch_size=batch_size,
        shuffle=shuffle, seed=seed, validation_split=validation_split, subset=subset,
        follow_links=follow_links, verbose=verbose,
    )  # fmt: skip

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
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    du.check_validation_split_arg(validation_split, subset, shuffle, seed)
    seed = np.random.randint(1e6) if seed is None else seed
    paths, ids, class_names = du.index_directory(
        directory, labels, (".txt",), class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(
            f"label_mode='binary' needs exactly 2 classes, got class_names={class_names}"
        )
    load = functools.partial(read_text, max_length=max_length)

    def build(subset_name, shuffled):
        subset_paths, subset_ids = du.split(paths, ids, validation_split, subset_name)
        if not subset_paths:
            which = f"{subset_name} .txt files" if subset_name else ".txt files"
            raise ValueError(f"no {which} found in {directory}")
        targets = du.encode_labels(subset_ids, label_mode, len(class_names or ()))
        return du.FileDataset(subset_paths, targets, load, batch_size, shuffled, seed,
                              class_names, string_collate)  # fmt: skip

    if subset == "both":
        return [build("training", shuffle), build("validation", False)]
    return build(subset, shuffle)

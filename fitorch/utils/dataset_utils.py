"""Shared pieces of the `*_dataset_from_directory` functions: Keras's file indexing (order,
labels, seeded shuffle), the validation split, label encodings, and `FileDataset`, the
re-iterable batched `DataLoader` they return (decoding lazily, per sample, in workers if asked).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

LABEL_MODES = ("int", "categorical", "binary", None)
SUBSETS = ("training", "validation", "both", None)


def check_labels_arg(labels, class_names, label_mode, what: str) -> None:
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(
                f"labels must be 'inferred', None, or a list/tuple of integer labels, one per "
                f"{what} file in sorted order, got {labels!r}"
            )
        if class_names:
            raise ValueError(
                f"class_names can only be given with labels='inferred', got labels={labels!r}"
            )
    if label_mode not in LABEL_MODES:
        raise ValueError(
            f"label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}"
        )


def check_validation_split_arg(validation_split, subset, shuffle: bool, seed) -> None:
    """Keras's rules: split in (0, 1); split and subset together; a seed when shuffling."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split!r}")
    if bool(validation_split) != bool(subset):
        raise ValueError(
            "validation_split and subset go together: got "
            f"validation_split={validation_split!r}, subset={subset!r}"
        )
    if subset not in SUBSETS:
        raise ValueError(f"subset must be 'training', 'validation' or 'both', got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "validation_split with shuffle=True needs a seed, so that the training and "
            "validation subsets do not overlap"
        )


def _class_folders(directory: str, class_names) -> list[str]:
    found = sorted(
        d for d in os.listdir(directory)
        if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")
    )  # fmt: skip
    if class_names is None:
        return found
    missing = [c for c in class_names if c not in found]
    if missing:
        raise ValueError(
            f"class_names {missing} are not subfolders of {directory}; its subfolders are {found}"
        )
    return list(class_names)


def _files_under(folder: str, formats: tuple[str, ...], follow_links: bool) -> list[str]:
    """Matching files below `folder`, walked folder by folder in sorted order (Keras's order)."""
    walk = sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0])
    return [
        os.path.join(root, name)
        for root, _, names in walk
        for name in sorted(names)
        if name.lower().endswith(formats)
    ]


def index_directory(
    directory: str,
    labels,
    formats: tuple[str, ...],
    class_names=None,
    shuffle: bool = True,
    seed: int | None = None,
    follow_links: bool = False,
    verbose: bool = True,
):
    """`(file_paths, labels, class_names)` in Keras's order: class folders sorted (or in
    `class_names` order), files sorted within each folder walk; with `shuffle`, paths and labels
    are permuted by two `RandomState(seed)` shuffles (the same permutation). `labels=None`
    gives no labels and no class names; a list gives those labels, class names its sorted
    distinct values."""
    if not os.path.isdir(directory):
        raise ValueError(f"directory {directory!r} is not a folder")
    if labels == "inferred":
        folders = _class_folders(directory, class_names)
    elif class_names is not None:
        raise ValueError(
            f"class_names can only be given with labels='inferred', got labels={labels!r}"
        )
    else:
        folders = [""]
    paths, inferred = [], []
    for index, folder in enumerate(folders):
        found = _files_under(os.path.join(directory, folder), formats, follow_links)
        paths += found
        inferred += [index] * len(found)
    if labels == "inferred":
        labels, class_names = np.asarray(inferred, dtype="int32"), folders
    elif labels is not None:
        if len(labels) != len(paths):
            raise ValueError(
                f"labels has {len(labels)} entries but {directory} holds {len(paths)} files "
                f"with the extensions {formats}"
            )
        class_names = [str(v) for v in sorted(set(labels))]
        labels = np.asarray(labels)
    if verbose:
        classes = "" if labels is None else f" belonging to {len(class_names)} classes"
        print(f"Found {len(paths)} files{classes}.")
    if shuffle:
        seed = np.random.randint(1e6) if seed is None else seed
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, class_names


def split(paths: list, labels, validation_split, subset: str | None):
    """The last `int(validation_split * n)` files are the validation subset, the rest training."""
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    cut = (
        slice(None, len(paths) - n_val) if subset == "training" else slice(len(paths) - n_val, None)
    )
    return paths[cut], None if labels is None else labels[cut]


def encode_labels(
    labels: np.ndarray, label_mode: str | None, num_classes: int
) -> torch.Tensor | None:
    """int -> int32 `(n,)`; binary -> float32 `(n, 1)`; categorical -> float32 one-hot."""
    if label_mode is None or labels is None:
        return None
    ids = torch.as_tensor(np.asarray(labels, dtype="int64"))
    if label_mode == "binary":
        return ids.to(torch.float32)[:, None]
    if label_mode == "categorical":
        return torch.nn.functional.one_hot(ids, num_classes).to(torch.float32)
    return ids.to(torch.int32)


class _Samples(Dataset):
    """Item `i`: `load(path_i)` (and label `i`): the decoding happens when a batch asks."""

    def __init__(self, paths: list[str], labels, load: Callable):
        self.paths, self.labels, self.load = paths, labels, load

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        sample = self.load(self.paths[i])
        return sample if self.labels is None else (sample, self.labels[i])


class FileDataset(DataLoader):
    """A `DataLoader` over files with Keras's dataset attributes `class_names` and `file_paths`.

    Each pass yields batches `(samples, labels)` (or `samples` without labels); with `shuffle`
    the order is redrawn every pass from a generator seeded with `seed`, so runs repeat. It is
    re-iterable, so `fit(ds, epochs=...)` reads it every epoch.
    """

    def __init__(self, paths, labels, load, batch_size, shuffle, seed, class_names, collate,
                 num_workers: int = 0):  # fmt: skip
        generator = torch.Generator().manual_seed(int(seed)) if shuffle else None
        super().__init__(
            _Samples(list(paths), labels, load),
            batch_size=batch_size,
            shuffle=bool(shuffle),
            generator=generator,
            collate_fn=collate if batch_size is not None else (lambda item: item),
            num_workers=num_workers,
        )
        self.class_names = class_names
        self.file_paths = list(paths)


def stack_collate(samples: Sequence):
    """Stack tensor samples (and labels) of one batch along a new first axis."""
    if isinstance(samples[0], tuple):
        xs, ys = zip(*samples)
        return torch.stack(list(xs)), torch.stack(list(ys))
    return torch.stack(list(samples))


def directory_datasets(
    directory: str,
    *,
    labels,
    label_mode,
    class_names,
    formats: tuple[str, ...],
    what: str,
    load,
    collate,
    batch_size,
    shuffle: bool,
    seed,
    validation_split,
    subset,
    follow_links: bool,
    verbose: bool,
    num_workers: int = 0,
):
    """What every `*_dataset_from_directory` returns once its own arguments are checked:
    `directory` indexed as Keras indexes it, split by `validation_split`/`subset`, as one
    `FileDataset` decoding each file with `load` (or `[train, val]` for `subset='both'`,
    validation unshuffled). `what` names the files in errors ("images", ".wav files")."""
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    check_validation_split_arg(validation_split, subset, shuffle, seed)
    seed = np.random.randint(1e6) if seed is None else seed
    paths, ids, class_names = index_directory(
        directory, labels, formats, class_names, shuffle, seed, follow_links, verbose
    )
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(
            f"label_mode='binary' needs exactly 2 classes, got class_names={class_names}"
        )

    def build(subset_name, shuffled):
        subset_paths, subset_ids = split(paths, ids, validation_split, subset_name)
        if not subset_paths:
            which = f"{subset_name} {what}" if subset_name else what
            raise ValueError(f"no {which} found in {directory} with the extensions {formats}")
        targets = encode_labels(subset_ids, label_mode, len(class_names or ()))
        return FileDataset(subset_paths, targets, load, batch_size, shuffled, seed,
                           class_names, collate, num_workers)  # fmt: skip

    if subset == "both":
        return [build("training", shuffle), build("validation", False)]
    return build(subset, shuffle)

"""Readers shared by the datasets: npz/pickle files opened without running code, seeded splits
and the word-index encoding of imdb/reuters (Keras 3's conventions)."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np

# The only globals a dataset pickle may name: those that rebuild NumPy arrays. Anything else
# (os.system, builtins.eval, ...) is refused, so a hostile file cannot execute code.
SAFE_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }
)


class ArrayUnpickler(pickle.Unpickler):
    """`pickle.Unpickler` that resolves only `SAFE_GLOBALS`; other names raise UnpicklingError."""

    def find_class(self, module, name):
        if (module, name) not in SAFE_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name} from a dataset file: only NumPy arrays are "
                "allowed (the file may be corrupt or hostile)"
            )
        return super().find_class(module, name)


def _read_npy(buffer: io.BytesIO) -> np.ndarray:
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError:  # an object array (ragged sequences): its payload is a pickle
        buffer.seek(0)
        major, _ = np.lib.format.read_magic(buffer)
        if major == 1:
            np.lib.format.read_array_header_1_0(buffer)
        else:
            np.lib.format.read_array_header_2_0(buffer)
        return ArrayUnpickler(buffer).load()


def load_npz(path: str) -> dict[str, np.ndarray]:
    """Every `.npy` member of the npz at `path`; object arrays go through `ArrayUnpickler`."""
    with zipfile.ZipFile(path) as archive:
        return {
            name[:-4]: _read_npy(io.BytesIO(archive.read(name)))
            for name in archive.namelist()
            if name.endswith(".npy")
        }


def load_pickle(path: str, encoding: str = "bytes"):
    """A pickle (CIFAR batch) read with `ArrayUnpickler` (plain containers and arrays only)."""
    with open(path, "rb") as f:
        return ArrayUnpickler(f, encoding=encoding).load()


def check_test_split(test_split: float) -> None:
    if not 0 <= test_split < 1:
        raise ValueError(f"test_split must be in [0, 1), got {test_split!r}")


def shuffle_split(x: np.ndarray, y: np.ndarray, test_split: float, seed: int):
    """`(x_train, y_train), (x_test, y_test)`: rows permuted by `RandomState(seed).shuffle`, the
    first `int(n * (1 - test_split))` for training (Keras's housing datasets)."""
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def shift_ids(xs, start_char: int | None, index_from: int) -> list[list[int]]:
    """Word-id lists with every id shifted by `index_from`, `start_char` prepended if not None."""
    lead = [] if start_char is None else [start_char]
    return [lead + [int(w) + (index_from or 0) for w in x] for x in xs]


def drop_long(seqs: list, labels: np.ndarray, maxlen: int | None):
    """Keep the sequences shorter than `maxlen` (all when None) and their labels."""
    if not maxlen:
        return seqs, labels
    keep = [i for i, s in enumerate(seqs) if len(s) < maxlen]
    return [seqs[i] for i in keep], labels[keep]


def limit_vocabulary(seqs: list, num_words: int | None, skip_top: int, oov_char: int | None):
    """Ids outside `[skip_top, num_words)` become `oov_char` (dropped when it is None).

    As in Keras, `num_words=None` stands for the largest id present, so that id itself falls
    outside the range.
    """
    top = num_words or max(max(s) for s in seqs if s)
    if oov_char is None:
        return [[w for w in s if skip_top <= w < top] for s in seqs]
    return [[w if skip_top <= w < top else oov_char for w in s] for s in seqs]


def object_array(seqs: list) -> np.ndarray:
    """A 1-D object array of lists (NumPy would build a 2-D int array for equal lengths)."""
    out = np.empty(len(seqs), dtype=object)
    out[:] = seqs
    return out

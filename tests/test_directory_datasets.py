"""image_/text_dataset_from_directory: file order, labels and subsets equal Keras 3's own
indexing (keras.src.utils.dataset_utils), pixels equal Keras 3's per-image loader on the torch
backend, batches re-iterable and read by fit."""

import os

import numpy as np
import pytest
import torch

import fitorch
from fitorch.utils import image_dataset_from_directory, text_dataset_from_directory

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture
def image_dir(tmp_path):
    """cats (with a nested folder), dogs, a hidden folder and a non-image file; odd sizes."""
    rng = np.random.default_rng(0)
    sizes = {"cat": [(10, 14), (7, 7), (9, 5)], "dog": [(12, 8), (6, 11), (8, 8), (5, 9)]}
    for cls, shapes in sizes.items():
        for i, (h, w) in enumerate(shapes):
            folder = tmp_path / cls / ("sub" if cls == "cat" and i == 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            pixels = rng.integers(0, 256, (h, w, 3)).astype("uint8")
            PIL.fromarray(pixels).save(folder / f"img_{i}.{'png' if i % 2 else 'bmp'}")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").mkdir()
    PIL.fromarray(np.zeros((4, 4, 3), "uint8")).save(tmp_path / ".hidden" / "x.png")
    return tmp_path


def _keras_index(directory, labels="inferred", formats=(".bmp", ".gif", ".jpeg", ".jpg", ".png"),
                 subset=None, split=None, **kwargs):  # fmt: skip
    from keras.src.utils import dataset_utils

    paths, ids, names = dataset_utils.index_directory(
        str(directory), labels, formats, verbose=False, **kwargs
    )
    if split:
        paths, ids = dataset_utils.get_training_or_validation_split(paths, ids, split, subset)
    return paths, ids, names


def _all(ds):
    xs, ys = zip(*list(ds))
    return torch.cat(xs), torch.cat(ys)


@pytest.mark.parametrize("shuffle, seed", [(False, None), (True, 3), (True, 1337)])
def test_order_and_labels_equal_keras(image_dir, shuffle, seed):
    ds = image_dataset_from_directory(
        image_dir, image_size=(4, 4), shuffle=shuffle, seed=seed, verbose=False
    )
    paths, ids, names = _keras_index(image_dir, shuffle=shuffle, seed=seed)
    assert ds.file_paths == paths and ds.class_names == names == ["cat", "dog"]
    _, y = _all(ds)
    assert y.dtype == torch.int32
    if shuffle:  # each pass is a seeded permutation of the indexed files
        assert sorted(y.tolist()) == sorted(ids.tolist())
    else:
        assert y.tolist() == ids.tolist() == [0, 0, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("subset", ["training", "validation", "both"])
def test_validation_split_subsets_equal_keras(image_dir, subset):
    out = image_dataset_from_directory(
        image_dir, image_size=(3, 3), validation_split=0.3, subset=subset, seed=5, verbose=False
    )
    for name, ds in zip(
        ["training", "validation"] if subset == "both" else [subset],
        out if subset == "both" else [out],
    ):
        paths, ids, _ = _keras_index(image_dir, shuffle=True, seed=5, subset=name, split=0.3)
        assert ds.file_paths == paths
        assert sorted(_all(ds)[1].tolist()) == sorted(ids.tolist())
    if subset == "both":
        train, val = out
        assert len(train.file_paths) == 5 and len(val.file_paths) == 2
        assert not set(train.file_paths) & set(val.file_paths)
        assert (
            _all(val)[1].tolist()
            == _keras_index(image_dir, shuffle=True, seed=5, subset="validation", split=0.3)[
                1
            ].tolist()
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"image_size": (6, 5)},
        {"image_size": (6, 5), "interpolation": "nearest"},
        {"image_size": (4, 9), "crop_to_aspect_ratio": True},
        {"image_size": (4, 9), "pad_to_aspect_ratio": True},
        {"image_size": (5, 5), "color_mode": "grayscale", "interpolation": "bicubic"},
        {"image_size": (5, 5), "color_mode": "rgba", "data_format": "channels_first"},
    ],
)
def test_pixels_equal_keras_loader(image_dir, kwargs):
    from keras.src.utils.image_dataset_utils import _load_image_grain

    ds = image_dataset_from_directory(
        image_dir, shuffle=False, batch_size=3, verbose=False, **kwargs
    )
    x, _ = _all(ds)
    channels = {"rgb": 3, "rgba": 4, "grayscale": 1}[kwargs.get("color_mode", "rgb")]
    for image, path in zip(x, ds.file_paths, strict=True):
        ref = _load_image_grain(
            path, kwargs["image_size"], channels, kwargs.get("interpolation", "bilinear"),
            kwargs.get("data_format", "channels_last"), kwargs.get("crop_to_aspect_ratio", False),
            kwargs.get("pad_to_aspect_ratio", False),
        )  # fmt: skip
        np.testing.assert_allclose(image.numpy(), np.asarray(ref), atol=1e-3)
    assert x.dtype == torch.float32


def test_label_modes_explicit_labels_and_batches(image_dir):
    ds = image_dataset_from_directory(
        image_dir,
        label_mode="categorical",
        image_size=2,
        shuffle=False,
        batch_size=4,
        verbose=False,
    )
    shapes = [(tuple(x.shape), tuple(y.shape)) for x, y in ds]
    assert shapes == [((4, 2, 2, 3), (4, 2)), ((3, 2, 2, 3), (3, 2))]
    np.testing.assert_array_equal(
        _all(ds)[1].numpy(), np.eye(2, dtype="float32")[[0, 0, 0, 1, 1, 1, 1]]
    )
    ds = image_dataset_from_directory(
        image_dir, label_mode="binary", image_size=2, shuffle=False, verbose=False
    )
    assert _all(ds)[1].tolist() == [[0.0]] * 3 + [[1.0]] * 4
    ds = image_dataset_from_directory(
        image_dir, labels=None, image_size=2, shuffle=False, batch_size=None, verbose=False
    )
    first = next(iter(ds))
    # no labels: every image below the folder, hidden folders included (as Keras)
    assert ds.file_paths == _keras_index(image_dir, labels=None, shuffle=False)[0]
    assert ds.class_names is None and tuple(first.shape) == (2, 2, 3) and len(ds) == 8
    labels = [5, 3, 5, 3, 3, 5, 3, 5]  # one per file, the hidden folder's included
    ds = image_dataset_from_directory(
        image_dir, labels=labels, image_size=2, shuffle=False, verbose=False
    )
    paths, ids, names = _keras_index(image_dir, labels=labels, shuffle=False)
    assert ds.class_names == names == ["3", "5"] and _all(ds)[1].tolist() == list(ids) == labels


def test_shuffled_passes_repeat_for_a_seed_and_fit_reads_them(image_dir):
    a = image_dataset_from_directory(image_dir, image_size=4, batch_size=3, seed=11, verbose=False)
    b = image_dataset_from_directory(image_dir, image_size=4, batch_size=3, seed=11, verbose=False)
    first, second = _all(a)[1].tolist(), _all(a)[1].tolist()
    assert first == _all(b)[1].tolist() and second == _all(b)[1].tolist()
    model = fitorch.Sequential([
        fitorch.Input((4, 4, 3)), fitorch.layers.Rescaling(1 / 255), fitorch.layers.Flatten(),
        fitorch.layers.Dense(2),
    ])  # fmt: skip
    model.compile(
        "adam", fitorch.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    history = model.fit(a, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert model.predict(a, verbose=0).shape == (7, 2)


def test_bad_arguments_name_them(image_dir):
    build = lambda **kw: image_dataset_from_directory(image_dir, verbose=False, **kw)  # noqa: E731
    cases = [
        ({"label_mode": "sparse"}, "label_mode"),
        ({"color_mode": "cmyk"}, "color_mode"),
        ({"image_size": (1, 2, 3)}, "image_size"),
        ({"interpolation": "lanczos9"}, "interpolation"),
        ({"validation_split": 0.2}, "subset"),
        ({"validation_split": 0.2, "subset": "training"}, "seed"),
        ({"validation_split": 1.5, "subset": "training", "seed": 1}, "validation_split"),
        ({"validation_split": 0.2, "subset": "test", "seed": 1}, "subset"),
        ({"class_names": ["cat", "cow"]}, r"\['cow'\]"),
        ({"labels": [0, 1]}, "2 entries"),
        ({"labels": "folders"}, "labels"),
        ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True}, "only one"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            build(**kwargs)
    (image_dir / "cow").mkdir()
    with pytest.raises(ValueError, match="exactly 2 classes"):
        build(label_mode="binary")


def test_text_dataset_order_contents_and_max_length(tmp_path):
    texts = {"neg": ["bad film", "awful plot twist"], "pos": ["great", "loved it", "superb acting"]}
    for cls, items in texts.items():
        (tmp_path / cls).mkdir()
        for i, t in enumerate(items):
            (tmp_path / cls / f"{i}.txt").write_text(t)
    (tmp_path / "pos" / "skip.md").write_text("not text data")
    ds = text_dataset_from_directory(tmp_path, batch_size=2, seed=4, verbose=False)
    paths, ids, names = _keras_index(tmp_path, formats=(".txt",), shuffle=True, seed=4)
    assert ds.file_paths == paths and ds.class_names == names == ["neg", "pos"]
    seen = {str(t): int(y) for x, ys in ds for t, y in zip(x, ys)}
    assert seen == {t: i for i, cls in enumerate(names) for t in texts[cls]}
    ds = text_dataset_from_directory(
        tmp_path, shuffle=False, max_length=4, label_mode="binary", verbose=False
    )
    x, y = next(iter(ds))
    assert (
        x.tolist() == ["bad ", "awfu", "grea", "love", "supe"]
        and y.tolist() == [[0.0]] * 2 + [[1.0]] * 3
    )
    train, val = text_dataset_from_directory(
        tmp_path, validation_split=0.4, subset="both", seed=2, verbose=False
    )
    assert (
        train.file_paths
        == _keras_index(tmp_path, formats=(".txt",), seed=2, subset="training", split=0.4)[0]
    )
    assert [str(t) for t in next(iter(val))[0]] == [open(p).read() for p in val.file_paths]
    import fitorch.preprocessing

    assert fitorch.preprocessing.text_dataset_from_directory is text_dataset_from_directory
    with pytest.raises(ValueError, match="not a folder"):
        text_dataset_from_directory(os.path.join(tmp_path, "missing"))

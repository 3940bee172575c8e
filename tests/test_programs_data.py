"""Issue 17's end-to-end programs, each run as a Keras user writes it, with asserted results:
an image classifier from `image_dataset_from_directory` with augmentation layers inside the
model, and `imdb.load_data` + `pad_sequences` + LSTM (the dataset served locally)."""

import hashlib

import numpy as np
import pytest
from _http_server import serve

import fitorch as keras

PIL = pytest.importorskip("PIL.Image")


def _write_colour_images(root, rng, per_class=24, size=14):
    """'red' images have a dominant red channel, 'blue' ones blue: flips and contrast keep it."""
    for label, channel in (("blue", 2), ("red", 0)):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 90, (size, size, 3))
            pixels[..., channel] += rng.integers(100, 160)
            PIL.fromarray(pixels.astype("uint8")).save(root / label / f"{i}.png")


def test_image_classifier_from_directory_with_augmentation(tmp_path):
    keras.utils.set_random_seed(0)
    _write_colour_images(tmp_path / "photos", np.random.default_rng(1))
    train_ds, val_ds = keras.utils.image_dataset_from_directory(
        tmp_path / "photos", validation_split=0.25, subset="both", seed=123,
        image_size=(12, 12), batch_size=8, verbose=False,
    )  # fmt: skip
    assert train_ds.class_names == ["blue", "red"] and len(val_ds.file_paths) == 12
    model = keras.Sequential([
        keras.Input((12, 12, 3)),
        keras.layers.RandomFlip("horizontal", seed=1),
        keras.layers.RandomContrast(0.2, seed=2),
        keras.layers.RandomBrightness(0.05, seed=3),
        keras.layers.Rescaling(1.0 / 255),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2),
    ])  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(train_ds, validation_data=val_ds, epochs=12, verbose=0)
    assert history.history["val_accuracy"][-1] == 1.0
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    logits = model.predict(val_ds, verbose=0)
    labels = np.concatenate([y.numpy() for _, y in val_ds])
    assert (logits.argmax(axis=1) == labels).all()


def _reviews(rng, n):
    """Label 1 reviews hold word 4 ('good') three times, label 0 word 5 ('bad'), among noise."""
    y = rng.integers(0, 2, n)
    x = np.empty(n, dtype=object)
    x[:] = [
        [int(w) for w in rng.permutation([4 if label else 5] * 3 + list(rng.integers(6, 30, 8)))]
        for label in y
    ]
    return x, y


def test_imdb_pad_sequences_lstm(tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(2)
    root = tmp_path / "srv"
    root.mkdir()
    (x_train, y_train), (x_test, y_test) = _reviews(rng, 160), _reviews(rng, 60)
    np.savez(root / "imdb.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    digest = hashlib.sha256((root / "imdb.npz").read_bytes()).hexdigest()
    with serve(root) as url:
        monkeypatch.setattr(keras.datasets.imdb, "ORIGIN", f"{url}/imdb.npz")
        monkeypatch.setattr(keras.datasets.imdb, "FILE_HASH", digest)
        (x_train, y_train), (x_test, y_test) = keras.datasets.imdb.load_data(num_words=40)
    x_train = keras.utils.pad_sequences(x_train, maxlen=12)
    x_test = keras.utils.pad_sequences(x_test, maxlen=12)
    assert x_train.shape == (160, 12) and x_train.max() < 40
    model = keras.Sequential([
        keras.Input((12,)),
        keras.layers.Embedding(40, 8, mask_zero=True),
        keras.layers.LSTM(8),
        keras.layers.Dense(1, activation="sigmoid"),
    ])  # fmt: skip
    model.compile(
        optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"]
    )
    model.fit(x_train, y_train, batch_size=32, epochs=6, validation_split=0.2, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95 and loss < 0.3


def _sentiment_texts(rng, n):
    noise = ["the", "a", "movie", "plot", "actors", "scene", "it", "was", "very"]
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = list(rng.choice(noise, 5)) + ["great" if label else "awful"] * 2
        texts.append(" ".join(rng.permutation(words)) + ("!" if label else "."))
        labels.append(label)
    return texts, np.array(labels)


def test_text_classifier_with_text_vectorization_inside_the_model(tmp_path):
    keras.utils.set_random_seed(0)
    texts, labels = _sentiment_texts(np.random.default_rng(3), 120)
    vectorizer = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=8)
    vectorizer.adapt(texts[:80])
    model = keras.Sequential([
        vectorizer,
        keras.layers.Embedding(20, 8),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])  # fmt: skip
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy", metrics=["accuracy"])
    # Python strings straight into fit (validation_split slices them like arrays)
    history = model.fit(
        texts[:80], labels[:80], epochs=12, batch_size=16, validation_split=0.25, verbose=0
    )
    assert history.history["val_accuracy"][-1] == 1.0
    _, accuracy = model.evaluate(np.array(texts[80:]), labels[80:], verbose=0)
    assert accuracy == 1.0
    probs = model.predict(["a great movie!", "an awful plot."], verbose=0)[:, 0]
    assert probs[0] > 0.5 > probs[1]
    # the same model reads text_dataset_from_directory's string batches
    for cls in ("neg", "pos"):
        (tmp_path / cls).mkdir()
    for i, (text, label) in enumerate(zip(texts[80:], labels[80:])):
        (tmp_path / ("pos" if label else "neg") / f"{i}.txt").write_text(text)
    ds = keras.utils.text_dataset_from_directory(tmp_path, batch_size=8, seed=1, verbose=False)
    assert ds.class_names == ["neg", "pos"]
    assert model.evaluate(ds, verbose=0)[1] == 1.0
    model.fit(ds, epochs=1, verbose=0)

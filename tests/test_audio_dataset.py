"""audio_dataset_from_directory: WAV decoding by formula, Keras's file order and labels,
sequence-length handling, ragged (jagged nested) batches, sampling_rate checks, fit on the
batches."""

import wave

import numpy as np
import pytest
import torch

import fitorch
from fitorch.utils import audio_dataset_from_directory
from fitorch.utils.audio_dataset import read_wav


def _wav(path, samples, width=2, channels=1, rate=8000):
    dtype = {1: np.uint8, 2: "<i2", 4: "<i4"}[width]
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(np.asarray(samples, dtype=dtype).tobytes())


@pytest.fixture
def audio_dir(tmp_path):
    lengths = {"no": [5, 3, 7], "yes": [4, 6]}
    for cls, sizes in lengths.items():
        (tmp_path / cls).mkdir()
        for i, n in enumerate(sizes):
            sign = 1 if cls == "yes" else -1
            _wav(tmp_path / cls / f"{i}.wav", sign * 1000 * np.arange(1, n + 1))
    (tmp_path / "yes" / "readme.txt").write_text("skip me")
    return tmp_path


def test_decoding_formulas(tmp_path):
    _wav(tmp_path / "a.wav", [0, 16384, -32768, 32767])
    np.testing.assert_allclose(read_wav(str(tmp_path / "a.wav"))[:, 0], [0, 0.5, -1, 32767 / 32768])
    _wav(tmp_path / "s.wav", [[100, -100], [200, -200]], channels=2)
    np.testing.assert_allclose(
        read_wav(str(tmp_path / "s.wav")).numpy() * 32768, [[100, -100], [200, -200]]
    )
    _wav(tmp_path / "u8.wav", [128, 192, 0], width=1)
    np.testing.assert_allclose(read_wav(str(tmp_path / "u8.wav"))[:, 0], [0, 0.5, -1])
    padded = read_wav(str(tmp_path / "a.wav"), output_sequence_length=6)[:, 0]
    np.testing.assert_allclose(padded, [0, 0.5, -1, 32767 / 32768, 0, 0])
    assert read_wav(str(tmp_path / "a.wav"), output_sequence_length=2).shape == (2, 1)


def test_order_labels_and_padding(audio_dir):
    from keras.src.utils import dataset_utils

    ds = audio_dataset_from_directory(audio_dir, batch_size=2, seed=9, verbose=False)
    paths, ids, names = dataset_utils.index_directory(
        str(audio_dir), "inferred", (".wav",), seed=9, verbose=False
    )
    assert ds.file_paths == paths and ds.class_names == names == ["no", "yes"]
    plain = audio_dataset_from_directory(audio_dir, batch_size=3, shuffle=False, verbose=False)
    (x0, y0), (x1, y1) = list(plain)
    assert tuple(x0.shape) == (3, 7, 1) and tuple(x1.shape) == (2, 6, 1)  # longest of each batch
    np.testing.assert_allclose(x0[1, :, 0].numpy() * 32768, [-1000, -2000, -3000, 0, 0, 0, 0])
    assert y0.tolist() + y1.tolist() == [0, 0, 0, 1, 1]
    fixed = audio_dataset_from_directory(
        audio_dir, output_sequence_length=4, label_mode="categorical", shuffle=False, verbose=False
    )
    x, y = next(iter(fixed))
    assert tuple(x.shape) == (5, 4, 1) and y.tolist()[3] == [0.0, 1.0]
    train, val = audio_dataset_from_directory(
        audio_dir, validation_split=0.4, subset="both", seed=1, verbose=False
    )
    assert len(train.file_paths) == 3 and len(val.file_paths) == 2


def test_fit_on_audio_batches(audio_dir):
    ds = audio_dataset_from_directory(
        audio_dir, batch_size=2, output_sequence_length=8, seed=0, verbose=False
    )
    model = fitorch.Sequential([fitorch.Input((8, 1)), fitorch.layers.GlobalAveragePooling1D(),
                                fitorch.layers.Dense(2)])  # fmt: skip
    model.compile("sgd", fitorch.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


def test_ragged_batches_keep_each_clip_length(audio_dir):
    ds = audio_dataset_from_directory(
        audio_dir, batch_size=3, shuffle=False, ragged=True, verbose=False
    )
    (x0, y0), (x1, y1) = list(ds)
    assert x0.is_nested and x0.layout == torch.jagged
    # Keras's order: no/0 (5), no/1 (3), no/2 (7) | yes/0 (4), yes/1 (6)
    assert [len(w) for w in x0.unbind()] == [5, 3, 7] and [len(w) for w in x1.unbind()] == [4, 6]
    np.testing.assert_allclose(x0.unbind()[1][:, 0].numpy() * 32768, [-1000, -2000, -3000])
    assert y0.tolist() == [0, 0, 0] and y1.tolist() == [1, 1]
    padded = next(iter(audio_dataset_from_directory(audio_dir, batch_size=3, shuffle=False,
                                                    verbose=False)))[0]  # fmt: skip
    np.testing.assert_array_equal(x0.to_padded_tensor(0.0).numpy(), padded.numpy())


def test_sampling_rate_of_the_files_is_accepted_others_raise(audio_dir):
    ds = audio_dataset_from_directory(audio_dir, sampling_rate=8000, shuffle=False, verbose=False)
    assert tuple(next(iter(ds))[0].shape) == (5, 7, 1)  # read as they are
    _wav(audio_dir / "yes" / "fast.wav", [1, 2, 3], rate=16000)
    with pytest.raises(
        ValueError, match=r"needs resampling for 1 of 6 files.*fast\.wav \(16000 Hz\)"
    ):
        audio_dataset_from_directory(audio_dir, sampling_rate=8000, verbose=False)


def test_bad_arguments_raise(audio_dir):
    with pytest.raises(ValueError, match="ragged=True and output_sequence_length=4"):
        audio_dataset_from_directory(audio_dir, ragged=True, output_sequence_length=4)
    with pytest.raises(ValueError, match="sampling_rate must be an int, got 8000.0"):
        audio_dataset_from_directory(audio_dir, sampling_rate=8000.0)
    with pytest.raises(ValueError, match="sampling_rate must be > 0, got 0"):
        audio_dataset_from_directory(audio_dir, sampling_rate=0)
    with pytest.raises(ValueError, match="output_sequence_length"):
        audio_dataset_from_directory(audio_dir, output_sequence_length=0)
    with pytest.raises(ValueError, match="label_mode"):
        audio_dataset_from_directory(audio_dir, label_mode="onehot")

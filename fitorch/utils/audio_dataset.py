"""`audio_dataset_from_directory`: a folder of class subfolders of `.wav` files -> batches of
float32 waveforms `(batch, samples, channels)` in [-1, 1]."""

from __future__ import annotations

import functools
import wave

import numpy as np
import torch

from fitorch.utils import dataset_utils as du

ALLOWED_FORMATS = (".wav",)
_SCALE = {1: 128.0, 2: 32768.0, 4: 2147483648.0}  # PCM sample width (bytes) -> full scale
_DTYPE = {1: np.uint8, 2: "<i2", 4: "<i4"}


def read_wav(path: str, output_sequence_length: int | None = None) -> torch.Tensor:
    """PCM WAV -> float32 `(samples, channels)`: 16/32-bit signed divided by full scale, 8-bit
    unsigned centred first (as `tf.audio.decode_wav`); cut or zero-padded to
    `output_sequence_length` samples when given."""
    with wave.open(path, "rb") as f:
        width, channels, frames = f.getsampwidth(), f.getnchannels(), f.readframes(f.getnframes())
    if width not in _SCALE:
        raise ValueError(
            f"{path}: only 8, 16 or 32-bit PCM WAV files are read, got {8 * width}-bit"
        )
    samples = np.frombuffer(frames, dtype=_DTYPE[width]).astype("float32")
    if width == 1:
        samples -= 128.0
    audio = torch.from_numpy((samples / _SCALE[width]).reshape(-1, channels))
    if output_sequence_length is not None:
        audio = audio[:output_sequence_length]
        audio = torch.nn.functional.pad(audio, (0, 0, 0, output_sequence_length - len(audio)))
    return audio


def pad_collate(samples):
    """Zero-pad the waveforms of one batch at the end to the longest, then stack (Keras's
    padded batches); labels are stacked."""
    pairs = isinstance(samples[0], tuple)
    waves = [s[0] for s in samples] if pairs else list(samples)
    longest = max(len(w) for w in waves)
    batch = torch.stack([torch.nn.functional.pad(w, (0, 0, 0, longest - len(w))) for w in waves])
    return (batch, torch.stack([s[1] for s in samples])) if pairs else batch


def audio_dataset_from_directory(
    directory: str,
    labels="inferred",
    label_mode: str | None = "int",
    class_names=None,
    batch_size: int | None = 32,
    sampling_rate: int | None = None,
    output_sequence_length: int | None = None,
    ragged: bool = False,
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    follow_links: bool = False,
    verbose: bool = True,
):
    """Batches `(audio, labels)` from `directory/<class>/*.wav` with Keras 3's indexing, split
    and label encodings (as `image_dataset_from_directory`). Waveforms are float32
    `(batch, samples, channels)`, cut/padded to `output_sequence_length`, else padded to the
    longest of each batch. Not supported (Keras needs tensorflow_io or ragged tf tensors for
    them): `sampling_rate` resampling and `ragged=True`, which raise."""
    du.check_labels_arg(labels, class_names, label_mode, "audio")
    if ragged:
        raise ValueError("audio_dataset_from_directory: ragged=True needs tf.RaggedTensor; "
                         "use output_sequence_length or the default per-batch padding")  # fmt: skip
    if sampling_rate is not None:
        raise ValueError(
            f"audio_dataset_from_directory: sampling_rate={sampling_rate!r} (resampling) is not "
            "supported; files are read at their own rate"
        )
    if output_sequence_length is not None and output_sequence_length <= 0:
        raise ValueError(
            f"output_sequence_length must be a positive int, got {output_sequence_length!r}"
        )
    load = functools.partial(read_wav, output_sequence_length=output_sequence_length)
    return du.directory_datasets(
        directory, labels=labels, label_mode=label_mode, class_names=class_names,
        formats=ALLOWED_FORMATS, what=".wav files", load=load, collate=pad_collate,
        batch_size=batch_size,
        shuffle=shuffle, seed=seed, validation_split=validation_split, subset=subset,
        follow_links=follow_links, verbose=verbose,
    )  # fmt: skip

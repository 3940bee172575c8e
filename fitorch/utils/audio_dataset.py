"""`audio_dataset_from_directory`: a folder of class subfolders of `.wav` files -> batches of
float32 waveforms `(batch, samples, channels)` in [-1, 1] (zero-padded per batch), or with
`ragged=True` torch nested tensors of layout `jagged` (`(batch, j, channels)`, each clip at its
own length: the torch counterpart of Keras's `tf.RaggedTensor` batches)."""

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


def ragged_collate(samples):
    """The waveforms of one batch as one jagged nested tensor (no padding); labels stacked."""
    pairs = isinstance(samples[0], tuple)
    waves = [s[0] for s in samples] if pairs else list(samples)
    batch = torch.nested.nested_tensor(waves, layout=torch.jagged)
    return (batch, torch.stack([s[1] for s in samples])) if pairs else batch


def wav_rate(path: str) -> int:
    """The sampling rate in a WAV file's header (samples per second)."""
    with wave.open(path, "rb") as f:
        return f.getframerate()


def _check_sampling_rate(sampling_rate) -> None:
    if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, (int, np.integer)):
        raise ValueError(
            f"audio_dataset_from_directory: sampling_rate must be an int, got {sampling_rate!r}"
        )
    if sampling_rate <= 0:
        raise ValueError(
            f"audio_dataset_from_directory: sampling_rate must be > 0, got {sampling_rate}"
        )


def _require_rate(datasets, sampling_rate: int) -> None:
    """Files already at `sampling_rate` are read as they are; any other rate would need
    resampling, which Keras does with tensorflow_io (not reproduced): refuse, naming them."""
    paths = [p for ds in datasets for p in ds.file_paths]
    other = [(p, r) for p, r in ((p, wav_rate(p)) for p in paths) if r != sampling_rate]
    if other:
        shown = ", ".join(f"{p} ({r} Hz)" for p, r in other[:3])
        raise ValueError(
            f"audio_dataset_from_directory: sampling_rate={sampling_rate} needs resampling for "
            f"{len(other)} of {len(paths)} files, e.g. {shown}; Keras resamples with "
            "tensorflow_io, which fitorch does not reproduce: resample the files beforehand "
            "or pass sampling_rate=None"
        )


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
    longest of each batch; with `ragged=True` (not with `output_sequence_length`, as Keras) a
    batch is a jagged nested tensor holding each clip at its length. `sampling_rate` is
    accepted when every file already has that rate (Keras would resample the others with
    tensorflow_io; fitorch raises `ValueError` naming them)."""
    du.check_labels_arg(labels, class_names, label_mode, "audio")
    if ragged and output_sequence_length is not None:
        raise ValueError(
            "audio_dataset_from_directory: ragged=True and output_sequence_length="
            f"{output_sequence_length!r} cannot be combined (ragged batches keep each length)"
        )
    if sampling_rate is not None:
        _check_sampling_rate(sampling_rate)
    if output_sequence_length is not None and output_sequence_length <= 0:
        raise ValueError(
            f"output_sequence_length must be a positive int, got {output_sequence_length!r}"
        )
    load = functools.partial(read_wav, output_sequence_length=output_sequence_length)
    datasets = du.directory_datasets(
        directory, labels=labels, label_mode=label_mode, class_names=class_names,
        formats=ALLOWED_FORMATS, what=".wav files", load=load,
        collate=ragged_collate if ragged else pad_collate,
        batch_size=batch_size,
        shuffle=shuffle, seed=seed, validation_split=validation_split, subset=subset,
        follow_links=follow_links, verbose=verbose,
    )  # fmt: skip
    if sampling_rate is not None:
        _require_rate(datasets if isinstance(datasets, list) else [datasets], sampling_rate)
    return datasets

"""What every Keras application shares: input-shape rules, ImageNet pre/post-processing and
the pretrained-weights files.

- `preprocess_input(x, data_format=None, mode="caffe")` maps pixels in [0, 255]:
  `"caffe"`: RGB -> BGR, then minus the ImageNet BGR means (103.939, 116.779, 123.68);
  `"tf"`: `x / 127.5 - 1` (range [-1, 1]);
  `"torch"`: `(x / 255 - mean) / std` with mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
- `decode_predictions(preds, top=5)`: per row, the `top` `(wnid, label, score)` triples, best
  first, from Keras's `imagenet_class_index.json`.
- Weight files are Keras's own (same URL, file name, hash), cached in `$KERAS_HOME/models`
  (default `~/.keras/models`; `/tmp/.keras/models` when that is not writable), so files Keras
  already downloaded are reused. Without network access the error names the URL and the path
  to place the file at.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import warnings

import numpy as np
import torch

from fitorch import activations, backend
from fitorch.layers import Input, KerasTensor

__all__ = ["preprocess_input", "decode_predictions", "obtain_input_shape"]

CLASS_INDEX_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"
_CLASS_INDEX = None

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


# -- preprocessing ------------------------------------------------------------------------
def preprocess_input(x, data_format: str | None = None, mode: str = "caffe"):
    """Scale a batch (or one image) of RGB pixels in [0, 255] the way `mode`'s weights expect.

    NumPy float arrays are modified in place where the dtype allows (as Keras); other inputs
    (integer arrays) become float32. Torch tensors give a new tensor.
    Example: `preprocess_input(np.full((1, 2, 2, 3), 255.0), mode="tf")` is all 1.0.
    """
    if mode not in ("caffe", "tf", "torch"):
        raise ValueError(f"preprocess_input: mode must be 'caffe', 'tf' or 'torch'; got {mode!r}.")
    if data_format is None:
        data_format = backend.image_data_format()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError(
            "preprocess_input: data_format must be 'channels_first' or 'channels_last'; "
            f"got {data_format!r}."
        )
    is_tensor = isinstance(x, torch.Tensor)
    if not is_tensor:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype("float32")
    elif not x.is_floating_point():
        x = x.float()
    if mode == "tf":
        if is_tensor:
            return x / 127.5 - 1.0
        x /= 127.5
        x -= 1.0
        return x
    axis = -1 if data_format == "channels_last" else (0 if x.ndim == 3 else 1)
    if mode == "torch":
        if is_tensor:
            x = x / 255.0
        else:
            x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        x = x.flip(axis) if is_tensor else np.flip(x, axis)  # RGB -> BGR
        mean, std = _CAFFE_MEAN_BGR, None
    shape = [1] * x.ndim
    shape[axis] = 3
    if is_tensor:
        x = x - torch.tensor(mean, dtype=x.dtype, device=x.device).reshape(shape)
        if std is not None:
            x = x / torch.tensor(std, dtype=x.dtype, device=x.device).reshape(shape)
        return x
    x -= np.asarray(mean, dtype=x.dtype).reshape(shape)  # in place, as Keras
    if std is not None:
        x /= np.asarray(std, dtype=x.dtype).reshape(shape)
    return x


def decode_predictions(preds, top: int = 5) -> list[list[tuple]]:
    """The `top` ImageNet classes of each row of `preds` (shape (n, 1000)), best first, as
    `(wnid, label, score)`; the class index file is fetched (and cached) as Keras does."""
    global _CLASS_INDEX
    preds = preds.detach().cpu().numpy() if isinstance(preds, torch.Tensor) else np.asarray(preds)
    if preds.ndim != 2 or preds.shape[1] != 1000:
        raise ValueError(
            "decode_predictions expects a batch of ImageNet predictions of shape "
            f"(samples, 1000); got shape {preds.shape}."
        )
    if _CLASS_INDEX is None:
        path = get_weights_file("imagenet_class_index.json", CLASS_INDEX_URL, CLASS_INDEX_HASH)
        with open(path) as f:
            _CLASS_INDEX = json.load(f)
    results = []
    for row in preds:
        best = np.argsort(row)[::-1][:top]
        results.append([(*_CLASS_INDEX[str(i)], row[i]) for i in best])
    return results


# -- input shapes -------------------------------------------------------------------------
def obtain_input_shape(
    input_shape,
    default_size: int,
    min_size: int,
    data_format: str,
    require_flatten: bool,
    weights=None,
):
    """The model's input shape (no batch): `input_shape` validated, or the default.

    With `include_top` (`require_flatten`) and ImageNet weights the shape must be the default
    `(default_size, default_size, 3)`; ImageNet weights need 3 channels; each given spatial
    size must be >= `min_size`. None is returned when nothing fixes the shape (any size).
    """
    last = data_format == "channels_last"
    if input_shape is not None:
        input_shape = tuple(input_shape)
    if weights != "imagenet" and input_shape and len(input_shape) == 3:
        channels = input_shape[-1] if last else input_shape[0]
        if channels not in (1, 3):
            warnings.warn(
                f"This model usually expects 1 or 3 input channels; got input_shape "
                f"{input_shape} with {channels} channels.",
                stacklevel=3,
            )
    else:
        channels = 3
    default = (default_size, default_size, channels) if last else (channels,) + (default_size,) * 2
    if weights == "imagenet" and require_flatten:
        if input_shape is not None and input_shape != default:
            raise ValueError(
                "With include_top=True and weights='imagenet', input_shape must be "
                f"{default}; got input_shape={input_shape}."
            )
        return default
    if not input_shape:
        return default if require_flatten else ((None, None, 3) if last else (3, None, None))
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be a tuple of three integers; got {input_shape}.")
    channels, spatial = (
        (input_shape[-1], input_shape[:2]) if last else (input_shape[0], input_shape[1:])
    )
    if weights == "imagenet" and channels != 3:
        raise ValueError(
            f"ImageNet weights need inputs with 3 channels; got input_shape={input_shape}."
        )
    if any(s is not None and s < min_size for s in spatial):
        raise ValueError(
            f"Input size must be at least {min_size}x{min_size}; got input_shape={input_shape}."
        )
    return input_shape


def validate_activation(classifier_activation, weights) -> None:
    """Pretrained classifiers allow only `softmax` or no activation on their top layer."""
    if weights is None:
        return
    fn = activations.get(classifier_activation)
    if fn not in (activations.get("softmax"), activations.get(None)):
        raise ValueError(
            "With pretrained weights and include_top=True, classifier_activation must be None "
            f"or 'softmax'; got {classifier_activation!r}."
        )


def validate_weights_arg(weights, include_top: bool, classes: int) -> None:
    """`weights` is None, 'imagenet' or an existing file; ImageNet tops have 1000 classes."""
    if not (
        weights in ("imagenet", None)
        or (isinstance(weights, str | os.PathLike) and os.path.exists(weights))
    ):
        raise ValueError(
            "weights must be None (random initialization), 'imagenet' (pre-training on "
            f"ImageNet) or the path to a weights file; got weights={weights!r}."
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            f"With weights='imagenet' and include_top=True, classes must be 1000; got {classes}."
        )


def image_input(input_tensor, input_shape) -> KerasTensor:
    """The graph's image input: `input_tensor` when symbolic, else a new `Input(input_shape)`."""
    if input_tensor is None:
        return Input(shape=input_shape)
    if not isinstance(input_tensor, KerasTensor):
        raise TypeError(
            "input_tensor must be a symbolic tensor (from fitorch.Input or a layer call); "
            f"got {type(input_tensor).__name__}."
        )
    return input_tensor


def source_inputs(tensor: KerasTensor) -> list[KerasTensor]:
    """The `Input` tensors that `tensor` is computed from (Keras's `get_source_inputs`)."""
    from fitorch.layers import InputLayer

    seen, found, stack = set(), [], [tensor]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.node is None or isinstance(t.node.layer, InputLayer):
            found.append(t)
        else:
            stack.extend(reversed(t.node.parents()))
    return found


def pool_features(x, pooling, layers_mod, name_prefix: str | None = None):
    """`pooling=None` keeps the 4D features, 'avg'/'max' apply global pooling (Keras's rule)."""
    if pooling is None:
        return x
    if pooling == "avg":
        return layers_mod.GlobalAveragePooling2D(
            **({"name": name_prefix + "avg_pool"} if name_prefix is not None else {})
        )(x)
    if pooling == "max":
        return layers_mod.GlobalMaxPooling2D(
            **({"name": name_prefix + "max_pool"} if name_prefix is not None else {})
        )(x)
    raise ValueError(f"pooling must be None, 'avg' or 'max'; got {pooling!r}.")


def average_pool_classifier(
    x, include_top: bool, pooling, classes: int, classifier_activation, weights,
    top_pool_name: str | None, name_prefix: str | None,
):  # fmt: skip
    """The head most families share: global average pooling + a `predictions` Dense layer
    with `include_top`, else `pool_features` (`pooling=None|'avg'|'max'`). A None name lets
    the layer take its automatic name, as Keras does for that family."""
    from fitorch import layers

    if not include_top:
        return pool_features(x, pooling, layers, name_prefix=name_prefix)
    pool_args = {} if top_pool_name is None else {"name": top_pool_name}
    x = layers.GlobalAveragePooling2D(**pool_args)(x)
    validate_activation(classifier_activation, weights)
    return layers.Dense(classes, activation=classifier_activation, name="predictions")(x)


# -- models ------------------------------------------------------------------------------
def build_model(img_input, input_tensor, outputs, name: str):
    """A functional model from `img_input` (or the source inputs of a given `input_tensor`)
    to `outputs`, named `name`; its `layers` follow Keras's order (`models/layer_order.py`).
    Arithmetic on symbolic tensors (MobileNetV3's `x + 3.0`) is a graph op in Keras, not a
    layer; fitorch lists these weightless op layers too (saving needs them)."""
    from fitorch.models import Model

    inputs = source_inputs(input_tensor) if input_tensor is not None else img_input
    return Model(inputs, outputs, name=name)


# -- weight files -------------------------------------------------------------------------
def cache_dir() -> str:
    """Keras's cache folder for model files: `$KERAS_HOME/models`, default `~/.keras/models`;
    `/tmp/.keras/models` when the base folder is not writable."""
    base = os.path.expanduser(os.environ.get("KERAS_HOME", os.path.join("~", ".keras")))
    if os.path.isdir(base) and not os.access(base, os.W_OK):
        base = os.path.join(tempfile.gettempdir(), ".keras")
    return os.path.join(base, "models")


def file_hash(path: str, algorithm: str) -> str:
    """Hex digest of the file at `path` (`algorithm` 'md5' or 'sha256')."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_matches(path: str, expected: str | None) -> bool:
    if not expected:
        return True
    algorithm = "sha256" if len(expected) == 64 else "md5"  # Keras's "auto" rule
    return file_hash(path, algorithm) == expected


def get_weights_file(fname: str, origin: str, expected_hash: str | None = None) -> str:
    """Path of `fname` in the cache folder, downloaded from `origin` when absent (or when a
    cached copy fails `expected_hash`, md5 for 32 hex digits, sha256 for 64).

    Raises: OSError naming the URL and the path to place the file at when it cannot be
    downloaded; ValueError when a downloaded file fails the hash.
    """
    folder = cache_dir()
    path = os.path.join(folder, fname)
    if os.path.exists(path):
        if _hash_matches(path, expected_hash):
            return path
        warnings.warn(
            f"{path} does not match its expected hash {expected_hash}; downloading it again.",
            stacklevel=3,
        )
    os.makedirs(folder, exist_ok=True)
    partial = path + ".part"
    try:
        with urllib.request.urlopen(origin, timeout=30) as response, open(partial, "wb") as f:
            shutil.copyfileobj(response, f)
    except OSError as err:
        if os.path.exists(partial):
            os.remove(partial)
        raise OSError(
            f"Could not download {origin} ({err}). Download it by other means and place it "
            f"at {path}"
        ) from err
    if not _hash_matches(partial, expected_hash):
        os.remove(partial)
        raise ValueError(f"The file downloaded from {origin} does not match hash {expected_hash}.")
    os.replace(partial, path)
    return path


def load_weights(
    model,
    weights,
    fname: str | None = None,
    origin: str | None = None,
    expected_hash: str | None = None,
) -> None:
    """`weights='imagenet'`: load Keras's file `fname` (from `origin`); a path: load it."""
    if weights == "imagenet":
        model.load_weights(get_weights_file(fname, origin, expected_hash))
    elif weights is not None:
        model.load_weights(os.fspath(weights))

"""`TensorBoard`: scalars, histograms, images, embeddings and the layer graph, written with
`torch.utils.tensorboard` (the `tensorboard` package's event format; no TensorFlow).

Layout as Keras 3: `log_dir/train` and `log_dir/validation` runs; `epoch_<key>` scalars per
epoch (`val_` stripped in the validation run; `epoch_learning_rate` in train), and in the
validation run `evaluation_<key>_vs_iterations` at the optimizer's step count;
`batch_<key>` scalars at the global batch index when `update_freq` is "batch" or an int
(every that many batches, Keras 3; Keras 2 counted samples). Weight histograms (and Keras 2
`write_grads` gradient histograms) every `histogram_freq` epochs; `write_images` writes each
weight matrix as an image; `embeddings_freq` writes embedding matrices for the projector.
The graph is the layer graph (one node per layer, edges from the functional graph or the
Sequential order), built without tracing, so it costs nothing per run.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import torch

from fitorch.callbacks import files
from fitorch.callbacks.base import Callback
from fitorch.optimizers import get_learning_rate
from fitorch.utils.optional import require

__all__ = ["TensorBoard"]


class TensorBoard(Callback):
    """Write TensorBoard logs (module docstring).

    Args (Keras 3): log_dir, histogram_freq, write_graph, write_images,
        write_steps_per_second, update_freq ("epoch", "batch" or an int of batches),
        profile_batch (not supported: must be 0), embeddings_freq, embeddings_metadata
        (a TSV path, or a dict layer name -> path, one label per row).
    Args (Keras 2, keyword): batch_size (unused), write_grads (gradient histograms, needs
        histogram_freq > 0), embeddings_layer_names (which layers; default all embedding
        layers), embeddings_data (unused: the embedding matrices themselves are written).
    """

    accepts_lazy_logs = True

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
        *,
        batch_size=None,
        write_grads=False,
        embeddings_layer_names=None,
        embeddings_data=None,
    ):
        super().__init__()
        require("tensorboard", "TensorBoard", extra="tensorboard")  # now, not after an epoch
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (not isinstance(update_freq, int) or update_freq < 1):
            raise ValueError(
                f"TensorBoard(update_freq=...) must be 'epoch', 'batch' or a positive int; got "
                f"{update_freq!r}."
            )
        for name, value in (
            ("histogram_freq", histogram_freq),
            ("embeddings_freq", embeddings_freq),
        ):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"TensorBoard({name}=...) must be an int >= 0; got {value!r}.")
        if profile_batch not in (0, None, (0, 0)):
            warnings.warn(
                "TensorBoard(profile_batch=...) is not supported by fitorch; use "
                "torch.profiler directly. Profiling is off.",
                stacklevel=2,
            )
        if write_grads and not histogram_freq:
            warnings.warn(
                "write_grads=True needs histogram_freq > 0; no gradients are written.", stacklevel=2
            )
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = update_freq
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self.embeddings_layer_names = embeddings_layer_names
        self.batch_size = batch_size
        self.write_grads = write_grads
        self.embeddings_data = embeddings_data
        self._writers: dict = {}
        self._global_batch = 0
        self._epoch_t0 = 0.0
        self._batch_t0 = 0.0
        self._epoch_steps = 0

    # -- writers ---------------------------------------------------------------------------
    def _writer(self, run: str):
        if run not in self._writers:
            from torch.utils.tensorboard import SummaryWriter

            self._writers[run] = SummaryWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def implements(self, hook: str) -> bool:
        if hook in ("on_train_batch_end", "on_batch_end"):
            return self.update_freq != "epoch"
        if hook in ("on_train_batch_begin", "on_batch_begin"):
            return False
        return super().implements(hook)

    # -- hooks -----------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if files.is_main_process():
            files.check_dir_target(self.log_dir, "TensorBoard(log_dir=...)")
        self._global_batch = 0
        if self.write_graph and files.is_main_process():
            graph = _layer_graph(self.model)
            if graph is not None:
                self._writer("train")._get_file_writer().add_graph(graph)

    def on_train_end(self, logs=None):
        self._close()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_t0 = self._batch_t0 = time.perf_counter()
        self._epoch_steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._global_batch += 1
        self._epoch_steps += 1
        if self._global_batch % self.update_freq or not files.is_main_process():
            return
        values = logs() if callable(logs) else dict(logs or {})
        now = time.perf_counter()
        if self.write_steps_per_second:
            values["steps_per_second"] = self.update_freq / max(now - self._batch_t0, 1e-9)
        self._batch_t0 = now
        writer = self._writer("train")
        for key, value in values.items():
            if _is_scalar(value) and key not in ("batch", "size"):
                writer.add_scalar(f"batch_{key}", float(_first(value)), self._global_batch)

    def on_epoch_end(self, epoch, logs=None):
        if not files.is_main_process():
            return
        logs = dict(logs or {})
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        if "learning_rate" not in train and self.model.optimizer is not None:
            train["learning_rate"] = get_learning_rate(self.model.optimizer)
        if self.write_steps_per_second:
            steps = self._epoch_steps or self.params.get("steps") or 0
            train["steps_per_second"] = steps / max(time.perf_counter() - self._epoch_t0, 1e-9)
        writer = self._writer("train")
        for key, value in train.items():
            if _is_scalar(value):
                writer.add_scalar(f"epoch_{key}", float(_first(value)), epoch)
        if val:
            iterations = _iterations(self.model.optimizer)
            vwriter = self._writer("validation")
            for key, value in val.items():
                if _is_scalar(value):
                    vwriter.add_scalar(f"epoch_{key}", float(_first(value)), epoch)
                    if iterations is not None:
                        vwriter.add_scalar(
                            f"evaluation_{key}_vs_iterations", float(_first(value)), iterations
                        )
            vwriter.flush()
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._histograms(writer, epoch)
        if self.write_images:
            self._images(writer, epoch)
        if self.embeddings_freq and epoch % self.embeddings_freq == 0:
            self._embeddings(writer, epoch)
        writer.flush()

    # -- weights ---------------------------------------------------------------------------
    def _named_weights(self):
        for name, p in self.model.named_parameters():
            yield name.replace(".", "/"), p

    def _histograms(self, writer, epoch: int) -> None:
        for name, p in self._named_weights():
            writer.add_histogram(name, p.detach().float().cpu(), epoch)
            if self.write_grads and p.grad is not None:
                writer.add_histogram(f"{name}_grad", p.grad.detach().float().cpu(), epoch)

    def _images(self, writer, epoch: int) -> None:
        for name, p in self._named_weights():
            w = p.detach().float().cpu()
            w = w.reshape(1, -1) if w.ndim <= 1 else w.reshape(-1, w.shape[-1])
            low, high = w.min(), w.max()
            image = (w - low) / (high - low) if high > low else torch.zeros_like(w)
            writer.add_image(f"{name}/image", image, epoch, dataformats="HW")

    def _embeddings(self, writer, epoch: int) -> None:
        names = self.embeddings_layer_names
        for layer_name, matrix in _embedding_matrices(self.model):
            if names is not None and layer_name not in names:
                continue
            metadata = _read_metadata(self.embeddings_metadata, layer_name, matrix.shape[0])
            writer.add_embedding(
                matrix.detach().float().cpu(), metadata=metadata, tag=layer_name, global_step=epoch
            )

    # -- BackupAndRestore ------------------------------------------------------------------
    def state(self) -> dict:
        return {"global_batch": self._global_batch}

    def load_state(self, state: dict) -> None:
        self._global_batch = state["global_batch"]


def _is_scalar(value) -> bool:
    if isinstance(value, (list, tuple, np.ndarray)):
        return np.size(value) == 1
    return isinstance(value, (int, float)) or getattr(value, "ndim", None) == 0


def _first(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return np.reshape(value, -1)[0]
    return value


def _iterations(optimizer):
    value = getattr(optimizer, "iterations", None)
    if isinstance(value, torch.Tensor):
        return int(value)
    return value if isinstance(value, int) else None


def _embedding_matrices(model):
    """(layer name, matrix) for each embedding layer (fitorch `embeddings`, torch `weight`)."""
    for name, module in model.named_modules():
        label = getattr(module, "name", None) or name
        if isinstance(module, torch.nn.Embedding):
            yield label, module.weight
        elif isinstance(getattr(module, "embeddings", None), torch.Tensor):
            yield label, module.embeddings


def _read_metadata(spec, layer_name: str, rows: int):
    path = spec.get(layer_name) if isinstance(spec, dict) else spec
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        labels = f.read().splitlines()
    if len(labels) != rows:
        warnings.warn(
            f"Embedding metadata {path!r} has {len(labels)} rows for {rows} embeddings; ignored.",
            stacklevel=3,
        )
        return None
    return labels


def _layer_graph(model):
    """A GraphDef with one node per layer (op = class name) and the layer connections."""
    try:
        from tensorboard.compat.proto.config_pb2 import RunMetadata
        from tensorboard.compat.proto.graph_pb2 import GraphDef
        from tensorboard.compat.proto.node_def_pb2 import NodeDef
        from tensorboard.compat.proto.versions_pb2 import VersionDef
    except ImportError:  # pragma: no cover - tensorboard is a dependency of the writer
        return None
    from fitorch.models import Functional, Sequential

    nodes: list[tuple[str, str, list[str]]] = []
    if isinstance(model, Functional):  # the recorded layer calls
        for node in model.graph_nodes():
            inputs = [t.node.layer.name for t in node.parents() if getattr(t, "node", None)]
            nodes.append((node.layer.name, type(node.layer).__name__, inputs))
    else:  # Sequential order, or a model's direct children
        previous: list[str] = []
        sequential = isinstance(model, Sequential)
        children = model.layers if hasattr(model, "layers") else list(model.children())
        for i, layer in enumerate(children):
            name = getattr(layer, "name", None) or f"layer_{i}"
            nodes.append((name, type(layer).__name__, previous))
            previous = [name] if sequential else []
    if not nodes:
        return None
    prefix = getattr(model, "name", None) or type(model).__name__
    node_defs = []
    for name, op, inputs in dict((n[0], n) for n in nodes).values():
        node_defs.append(
            NodeDef(
                name=f"{prefix}/{name}",
                op=op,
                input=[f"{prefix}/{i}" for i in dict.fromkeys(inputs)],
            )
        )
    return GraphDef(node=node_defs, versions=VersionDef(producer=22)), RunMetadata()

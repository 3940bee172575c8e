"""`Layer`: a `torch.nn.Module` with Keras' lazy build, weights API, losses and config.

A layer creates its weights in `build(input_shape)`, called once from the first input's
shape (a concrete tensor or a symbolic `KerasTensor`), and computes in
`call(inputs, training=None)`. Weights are `nn.Parameter`s registered on the module, so
`state_dict()`, `.to(device)` and `torch.optim` see them as usual; `get_weights()` /
`set_weights()` exchange NumPy arrays in Keras layouts (a weight stored in another layout
declares the permutation with `add_weight(..., layout=...)`).

Call semantics (as Keras 3): `layer(x, training=..., mask=...)` is accepted by every layer;
each argument reaches `call` only where `call` takes it. `training` resolves as
1. the explicit argument (one recorded in a functional graph, `base(x, training=False)`,
   gives way to the model call's resolved value, as in Keras 3: models/functional.py), else
2. the enclosing call's value (a model called with `training=True` passes it to every nested
   layer and submodel: functional, Sequential or subclassed), else
3. the default of `call`'s `training` parameter, else
4. inference (`False`).
So `model(x)` / `layer(x)` outside fit is inference; fit's step passes `training=True`. Code
that drives a training loop without passing the argument wraps it in
`training_scope(True)`. torch's `train()/eval()` flag follows the resolved value: every call
sets the layer's (and, recursively, its submodules') flag to it when it differs and leaves it
so; `model.train()` / `model.eval()` by hand therefore do not choose the mode of the next
call (the rule above does), they only matter to code that reads `module.training` outside
a call. NumPy arrays and Python lists given to a layer become tensors on the layer's device
(floating values in `floatx()`).
"""

from __future__ import annotations

import contextlib
import inspect
import math
import threading

import numpy as np
import torch
from torch import nn

from fitorch import constraints as constraints_mod
from fitorch import initializers as initializers_mod
from fitorch import regularizers as regularizers_mod
from fitorch import tree
from fitorch.layers import tracking
from fitorch.layers.input_spec import assert_input_compatibility
from fitorch.utils import weight_budget
from fitorch.utils.keywords import unexpected_keyword
from fitorch.utils.naming import auto_name
from fitorch.variables import Variable

__all__ = [
    "Layer",
    "carried_masks",
    "collect_losses",
    "enclosing_training",
    "fill_mask_argument",
    "get_mask",
    "propagate_masks",
    "set_mask",
    "symbolic_tracing",
    "training_scope",
]

_STATE = threading.local()
_BASE_KWARGS = {
    "name",
    "trainable",
    "dtype",
    "input_shape",
    "input_dim",
    "batch_input_shape",
    "batch_size",
    "activity_regularizer",
    "autocast",
    "input_length",
}


def _collectors() -> list:
    if not hasattr(_STATE, "collectors"):
        _STATE.collectors = []
    return _STATE.collectors


class _LossBucket(list):
    """The `add_loss` terms of one collected forward; `detach_recorded`: layers keep only
    detached copies in `layer.losses` (the trainer's step: a compiled step must not leave
    tensors holding its autograd graph on the layers)."""

    def __init__(self, detach_recorded: bool):
        super().__init__()
        self.detach_recorded = detach_recorded


@contextlib.contextmanager
def collect_losses(detach_recorded: bool = False):
    """Collect every `add_loss` made while the block runs (the trainer's forward); with
    `detach_recorded`, `layer.losses` keeps detached values of those terms."""
    bucket = _LossBucket(detach_recorded)
    _collectors().append(bucket)
    try:
        yield bucket
    finally:
        _collectors().pop()


def symbolic_tracing() -> bool:
    """True while layers run on placeholder values to infer symbolic shapes."""
    return getattr(_STATE, "tracing", 0) > 0


@contextlib.contextmanager
def _tracing():
    _STATE.tracing = getattr(_STATE, "tracing", 0) + 1
    try:
        yield
    finally:
        _STATE.tracing -= 1


def _scope_training() -> bool | None:
    return getattr(_STATE, "training", None)


def enclosing_training() -> bool | None:
    """The `training` value nested calls inherit now (rule 2); None when no enclosing call
    or `training_scope` set one."""
    return _scope_training()


@contextlib.contextmanager
def training_scope(training: bool | None):
    """Calls made inside the block resolve `training` to this value unless given explicitly.

    `with training_scope(True): model(x)` trains (the enclosing-call rule); None restores
    the plain rule (signature default, else inference).
    """
    previous = _scope_training()
    _STATE.training = None if training is None else bool(training)
    try:
        yield
    finally:
        _STATE.training = previous


def _call_spec(cls) -> tuple[bool, bool, bool | None]:
    """(call takes training, call takes mask, default of call's training) for a class, kept
    on the class itself (`_fitorch_call_spec` in its own `__dict__`, so a subclass gets its
    own). Not a dict keyed by classes: when a graph break makes dynamo compile the layers'
    calls one by one, such a dict's lookup was resolved to another layer's entry (a
    `call(inputs)` got `training=`)."""
    spec = cls.__dict__.get("_fitorch_call_spec")
    if spec is None:
        try:
            params = inspect.signature(cls.call).parameters
        except (TypeError, ValueError):
            params = {}
        default = None
        if "training" in params:
            value = params["training"].default
            default = value if isinstance(value, bool) else None
        spec = ("training" in params, "mask" in params, default)
        type.__setattr__(cls, "_fitorch_call_spec", spec)
    return spec


class Layer(nn.Module):
    """Base class of every fitorch layer.

    Args:
        name: layer name (default: the snake-cased class name numbered per session, as
            Keras: `dense`, `dense_1`, ... until `clear_session()`).
        trainable: whether its weights are trained.
        dtype: dtype of its weights (default float32).
        input_shape / input_dim / batch_input_shape / batch_size: Keras' way of declaring
            the input of the first layer of a `Sequential`.
        activity_regularizer: penalty on the layer's output, added to the loss.
    """

    def __init__(
        self, *, name=None, trainable=True, dtype=None, activity_regularizer=None, **kwargs
    ):
        super().__init__()
        unknown = set(kwargs) - _BASE_KWARGS
        if unknown:
            accepted = list(_BASE_KWARGS) + _init_params(type(self))
            raise TypeError(unexpected_keyword(type(self).__name__, sorted(unknown)[0], accepted))
        self._name = name or auto_name(type(self).__name__)
        self._trainable = bool(trainable)
        self._dtype = _as_dtype(dtype)
        # Compute-dtype policy (given, else the global one now), read by the step's autocast.
        from fitorch.mixed_precision import policy_for

        self._dtype_policy = policy_for(dtype)
        self.built = False
        self.activity_regularizer = regularizers_mod.get(activity_regularizer)
        self._weight_info: dict[
            str, dict
        ] = {}  # param name -> trainable/layout/regularizer/constraint
        self._last_losses: list[torch.Tensor] = []
        self._batch_input_shape = _declared_input_shape(kwargs)
        self._inbound_nodes: list = []
        self._build_shapes = None

    # -- masks (Keras' `_keras_mask` attribute, set by Embedding(mask_zero)/Masking) -----
    # Whether a `call` taking `mask` gets the input's carried mask when none is given (Keras;
    # False where fitorch's `call` takes a `mask` that Keras' does not, GlobalMaxPooling1D).
    receives_carried_mask = True
    # An `InputSpec` (or one per input) checked at every call, as Keras' `layer.input_spec`.
    input_spec = None

    @property
    def supports_masking(self) -> bool:
        """Whether the layer's outputs get masks from `compute_mask` after each call. Keras'
        default: True exactly when the class overrides `compute_mask`; a class or an
        instance (`self.supports_masking = True`) may set it."""
        return self.__dict__.get(
            "_supports_masking", type(self).compute_mask is not Layer.compute_mask
        )

    @supports_masking.setter
    def supports_masking(self, value: bool) -> None:
        self.__dict__["_supports_masking"] = bool(value)

    def compute_mask(self, inputs, mask=None):
        """The output's mask given the input's `mask` (Keras' default: the same mask)."""
        return mask

    def __setattr__(self, name, value):
        # Layers inside list/tuple/dict attributes are tracked as Keras does (tracking.py).
        tracked = "_modules" in self.__dict__
        if tracked:
            tracking.untrack(self, name)
            value = tracking.wrap(self, name, value)
        super().__setattr__(name, value)
        if tracked:
            tracking.register(self, name, value)

    def __delattr__(self, name):
        tracking.untrack(self, name)
        super().__delattr__(name)

    def __setstate__(self, state):
        super().__setstate__(state)
        tracking.rebind(self)  # a copied or unpickled layer tracks its own containers

    # -- identity ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    def _device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype_policy(self):
        """The layer's `DTypePolicy` (its `dtype=` argument, else the global policy then)."""
        return self._dtype_policy

    @property
    def compute_dtype(self) -> str:
        """Name of the dtype the layer computes in (Keras: `layer.compute_dtype`)."""
        return _dtype_name(self._dtype_policy.compute_dtype)

    @property
    def variable_dtype(self) -> str:
        """Name of the dtype of the layer's weights (Keras: `layer.variable_dtype`)."""
        return _dtype_name(self._dtype)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # -- build and call ---------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights from `input_shape` (batch dimension None). Default: none."""
        self.built = True

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"Layer {type(self).__name__} must implement call().")

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def _maybe_build(self, input_shape) -> None:
        if not self.built:
            self._build_shapes = input_shape
            # A first call inside predict/evaluate (inference mode) must still create normal
            # tensors: inference-mode weights could never be loaded into or trained.
            with torch.inference_mode(False):
                self.build(input_shape)
            self.built = True
            self._apply_trainable()

    def __call__(self, *args, **kwargs):
        first = args[0] if args else next(iter(kwargs.values()), None)
        is_tensor = isinstance(first, torch.Tensor)
        if not is_tensor:
            if _has_symbolic(first):
                from fitorch.layers.input import symbolic_call

                return symbolic_call(self, args, kwargs)
            if args and _has_host_array(first):
                first = _to_tensor(first, self._device())
                args = (first,) + tuple(args[1:])
        takes_training, takes_mask, default = _call_spec(type(self))
        if len(args) > 1 or kwargs:
            # Keras' ops take NumPy anywhere (`mask=`, `initial_state=`, a second input).
            args = args[:1] + tuple(_host_arrays_to_tensors(a, self) for a in args[1:])
            kwargs = {k: _host_arrays_to_tensors(v, self) for k, v in kwargs.items()}
        if kwargs:
            explicit = kwargs.pop("training", None)
            mask = kwargs.pop("mask", None)
        else:  # the common `layer(x)`: no keyword to look up
            explicit = mask = None
        previous = getattr(_STATE, "training", None)
        context = explicit if explicit is not None else previous
        if context is None:
            context = default
        training = bool(context) if context is not None else False
        if takes_training:
            kwargs["training"] = training
        if takes_mask and mask is not None:
            kwargs["mask"] = mask
        carried = fill_mask_argument(self, first, kwargs)
        carried = kwargs.get("mask", carried) if takes_mask else carried
        if self.training != training and not symbolic_tracing():
            self.train(training)
        if self.input_spec is not None:
            assert_input_compatibility(self.input_spec, first, self.name)
        if not self.built:
            self._maybe_build(_shape_of(first))
        if not torch.compiler.is_compiling() and self._last_losses:
            self._last_losses = []
        scope = context if context is None else bool(context)
        if scope is previous:
            # Nested calls already inherit this value (rule 2): no scope to enter and leave.
            outputs = super().__call__(*args, **kwargs)
        else:
            _STATE.training = scope
            try:
                outputs = super().__call__(*args, **kwargs)
            finally:
                _STATE.training = previous
        if self.supports_masking:
            propagate_masks(self, first, outputs, carried)
        if self.activity_regularizer is not None and isinstance(outputs, torch.Tensor):
            penalty = self.activity_regularizer(outputs)
            self.add_loss(penalty / outputs.shape[0] if outputs.ndim else penalty)
        return outputs

    @property
    def input(self):
        """The symbolic tensor(s) the layer's first functional call read (Keras 3's
        `layer.input`: one tensor, or the flat list when it read several)."""
        return _unwrap_single(self._first_node("input").parents())

    @property
    def output(self):
        """The symbolic tensor(s) the layer's first functional call returned (Keras 3's
        `layer.output`: one tensor, or the flat list when it returned several)."""
        return _unwrap_single(list(self._first_node("output").outputs))

    def _first_node(self, what: str):
        if not self._inbound_nodes:
            raise AttributeError(
                f"The layer {self.name} has never been called on symbolic tensors and thus "
                f"has no defined {what}."
            )
        return self._inbound_nodes[0]

    def compute_output_shape(self, input_shape):
        """Output shape for `input_shape` (None = any), found by running the layer on zeros."""
        from fitorch.layers.input import KerasTensor, symbolic_call

        if (
            isinstance(input_shape, list)
            and input_shape
            and isinstance(input_shape[0], (tuple, list))
        ):
            inputs = [KerasTensor(tuple(s)) for s in input_shape]
        else:
            inputs = KerasTensor(tuple(input_shape))
        out = symbolic_call(self, (inputs,), {}, record=False)
        if isinstance(out, (list, tuple)):
            return [o.shape for o in out]
        return out.shape

    # -- weights ----------------------------------------------------------------------
    def add_weight(
        self,
        name: str | None = None,
        shape=None,
        initializer=None,
        dtype=None,
        trainable: bool = True,
        regularizer=None,
        constraint=None,
        layout: tuple[int, ...] | None = None,
        autocast: bool = True,
        aggregation: str = "none",
        overwrite_with_gradient: bool = False,
    ) -> nn.Parameter:
        """Create, register and return a weight.

        Keras 3's call `add_weight(shape, initializer, dtype, ...)` (positional shape first) and
        Keras 2's `add_weight(name, shape, ...)` both work. `shape` is in Keras layout (default
        `()`); `initializer` defaults to glorot_uniform for floating dtypes and zeros otherwise
        (Keras); `layout` (a permutation) stores the value as `keras_value.permute(layout)` when
        torch wants another layout. `autocast` and `aggregation` (distribution hints) are
        accepted; `overwrite_with_gradient=True` is not supported.
        """
        if name is not None and not isinstance(name, str):  # Keras 3 positional order
            name, shape, initializer, dtype = None, name, shape, initializer
        if overwrite_with_gradient:
            raise ValueError(f"{self.name}: add_weight(overwrite_with_gradient=True) is not "
                             "supported.")  # fmt: skip
        name = name or f"weight_{len(self._weight_info)}"
        if name in self._weight_info or hasattr(type(self), name):
            raise ValueError(f"{self.name}: a weight named {name!r} already exists.")
        shape, dtype = (
            tuple(int(s) for s in shape or ()),
            _as_dtype(dtype) if dtype else self._dtype,
        )
        if initializer is None:
            initializer = "glorot_uniform" if dtype.is_floating_point else "zeros"
        init = initializers_mod.get(initializer)
        weight_budget.charge(math.prod(shape) * dtype.itemsize, f"{self.name}/{name} {shape}")
        value = init(shape, dtype=dtype)
        if layout is not None:
            value = value.permute(*layout).contiguous()
        param = Variable(value, requires_grad=bool(trainable))
        param._keras_path = f"{self.name}/{name}"
        self.register_parameter(name, param)
        self._weight_info[name] = {
            "trainable": bool(trainable),
            "layout": layout,
            "regularizer": _in_keras_layout(regularizers_mod.get(regularizer), layout),
            "constraint": _in_keras_layout(constraints_mod.get(constraint), layout),
        }
        self._apply_trainable()
        return param

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for layer in self._sublayers(recursive=True):
            if isinstance(layer, Layer):
                layer._trainable = bool(value)
        self._apply_trainable()

    def _apply_trainable(self) -> None:
        """Sync `requires_grad` with the layer's and each weight's trainability."""
        for module in self.modules():
            if isinstance(module, Layer):
                for pname, info in module._weight_info.items():
                    getattr(module, pname).requires_grad_(module._trainable and info["trainable"])
            else:
                for p in module.parameters(recurse=False):
                    p.requires_grad_(self._trainable)

    def own_weights(self) -> list[tuple[nn.Parameter, bool]]:
        """This layer's own weights with their trainability, trainable ones first."""
        own = [(getattr(self, n), info["trainable"]) for n, info in self._weight_info.items()]
        foreign = [
            (p, True) for n, p in self.named_parameters(recurse=False) if n not in self._weight_info
        ]
        own += foreign
        return [w for w in own if w[1]] + [w for w in own if not w[1]]

    def _sublayers(self, recursive: bool = False) -> list[nn.Module]:
        """Direct child modules in tracking order (recursively when asked)."""
        out = []
        for child in self.children():
            if isinstance(child, nn.ModuleList | nn.ModuleDict | nn.Sequential) and not isinstance(
                child, Layer
            ):
                out.extend(child.children())
            else:
                out.append(child)
        if recursive:
            nested = []
            for child in out:
                nested.append(child)
                if isinstance(child, Layer):
                    nested.extend(child._sublayers(recursive=True))
                else:
                    nested.extend(child.modules())
            return list(dict.fromkeys(nested))
        return out

    def _all_weights(self) -> list[tuple[nn.Parameter, bool]]:
        seen, out = set(), []
        for w, t in self.own_weights():
            if id(w) not in seen:
                seen.add(id(w))
                out.append((w, t and self._trainable))
        for child in self._sublayers():
            child_weights = (
                child._all_weights()
                if isinstance(child, Layer)
                else [(p, p.requires_grad) for p in child.parameters()]
            )
            for w, t in child_weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((w, t and self._trainable))
        return out

    @property
    def weights(self) -> list[nn.Parameter]:
        return [w for w, _ in self._all_weights()]

    @property
    def trainable_weights(self) -> list[nn.Parameter]:
        return [w for w, t in self._all_weights() if t]

    @property
    def non_trainable_weights(self) -> list[nn.Parameter]:
        return [w for w, t in self._all_weights() if not t]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def count_params(self) -> int:
        return sum(w.numel() for w in self.weights)

    def weight_layout(self, weight: nn.Parameter):
        """The Keras layout recorded for `weight` by `add_weight` (None if not one of ours)."""
        for module in self.modules():
            if isinstance(module, Layer):
                for pname, info in module._weight_info.items():
                    if getattr(module, pname) is weight:
                        return info["layout"]
        return None

    def get_weights(self) -> list[np.ndarray]:
        """Weights as NumPy arrays in Keras layouts (Dense kernel (in, out))."""
        out = []
        for w in self.weights:
            value = w.detach()
            if hasattr(value, "full_tensor"):  # a DTensor shard (FSDP): gather every rank's
                value = value.full_tensor()
            layout = self.weight_layout(w)
            if layout is not None:
                value = value.permute(*np.argsort(layout).tolist())
            out.append(value.cpu().numpy().copy())
        return out

    def set_weights(self, weights) -> None:
        """Assign NumPy arrays in Keras layouts; count and shapes must match exactly."""
        params = self.weights
        if len(weights) != len(params):
            raise ValueError(
                f"Layer {self.name!r}.set_weights expected {len(params)} arrays; "
                f"got {len(weights)}."
            )
        staged = []
        for i, (p, value) in enumerate(zip(params, weights)):
            value = torch.as_tensor(np.asarray(value), dtype=p.dtype)
            layout = self.weight_layout(p)
            if layout is not None:
                value = value.permute(*layout)
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(
                    f"Layer {self.name!r}.set_weights: weight {i} has shape {tuple(p.shape)} "
                    f"(Keras layout), got an array of shape {tuple(np.asarray(weights[i]).shape)}."
                )
            staged.append((p, value))
        with torch.no_grad():
            for p, value in staged:
                p.copy_(value)

    # -- losses -----------------------------------------------------------------------
    def add_loss(self, loss, inputs=None) -> None:
        """Add a scalar (or per-sample, then averaged) term to the training loss."""
        if symbolic_tracing():
            return
        if not isinstance(loss, torch.Tensor):
            loss = torch.as_tensor(loss, dtype=torch.float32)
        if loss.ndim:
            loss = loss.mean()
        collectors = _collectors()
        detach = bool(collectors) and collectors[-1].detach_recorded
        if not torch.compiler.is_compiling():
            # `losses` (the last eager call's terms) is not kept by a compiled step, which
            # collects its terms through `collect_losses`: reading or replacing the list
            # there would guard on its length, which the previous step kind left (a
            # training call's terms), and recompile the next kind's graph.
            self._last_losses.append(loss.detach() if detach else loss)
        for bucket in collectors[-1:]:
            bucket.append(loss)

    @property
    def losses(self) -> list[torch.Tensor]:
        """add_loss terms of the last call plus the weight regularization penalties."""
        out = []
        for module in self.modules():
            if isinstance(module, Layer):
                out.extend(module._last_losses)
        return out + self.regularization_losses()

    def regularization_losses(self) -> list[torch.Tensor]:
        return [regularizer(weight) for weight, regularizer in self.regularized_weights()]

    def regularized_weights(self) -> list[tuple[nn.Parameter, object]]:
        """`(weight, regularizer)` for every weight of this layer and its sublayers that
        has one (the trainer adds `regularizer(weight)` to the training loss)."""
        out = []
        for module in self.modules():
            if isinstance(module, Layer):
                for pname, info in module._weight_info.items():
                    if info["regularizer"] is not None:
                        out.append((getattr(module, pname), info["regularizer"]))
        return out

    def constrained_weights(self) -> list[tuple[nn.Parameter, object]]:
        """`(weight, constraint)` for every weight that has one (applied after each update)."""
        out = []
        for module in self.modules():
            if isinstance(module, Layer):
                for pname, info in module._weight_info.items():
                    if info["constraint"] is not None:
                        out.append((getattr(module, pname), info["constraint"]))
        return out

    # -- config -----------------------------------------------------------------------
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": _dtype_name(self._dtype)}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def get_build_config(self) -> dict | None:
        if self._build_shapes is None:
            return None
        return {"input_shape": _jsonable_shape(self._build_shapes)}

    def build_from_config(self, config: dict | None) -> None:
        if config and config.get("input_shape") is not None and not self.built:
            self._maybe_build(_tuple_shape(config["input_shape"]))


# -- helpers ------------------------------------------------------------------------------
def _unwrap_single(values: list):
    return values[0] if len(values) == 1 else values


def _in_keras_layout(fn, layout):
    """`fn` (a regularizer or constraint) applied to a weight stored as `keras.permute(layout)`
    sees the Keras-layout view, so axis arguments (MaxNorm(axis=0), ...) mean what they do in
    Keras; a constraint's result is stored back in the torch layout."""
    if fn is None or layout is None:
        return fn
    inverse = np.argsort(layout).tolist()

    def apply(weight):
        out = fn(weight.permute(*inverse))
        return out.permute(*layout) if out.ndim == weight.ndim else out

    apply.__wrapped__ = fn
    return apply


def _has_host_array(x) -> bool:
    if isinstance(x, np.ndarray):
        return True
    if isinstance(x, (list, tuple)):
        return (
            len(x) > 0
            and all(
                isinstance(v, (np.ndarray, list, tuple, int, float, bool, torch.Tensor)) for v in x
            )
            and not all(isinstance(v, torch.Tensor) for v in x)
        )
    if isinstance(x, dict):
        return any(_has_host_array(v) for v in x.values())
    return False


def _host_arrays_to_tensors(value, layer):
    """A NumPy array, or a list/tuple holding some (with tensors or None), as tensors on the
    layer's device; any other value (numbers, strings, lists of ints) is left as given."""
    if isinstance(value, np.ndarray) and value.dtype.kind not in "USO":
        return _to_tensor(value, layer._device())
    if (
        isinstance(value, (list, tuple))
        and any(isinstance(v, np.ndarray) for v in value)
        and all(v is None or isinstance(v, (np.ndarray, torch.Tensor)) for v in value)
    ):
        return type(value)(_host_arrays_to_tensors(v, layer) for v in value)
    return value


def _to_tensor(x, device: torch.device):
    """NumPy arrays / nested Python numbers -> tensors on `device` (floats in floatx)."""
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, dict):
        return {k: _to_tensor(v, device) for k, v in x.items()}
    if isinstance(x, (list, tuple)) and any(
        isinstance(v, (np.ndarray, torch.Tensor, dict)) for v in x
    ):
        return [_to_tensor(v, device) for v in x]  # one array per input of a model
    if not isinstance(x, (np.ndarray, list, tuple, int, float, bool)):
        return x
    array = np.asarray(x)
    if array.dtype.kind in "USO":  # strings stay host values (TextVectorization reads them)
        return x
    tensor = torch.as_tensor(array, device=device)
    if tensor.is_floating_point():
        from fitorch.backend import floatx

        tensor = tensor.to(getattr(torch, floatx()))
    return tensor


def carried_masks(inputs):
    """The `_keras_mask` of a tensor, or of each tensor of a list/tuple (None where none)."""
    if isinstance(inputs, (list, tuple)):
        return [get_mask(x) for x in inputs]
    return get_mask(inputs)


def fill_mask_argument(layer, inputs, kwargs: dict):
    """Keras' `mask=` filling: a layer whose `call` takes `mask` and is given none gets the
    mask(s) its (first) input carries. Returns those carried masks."""
    carried = carried_masks(inputs)
    if (
        _call_spec(type(layer))[1]
        and layer.receives_carried_mask
        and kwargs.get("mask") is None
        and _any_mask(carried)
    ):
        kwargs["mask"] = carried
    return carried


def _any_mask(masks) -> bool:
    if isinstance(masks, list):
        return any(m is not None for m in masks)
    return masks is not None


def propagate_masks(layer, inputs, outputs, previous) -> None:
    """Keras' mask metadata after a call: unless every output already carries a mask,
    `layer.compute_mask(inputs, previous)` gives the outputs' masks, set where one lacks."""
    if not _any_mask(previous) and type(layer).compute_mask is Layer.compute_mask:
        return  # the default would hand on no mask: nothing to do (the common case)
    flat = [t for t in tree.flatten(outputs) if isinstance(t, torch.Tensor)]
    if all(get_mask(t) is not None for t in flat):
        return
    masks = layer.compute_mask(inputs, previous)
    if masks is None:
        return
    for tensor, mask in zip(flat, tree.flatten(masks)):
        if mask is not None and get_mask(tensor) is None:
            set_mask(tensor, mask)


def set_mask(tensor: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Attach `mask` (bool, the tensor's leading axes) to `tensor`; returns `tensor`."""
    if mask is not None:
        try:
            tensor._keras_mask = mask
        except (AttributeError, RuntimeError):  # tensors that refuse attributes keep no mask
            pass
    return tensor


def get_mask(tensor) -> torch.Tensor | None:
    """The mask attached to `tensor` by the layer that made it, or None."""
    return getattr(tensor, "_keras_mask", None)


def _has_symbolic(x) -> bool:
    from fitorch.layers.input import KerasTensor

    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(_has_symbolic(v) for v in x.values())
    return False


def _shape_of(x):
    if isinstance(x, torch.Tensor):
        return (None,) + tuple(x.shape[1:]) if x.ndim else ()
    if isinstance(x, np.ndarray):
        return (None,) + tuple(x.shape[1:])
    if isinstance(x, (list, tuple)):
        return [_shape_of(v) for v in x]
    if isinstance(x, dict):
        return {k: _shape_of(v) for k, v in x.items()}
    return None


def _declared_input_shape(kwargs):
    if kwargs.get("batch_input_shape") is not None:
        return tuple(kwargs["batch_input_shape"])
    if kwargs.get("input_shape") is not None:
        shape = kwargs["input_shape"]
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        return (kwargs.get("batch_size"),) + shape
    if kwargs.get("input_dim") is not None:
        tail = (kwargs["input_length"],) if kwargs.get("input_length") else ()
        return (kwargs.get("batch_size"),) + tail + (int(kwargs["input_dim"]),)
    return None


def _as_dtype(dtype) -> torch.dtype:
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, dict):  # a Keras dtype policy record (Keras 2: "Policy")
        config = dtype.get("config")
        if not str(dtype.get("class_name")).endswith("Policy") or not isinstance(config, dict):
            raise ValueError(
                "dtype must be a dtype name or a Keras DTypePolicy record; got the record "
                f"{dtype!r}."
            )
        dtype = config.get("name", "float32")
    name = {"mixed_float16": "float32", "mixed_bfloat16": "float32"}.get(str(dtype), str(dtype))
    value = getattr(torch, name, None)
    if not isinstance(value, torch.dtype):
        raise TypeError(f"dtype must be a torch dtype or a name such as 'float32'; got {dtype!r}.")
    return value


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


def _jsonable_shape(shape):
    if isinstance(shape, dict):
        return {k: _jsonable_shape(v) for k, v in shape.items()}
    if isinstance(shape, list):
        return [_jsonable_shape(s) for s in shape]
    return list(shape) if shape is not None else None


def _tuple_shape(shape):
    if isinstance(shape, dict):
        return {k: _tuple_shape(v) for k, v in shape.items()}
    if shape and isinstance(shape[0], list):
        return [tuple(s) for s in shape]
    return tuple(shape)


_PARAMS_CACHE: dict[type, list[str]] = {}


def _init_params(cls) -> list[str]:
    if cls not in _PARAMS_CACHE:
        names = []
        for klass in cls.__mro__:
            if klass in (Layer, nn.Module, object):
                break
            try:
                names += list(inspect.signature(klass.__init__).parameters)
            except (TypeError, ValueError):
                pass
        _PARAMS_CACHE[cls] = [n for n in names if n not in ("self", "args", "kwargs")]
    return _PARAMS_CACHE[cls]

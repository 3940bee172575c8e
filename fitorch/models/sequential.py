"""`Sequential`: a linear stack of layers.

The input shape comes from an `Input`/`InputLayer` first entry or from the first layer's
`input_shape=`/`input_dim=` (Keras 2's `Dense(2, input_dim=1)`); then every layer is built
as soon as it is added. Without either, the model builds at its first call.
"""

from __future__ import annotations

from torch import nn

from fitorch.layers.input import InputLayer, KerasTensor
from fitorch.layers.torch_module import as_layer
from fitorch.models.model import Model
from fitorch.utils.naming import auto_name

__all__ = ["Sequential"]


class Sequential(Model):
    """`Sequential(layers=None, name=None)`; `add(layer)`, `pop()`."""

    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name or auto_name("Sequential"), **kwargs)
        self._stack = nn.ModuleList()
        # The stack as a tuple, the order `call` runs (refreshed by add/pop, the only writers
        # of `_stack`): a tuple iterates without ModuleList's per-call iterator and length.
        self._call_order: tuple = ()
        self._input_layer: InputLayer | None = None
        self._symbolic_output: KerasTensor | None = None
        self._initializing = True
        for layer in layers or []:
            self.add(layer)
        self._initializing = False
        if self._symbolic_output is not None:
            self._count_build()

    @property
    def layers(self) -> list:
        return list(self._stack)

    @property
    def output_names(self) -> list[str]:
        return [self._stack[-1].name] if len(self._stack) else ["output_1"]

    def add(self, layer) -> None:
        """Append `layer` (a Layer, a torch Module, or an `Input` tensor first)."""
        if isinstance(layer, KerasTensor):
            if len(self._stack) or self._input_layer is not None:
                raise ValueError("Sequential: an Input can only be the first entry.")
            self._start_graph(layer.node.layer)
            return
        if isinstance(layer, InputLayer):
            self._start_graph(layer)
            return
        layer = as_layer(layer)
        names = {existing.name for existing in self._stack}
        base, i = layer.name, 0
        while layer.name in names:
            i += 1
            layer.name = f"{base}_{i}"
        self._stack.append(layer)
        self._call_order = tuple(self._stack)
        if self._symbolic_output is None and len(self._stack) == 1 and layer._batch_input_shape:
            self._start_graph(InputLayer(batch_shape=layer._batch_input_shape))
        elif self._symbolic_output is not None:
            self._symbolic_output = layer(self._symbolic_output)
            self.built = True
            self._count_build()

    def _start_graph(self, input_layer: InputLayer) -> None:
        self._input_layer = input_layer
        out = input_layer.output
        for layer in self._stack:
            out = layer(out)
        self._symbolic_output = out
        self.built = True
        self._count_build()

    def _count_build(self) -> None:
        """Keras makes an inner functional model at every (re)build of a Sequential with
        layers, which takes a `functional` default name: take it too, so that later default
        names (a functional model's `functional_1`) match Keras'."""
        if len(self._stack) and not self._initializing:
            auto_name("Functional")

    def pop(self):
        if not len(self._stack):
            raise ValueError("Sequential.pop(): the model has no layers.")
        layer = self._stack[-1]
        del self._stack[-1]
        self._call_order = tuple(self._stack)
        if self._input_layer is not None:
            self._start_graph(self._input_layer)
        return layer

    def build(self, input_shape=None) -> None:
        if self._symbolic_output is None and input_shape is not None:
            self._start_graph(InputLayer(batch_shape=tuple(input_shape)))
        self.built = True

    def _maybe_build(self, input_shape) -> None:
        if self._symbolic_output is None and isinstance(input_shape, tuple):
            self._start_graph(InputLayer(batch_shape=input_shape))
        self.built = True

    def call(self, inputs, training=None, mask=None):
        if not self._call_order:
            raise ValueError("Sequential model has no layers; add some before calling it.")
        x = inputs
        for layer in self._call_order:
            x = layer(x)
        return x

    @property
    def inputs(self) -> list[KerasTensor]:
        """The symbolic input, once the input shape is known (Keras 3's `model.inputs`)."""
        return [self._built_input_layer().output]

    @property
    def outputs(self) -> list[KerasTensor]:
        """The symbolic output of the stack (Keras 3's `model.outputs`)."""
        self._built_input_layer()
        return [self._symbolic_output]

    def _built_input_layer(self) -> InputLayer:
        if self._input_layer is None or self._symbolic_output is None:
            raise AttributeError(
                f"Sequential model {self.name!r} has no defined inputs yet: give it an "
                "Input first, an input_shape= to its first layer, or call it once."
            )
        return self._input_layer

    @property
    def input_shape(self):
        return None if self._input_layer is None else self._input_layer.batch_shape

    @property
    def output_shape(self):
        return None if self._symbolic_output is None else self._symbolic_output.shape

    def get_config(self) -> dict:
        from fitorch.models.graph_config import sequential_config

        return sequential_config(self)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """Rebuild from `get_config()` (or a Keras Sequential config); see graph_config."""
        from fitorch.models.graph_config import sequential_from_config

        return sequential_from_config(cls, config, custom_objects)

"""`model.export(path, format=...)`: an inference artifact that runs without fitorch.

- `format="torch"`: a `torch.export` program saved with `torch.export.save` (`.pt2`);
  `torch.export.load(path).module()(*inputs)` runs it with torch alone.
- `format="onnx"`: an ONNX model from torch's exporter (`torch.onnx.export(dynamo=True)` on
  the same program), for onnxruntime and other ONNX runtimes; needs the `onnx` and
  `onnxscript` packages (`pip install fitorch[onnx]`). Inputs are named `inputs_0`, ...

The exported function is the model's inference call (`training=False`): one positional input
per model input, in the order of `model.inputs`, the batch dimension dynamic. Inputs are
taken from `input_signature` when given, else from the model (`model.inputs` of a functional
model, `input_shape` of a built Sequential).
"""

from __future__ import annotations

import os

import torch

from fitorch.utils.optional import require

__all__ = ["export_model", "FORMATS"]

FORMATS = ("torch", "onnx")
_EXAMPLE_BATCH = 2  # torch.export specializes sizes 0 and 1; 2 keeps the batch symbolic


class _Serving(torch.nn.Module):
    """The model's inference call with one positional argument per model input."""

    def __init__(self, model: torch.nn.Module, n_inputs: int):
        super().__init__()
        self.model = model
        self.n_inputs = n_inputs

    def forward(self, *inputs):
        return self.model(list(inputs) if self.n_inputs > 1 else inputs[0], training=False)


def _signature(model, input_signature) -> list[tuple[tuple, torch.dtype]]:
    """[(shape with None for the batch, dtype)] of the model's inputs."""
    if input_signature is None:
        inputs = getattr(model, "inputs", None)
        if inputs:
            input_signature = list(inputs)
        elif getattr(model, "input_shape", None) is not None:
            input_signature = [model.input_shape]
        else:
            raise ValueError(
                "export() cannot tell the model's inputs: give input_signature=[shape, ...] "
                "(e.g. [(None, 28, 28, 1)]) or build the model with an Input/input_shape."
            )
    if not isinstance(input_signature, (list, tuple)) or (
        input_signature and isinstance(input_signature[0], (int, type(None)))
    ):
        input_signature = [input_signature]  # one shape given bare
    return [_spec(s) for s in input_signature]


def _spec(spec) -> tuple[tuple, torch.dtype]:
    if isinstance(spec, torch.Tensor):
        return (None, *spec.shape[1:]), spec.dtype
    shape = getattr(spec, "shape", spec)
    dtype = getattr(spec, "dtype", None) or torch.float32
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    if not isinstance(shape, (list, tuple)) or any(
        d is not None and not isinstance(d, int) for d in shape
    ):
        raise TypeError(
            f"input_signature entries must be shapes (tuples of int or None), tensors or "
            f"KerasTensors; got {spec!r}."
        )
    if any(d is None for d in shape[1:]):
        raise ValueError(
            f"export() needs every dimension but the batch known; got input shape {tuple(shape)}."
        )
    return tuple(shape), dtype


def _examples(specs, device) -> tuple[torch.Tensor, ...]:
    return tuple(
        torch.zeros((_EXAMPLE_BATCH, *shape[1:]), dtype=dtype, device=device)
        for shape, dtype in specs
    )


def export_model(
    model, filepath, format: str = "torch", input_signature=None, verbose: bool = True
) -> str:
    """Write `model`'s inference program to `filepath` in `format`; return the path.

    Raises:
        ValueError: an unknown format, or inputs that cannot be determined.
        ImportError: `format="onnx"` without the `onnx`/`onnxscript` packages.
    """
    if format not in FORMATS:
        raise ValueError(f"export(format=...) must be one of {FORMATS}; got {format!r}.")
    path = os.fspath(filepath)
    specs = _signature(model, input_signature)
    device = next(iter(model.parameters()), torch.empty(0)).device
    examples = _examples(specs, device)
    batch = torch.export.Dim("batch")
    dynamic = (tuple({0: batch} for _ in examples),)  # one entry: the *inputs tuple
    if format == "onnx":  # before tracing: a missing package fails fast
        require("onnx", "export(format='onnx')", extra="onnx")
        require("onnxscript", "export(format='onnx')", extra="onnx")
    serving = _Serving(model, len(examples)).eval()
    with torch.no_grad():
        program = torch.export.export(serving, examples, dynamic_shapes=dynamic)
        if format == "torch":
            torch.export.save(program, path)
        else:  # torch's ONNX exporter, from the program already traced
            torch.onnx.export(program, examples, path, dynamo=True, verbose=False)
    if verbose:
        print(f"Saved {format} artifact at {path!r}.")
    return path

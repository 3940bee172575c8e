"""`compile(jit_compile=True)`: each step kind of a model through one `torch.compile` function.

What is compiled (the functions live in training/step.py):
- **train**: the whole step, forward, every loss term, `torch.autograd.grad`, gradient
  clipping and the optimizer update (`Optimizer.update`, written on tensors), weight
  constraints and the metric updates, as one graph (dynamo traces `autograd.grad` with
  `trace_autograd_ops`, so there is no graph break at the backward). With an optimizer that is
  not a fitorch one (a `torch.optim` optimizer, `LossScaleOptimizer`) or in data-parallel
  training, only the forward and the losses are compiled and the rest stays eager.
- **test**: forward, losses and metric updates; **predict**: the forward.
- **overridden steps** (a `train_step`/`test_step` the user wrote) are compiled whole, as
  Keras compiles them; the first call of each run is eager (it may build what it uses).

The first batch of a model is always eager: it builds the layers, resolves the losses and
metrics and checks the targets (Python work that should not be traced).

- **Once per model**: the compiled function of a kind is made on first use and kept with the
  model's compile state, so later epochs, validation, a second `fit`, `evaluate` and
  `predict` reuse its graphs; every compiled call marks the batch dimension of its data
  dynamic, so the short last batch does not recompile (torch specialises sizes 0 and 1, so a
  last batch of exactly one row compiles once more). Each model compiles its own copy of the
  step function:
  dynamo's cache (and its limit of 8 graphs) is per code object, so models never evict each
  other's graphs.
- **Runs**: each `fit`, `evaluate`, `predict` and `*_on_batch` call is a run
  (`begin_run`). Within a run, a call whose input signature (`signature`: the batch
  tensors' shapes, strides and dtypes, the optimizer plan's flags, the grad mode) was
  already called in the run skips dynamo's guard evaluation (`set_stance(...,
  skip_guard_eval_unsafe=True)`: only the guards telling this function's graphs apart are
  checked), which was about a third of a small model's compiled step. Python state the step
  reads (a layer attribute, `trainable`) is therefore taken when the run's first call of
  a signature checks the guards, as Keras 3 takes it when it traces a step for a new input
  signature: change it between runs (or recompile), not from a callback within one.
- **Fallback**: if compiling (or the compiled call) fails, the step reruns eagerly and the
  kind stays eager for that model, after ONE warning naming the error.
- `jit_compile="auto"` means False (Keras 3 on torch does the same); True compiles.
- `set_backend(name)` picks torch.compile's backend (default "inductor"; tests use
  "aot_eager" to skip code generation on slow machines).
"""

from __future__ import annotations

import types
import warnings
import weakref

import torch
import torch._dynamo

__all__ = ["begin", "begin_run", "compile_options", "enabled", "run", "set_backend", "signature"]

_BACKEND = {"name": "inductor"}
# compile state (model.trainer) -> {kind: _Compiled}; a new `compile()` starts afresh.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def set_backend(name: str) -> None:
    """The torch.compile backend for compiled steps ('inductor', 'aot_eager', ...)."""
    _BACKEND["name"] = name


def enabled(model) -> bool:
    """Whether `compile(jit_compile=...)` asked for a compiled step ('auto' -> False;
    `run_eagerly=True` turned it off at compile)."""
    state = model.trainer
    return state is not None and state.jit_compile is True


class _Compiled:
    """One kind's compiled function for one model, and how many calls still run eagerly."""

    def __init__(self, fn):
        self.fn = fn
        backend = _BACKEND["name"]
        options = compile_options(backend)
        self.compiled = torch.compile(_own_copy(fn), backend=backend, options=options)
        self.eager_calls = 0
        self.signatures: set = set()  # input signatures called with guards in this run


def compile_options(backend: str) -> dict | None:
    """The `options` given to `torch.compile` with `backend` (None: the backend's defaults),
    chosen to cut the compile warm-up (bench/bench_warmup.py; measurements in
    bench/README.md, "Compile warm-up") and the per-call cost; they do not change the
    generated code's numbers:

    - inductor `cpp.vec_isa_ok=True`: use the SIMD level the CPU reports (AVX2 here) without
      first building and running a test program with g++, which costs one C++ compile
      (seconds) on every cold cache. A toolchain that cannot build for that level fails the
      compile, and the step then falls back to eager with one warning.
    - inductor `size_asserts=False`: no size/stride assertion of every input on every call
      (about 9% of the small model's compiled step); `run` checks shapes and strides in the
      input `signature`, and dynamo's guards on each new signature.
    """
    if backend != "inductor":
        return None
    return {"cpp.vec_isa_ok": True, "size_asserts": False}


def _own_copy(fn):
    """`fn` with a code object of its own (dynamo keeps its graphs per code object)."""
    return types.FunctionType(
        fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )


def _entry(model, kind: str, fn) -> _Compiled | None:
    """The model's compiled `fn` for `kind` (made on first use); None when jit is off or
    this kind fell back to eager."""
    if not enabled(model):
        return None
    kinds = _COMPILED.setdefault(model.trainer, {})
    current = kinds.get(kind, "missing")
    if current == "missing" or (current is not None and current.fn is not fn):
        current = kinds[kind] = _Compiled(fn)
    return current


def begin_run(model) -> None:
    """A run (one `fit`, `evaluate`, `predict` or `*_on_batch` call) starts: the first call
    of each signature evaluates dynamo's guards again, so Python state changed between runs
    (a layer's `trainable`, a new optimizer phase) is seen."""
    state = getattr(model, "trainer", None)
    for current in _COMPILED.get(state, {}).values() if state is not None else ():
        if current is not None:
            current.signatures.clear()


def begin(model, kind: str, fn, eager_calls: int = 0) -> None:
    """Start a run of `kind`: its first `eager_calls` calls run eagerly (an overridden step
    builds what it uses then)."""
    current = _entry(model, kind, fn)
    if current is not None:
        current.eager_calls = eager_calls


def run(model, kind: str, fn, *args, reuse_signatures: bool = True):
    """`fn(*args)` through the model's compiled `fn` for `kind` if jit is on, else eagerly.

    The first call of each input signature in a run (see `begin_run`) evaluates dynamo's
    guards (and compiles when none of the graphs fits); later calls with a signature seen
    in the run skip guard evaluation (`skip_guard_eval_unsafe`): the graph was traced for
    these inputs, and what else the guards watch (the model's Python state) is frozen for
    the run, as Keras's traced steps freeze it.
    `reuse_signatures=False` checks the guards on every call: for a step the user wrote,
    whose graph breaks (`loss.backward()`) leave frames dynamo compiles on later calls.
    """
    current = _entry(model, kind, fn)
    if current is None:
        return fn(*args)
    if current.eager_calls:
        current.eager_calls -= 1
        return fn(*args)
    args = [_own_storage(arg) for arg in args]
    key = signature(args)
    try:
        if reuse_signatures and key in current.signatures:
            with torch.compiler.set_stance("default", skip_guard_eval_unsafe=True):
                return current.compiled(*args)
        _mark_batch_dims(args)  # for any call that compiles (a new phase of the optimizer)
        with torch._dynamo.config.patch(trace_autograd_ops=True):
            out = current.compiled(*args)
        current.signatures.add(key)
        return out
    except Exception as error:  # noqa: BLE001 - any compiler failure falls back to eager
        _COMPILED[model.trainer][kind] = None
        warnings.warn(
            f"jit_compile: torch.compile failed for the {kind} step "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
            "continuing eagerly.",
            RuntimeWarning,
            stacklevel=3,
        )
        return fn(*args)


def signature(args) -> tuple:
    """What a compiled step's graph depends on that may change between calls of a run: each
    tensor's shape, strides, dtype and `requires_grad`, the values of None, bool, int, float
    and str leaves, the lengths of lists and tuples, the keys of dicts, what an object's
    `compile_signature()` returns (an optimizer's `UpdatePlan`), the identity of any other
    object (the model, its compile state), and the grad and inference modes."""
    out = [torch.is_grad_enabled(), torch.is_inference_mode_enabled()]
    pending = list(args)
    while pending:
        arg = pending.pop()
        if isinstance(arg, torch.Tensor):
            out += (arg.shape, arg.stride(), arg.dtype, arg.requires_grad)
        elif arg is None or isinstance(arg, (bool, int, float, str)):
            out.append(arg)
        elif hasattr(arg, "compile_signature"):
            out.append(arg.compile_signature())
        elif isinstance(arg, (list, tuple)):
            out.append(len(arg))
            pending.extend(arg)
        elif isinstance(arg, dict):
            out.append(tuple(arg))
            pending.extend(arg.values())
        else:
            out.append(id(arg))
    return tuple(out)


def _mark_batch_dims(args) -> None:
    """Compile the first dimension of the batch tensors in `args` (nested in lists, tuples
    and dicts) symbolically, so other batch sizes reuse the graph. Only the batch: marking
    every dimension (`dynamic=True`) would also make the optimizer slots and metric states
    symbolic and let dynamo tie a slot's size to the batch size when they happen to match."""
    for arg in args:
        if isinstance(arg, torch.Tensor):
            if arg.ndim:
                torch._dynamo.maybe_mark_dynamic(arg, 0)
        elif isinstance(arg, dict):
            _mark_batch_dims(arg.values())
        elif isinstance(arg, (list, tuple)):
            _mark_batch_dims(arg)


def _own_storage(arg):
    """`arg` with every tensor (nested in lists, tuples and dicts) that is a view at an
    offset replaced by a copy: dynamo guards on storage offsets, so the unshuffled batches
    (views of the whole array at growing offsets) would otherwise compile twice."""
    if isinstance(arg, torch.Tensor):
        # Under inference_mode every batch tensor is made an inference tensor (dynamo also
        # guards on that), so the first batch and the copied later ones share a graph.
        inference = torch.is_inference_mode_enabled() and not arg.is_inference()
        return arg.clone() if arg.storage_offset() or inference else arg
    if isinstance(arg, dict):
        return {k: _own_storage(v) for k, v in arg.items()}
    if isinstance(arg, (list, tuple)) and not hasattr(arg, "_fields"):  # not a NamedTuple
        return type(arg)(_own_storage(v) for v in arg)
    return arg

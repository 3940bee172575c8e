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
  (`begin_run`). The first call of each input signature in a run (`signature`: the batch
  tensors' shapes, strides and dtypes, the optimizer plan's flags, the grad mode) goes
  through dynamo with its guards. Later calls of that signature in the run:
  - call the graph that first call ran **directly** (`_DirectCall`: no frame evaluation,
    guards or dynamo bytecode, about 3/4 of a small model's compiled step) when that call
    ran one graph with no outputs and no graph break and returned None (the train and test
    steps, which only update tensors in place). The graph's inputs are that call's tensors
    found in the arguments (the batch, the learning-rate tensors of the optimizer plan) and,
    as constants for the run, the other tensors it read (parameters, optimizer slots,
    metric states: all updated in place, never replaced). The Python state the step writes
    (the layer call context, restored on exit) was written by the first call;
  - otherwise (predict) go through dynamo skipping guard evaluation
    (`set_stance(..., skip_guard_eval_unsafe=True)`: only the guards telling this
    function's graphs apart are checked);
  - a step whose graph breaks checks its guards on every call (the frames dynamo compiles
    apart may compile again later).
  Python state the step reads (a layer attribute, `trainable`) is therefore taken when the
  run's first call of a signature checks the guards, as Keras 3 takes it when it traces a
  step for a new input signature: change it between runs (or recompile), not from a
  callback within one.
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

from fitorch.training import inductor_probe

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
    """One kind's compiled function for one model, how many calls still run eagerly, and
    the graphs this run calls directly (`run`). `block`: `fn` runs a block of
    `steps_per_execution` steps, one graph of many kernels (see `compile_options`);
    `first_call_eager`: the first call after it is made runs eagerly."""

    def __init__(self, fn, block: bool, first_call_eager: bool):
        self.fn = fn
        own = _own_copy(fn)
        self.code = own.__code__
        self.log = _CallLog()
        recorder = _GraphRecorder(_BACKEND["name"], self.log, block=block)
        self.compiled = torch.compile(own, backend=recorder)
        self.eager_calls = int(first_call_eager)
        self.signatures: set = set()  # input signatures called with guards in this run
        self.direct: dict = {}  # signature -> _DirectCall, for this run


class _CallLog:
    """The graphs called, with their inputs, while `calls` is a list (one guarded call)."""

    def __init__(self):
        self.calls: list | None = None


class _GraphRecorder:
    """A `torch.compile` backend: compiles each graph dynamo hands it with `backend` (and
    `compile_options`; those of a block when `block` and every input is on the CPU) and
    returns it as a `_RecordedGraph` writing to `log`."""

    def __init__(self, backend, log: _CallLog, block: bool = False):
        self.backend = _with_options(backend, block=False)
        self.block_backend = _with_options(backend, block=True) if block else None
        self.log = log

    def __call__(self, graph_module, example_inputs):
        backend = self.backend
        if self.block_backend is not None and all(
            t.device.type == "cpu" for t in example_inputs if isinstance(t, torch.Tensor)
        ):
            backend = self.block_backend
        compiled = backend(graph_module, example_inputs)
        output = next(n for n in reversed(graph_module.graph.nodes) if n.op == "output")
        return _RecordedGraph(compiled, not output.args[0], self.log)


def _with_options(backend, block: bool):
    """The backend callable for `backend` (a name or a callable) with `compile_options`."""
    options = compile_options(backend, block=block) if isinstance(backend, str) else None
    if options is None:
        return torch._dynamo.lookup_backend(backend)
    # The wrapper `torch.compile(backend="inductor", options=...)` makes (private name,
    # stable since torch 2.0): inductor with `options` as its config patches.
    return torch._TorchCompileInductorWrapper(None, options, None)


class _RecordedGraph:
    """A compiled graph as dynamo calls it (positional inputs: the tensors and sizes dynamo
    lifted, in the graph's order); adds itself and its inputs to the log while one is kept.
    `returns_nothing`: the graph has no outputs (all it does is update its inputs)."""

    def __init__(self, compiled, returns_nothing: bool, log: _CallLog):
        self.compiled = compiled
        self.returns_nothing = returns_nothing
        self.log = log

    def __call__(self, *inputs):
        if self.log.calls is not None:
            self.log.calls.append((self, inputs))
        return self.compiled(*inputs)


class _DirectCall:
    """One graph called without dynamo for a repeated signature: its inputs are the call's
    tensors (by position among the flattened arguments' tensors, `_flatten`) and, as
    constants for the run, the other tensors and sizes of the run's first call (the
    model's parameters, the optimizer slots, the metric states: updated in place)."""

    def __init__(self, graph: _RecordedGraph, template: list, from_call: list):
        self.graph = graph.compiled
        self.template = template
        self.from_call = from_call  # (graph input index, call tensor index)

    @classmethod
    def of(cls, calls: list, out, tensors: list) -> _DirectCall | None:
        """The direct call repeating the guarded call whose graph calls were `calls` (of a
        step no version of which breaks its graph: `run` checks), or None unless that call
        ran exactly one graph with no outputs and returned None, and every input is a
        tensor or a number."""
        if out is not None or len(calls) != 1:
            return None
        graph, inputs = calls[0]
        if not graph.returns_nothing:
            return None
        position = {id(t): k for k, t in enumerate(tensors)}
        template, from_call = list(inputs), []
        for i, value in enumerate(inputs):
            if isinstance(value, torch.Tensor):
                k = position.get(id(value))
                if k is not None:
                    template[i] = None
                    from_call.append((i, k))
            elif not isinstance(value, (int, float)):
                return None
        return cls(graph, template, from_call)

    def __call__(self, tensors: list) -> None:
        inputs = self.template.copy()
        for i, k in self.from_call:
            inputs[i] = tensors[k]
        self.graph(*inputs)


def _breaks_graph(code) -> bool:
    """Whether a version dynamo compiled of `code` continues after a graph break (calls a
    resume function): Python then runs between graphs on every call. Read from dynamo's
    cache entries (private: `torch._dynamo.eval_frame._debug_get_cache_entry_list`); True
    when that is missing, so no direct call is made."""
    entries = getattr(torch._dynamo.eval_frame, "_debug_get_cache_entry_list", None)
    if entries is None:
        return True
    return any(
        name.startswith("__resume_at_") for entry in entries(code) for name in entry.code.co_names
    )


def compile_options(backend: str, block: bool = False) -> dict | None:
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
    - `block` (a CPU graph of `steps_per_execution` steps): also inductor `cpp_wrapper=True`,
      the kernels launched from C++ instead of a Python function: the unrolled graph makes
      hundreds of views and buffers per call (overhead workload, 25 steps: 0.093x -> 0.063x
      the raw loop), for one more C++ compile of the wrapper at warm-up. Not for single
      steps, where it measured no faster (bench/README.md, "per-call cost").
    """
    if backend != "inductor":
        return None
    options = {"cpp.vec_isa_ok": True, "size_asserts": False}
    return {**options, "cpp_wrapper": True} if block else options


def _own_copy(fn):
    """`fn` with a code object of its own (dynamo keeps its graphs per code object)."""
    return types.FunctionType(
        fn.__code__.replace(), fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__
    )


def _entry(
    model, kind: str, fn, block: bool = False, first_call_eager: bool = False
) -> _Compiled | None:
    """The model's compiled `fn` for `kind` (made on first use, with `block` and
    `first_call_eager` as `run` documents them); None when jit is off or this kind fell
    back to eager."""
    if not enabled(model):
        return None
    kinds = _COMPILED.setdefault(model.trainer, {})
    current = kinds.get(kind, "missing")
    if current == "missing" or (current is not None and current.fn is not fn):
        inductor_probe.start_simd_probe(model, compile_options(_BACKEND["name"]))
        current = kinds[kind] = _Compiled(fn, block, first_call_eager)
    return current


def begin_run(model) -> None:
    """A run (one `fit`, `evaluate`, `predict` or `*_on_batch` call) starts: the first call
    of each signature evaluates dynamo's guards again, so Python state changed between runs
    (a layer's `trainable`, a new optimizer phase) is seen."""
    state = getattr(model, "trainer", None)
    for current in _COMPILED.get(state, {}).values() if state is not None else ():
        if current is not None:
            current.signatures.clear()
            current.direct.clear()


def begin(model, kind: str, fn, eager_calls: int = 0) -> None:
    """Start a run of `kind`: its first `eager_calls` calls run eagerly (an overridden step
    builds what it uses then)."""
    current = _entry(model, kind, fn)
    if current is not None:
        current.eager_calls = eager_calls


def run(
    model,
    kind: str,
    fn,
    *args,
    reuse_signatures: bool = True,
    block: bool = False,
    first_call_eager: bool = False,
):
    """`fn(*args)` through the model's compiled `fn` for `kind` if jit is on, else eagerly.

    The first call of each input signature in a run (see `begin_run`) evaluates dynamo's
    guards (and compiles when none of the graphs fits). Later calls with a signature seen
    in the run take the model's Python state as frozen for the run, as Keras's traced steps
    do: when that first call ran one graph with no outputs and `fn` returned None (the
    train and test steps: they only update tensors in place) and no graph break, they call
    that graph directly (`_DirectCall`), without dynamo's frame evaluation, guards and
    bytecode (the Python state the step writes, its layer call context, was written by
    the first call); otherwise, when no version of the step breaks its graph (predict),
    they go through dynamo skipping guard evaluation (`skip_guard_eval_unsafe`). A step
    whose graph breaks checks the guards on every call: the frames dynamo compiles apart
    (a layer's call after a break inside `forward_loss`'s context managers) may compile
    again on later calls. `reuse_signatures=False` checks the guards on every call too: for
    a step the user wrote, whose graph breaks (`loss.backward()`) leave frames dynamo
    compiles on later calls.
    `block=True`: `fn` runs a block of `steps_per_execution` steps (compiled with the
    block's `compile_options`). `first_call_eager=True`: the kind's first call since the
    model's `compile()` runs eagerly (a first predict creates Python state in the layers,
    see step.py `predict_step`).
    """
    if torch.compiler.is_compiling():  # inside a compiled step (an override calling
        return fn(*args)  # `super().train_step`): the enclosing graph traces `fn` itself
    current = _entry(model, kind, fn, block, first_call_eager)
    if current is None:
        return fn(*args)
    if current.eager_calls:
        current.eager_calls -= 1
        return fn(*args)
    key, tensors, copies = _flatten(args)
    if copies:
        args = [_own_storage(arg) for arg in args]
        key, tensors, _ = _flatten(args)
    try:
        if reuse_signatures:
            direct = current.direct.get(key)
            if direct is not None:
                return direct(tensors)
            if key in current.signatures:
                with torch.compiler.set_stance("default", skip_guard_eval_unsafe=True):
                    return current.compiled(*args)
        _mark_batch_dims(args)  # for any call that compiles (a new phase of the optimizer)
        current.log.calls = []
        try:
            with torch._dynamo.config.patch(trace_autograd_ops=True):
                out = current.compiled(*args)
        finally:
            calls, current.log.calls = current.log.calls, None
        if _breaks_graph(current.code):  # later calls may still compile frames: guards
            return out
        current.signatures.add(key)
        if reuse_signatures:
            direct = _DirectCall.of(calls, out, tensors)
            if direct is not None:
                current.direct[key] = direct
        return out
    except Exception as error:  # noqa: BLE001 - any compiler failure falls back to eager
        _COMPILED[model.trainer][kind] = None
        warnings.warn(
            f"jit_compile: torch.compile failed for the {kind} step ({_reason(error)}); "
            "continuing eagerly.",
            RuntimeWarning,
            stacklevel=3,
        )
        return fn(*args)


def _reason(error: Exception) -> str:
    """`error` in one line for the fallback warning: its type and first line, and dynamo's
    "Explanation:" line when it has one (its first line is often generic, e.g.
    "RuntimeError when making fake tensor call", and the explanation names the op)."""
    lines = str(error).splitlines()
    reason = f"{type(error).__name__}: {lines[0] if lines else ''}"
    explanation = next((line.strip() for line in lines if "Explanation:" in line), None)
    return reason if explanation is None else f"{reason}; {explanation}"


def signature(args) -> tuple:
    """What a compiled step's graph depends on that may change between calls of a run: each
    tensor's shape, strides, dtype and `requires_grad`, the values of None, bool, int, float
    and str leaves, the lengths of lists and tuples, the keys of dicts, what an object's
    `compile_signature()` returns (an optimizer's `UpdatePlan`), the identity of any other
    object (the model, its compile state), and the grad and inference modes."""
    return _flatten(args)[0]


def _flatten(args) -> tuple[tuple, list, bool]:
    """`(signature(args), the tensors in args, whether `_own_storage` would copy one)`,
    the tensors in a fixed order for a given signature; an object with
    `compile_signature()` also gives its fields' tensors (the learning-rate tensors of an
    `UpdatePlan`). One pass, as cheap as it can be: it runs on every compiled call."""
    inference = torch.is_inference_mode_enabled()
    out = [torch.is_grad_enabled(), inference]
    tensors: list = []
    copies = False
    pending = list(args)
    while pending:
        arg = pending.pop()
        if isinstance(arg, torch.Tensor):
            out += (arg.shape, arg.stride(), arg.dtype, arg.requires_grad)
            tensors.append(arg)
            copies = copies or bool(arg.storage_offset()) or (inference and not arg.is_inference())
        elif arg is None or isinstance(arg, (bool, int, float, str)):
            out.append(arg)
        elif getattr(type(arg), "compile_signature", None) is not None:  # (no instance
            # lookup: an nn.Module's __getattr__ raising costs microseconds)
            out.append(arg.compile_signature())
            tensors += _tensors_in(arg)
        elif isinstance(arg, (list, tuple)):
            out.append(len(arg))
            pending.extend(arg)
        elif isinstance(arg, dict):
            out.append(tuple(arg))
            pending.extend(arg.values())
        else:
            out.append(id(arg))
    return tuple(out), tensors, copies


def _tensors_in(value) -> list:
    """The tensors in `value` and in the lists and tuples nested in it."""
    found, pending = [], [value]
    while pending:
        item = pending.pop()
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            pending.extend(item)
    return found


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

"""`Optimizer`: Keras 3 optimizer semantics on a real `torch.optim.Optimizer`.

One `step()` does what Keras' `optimizer.apply(grads)` does, in Keras' order:

1. skip parameters whose `.grad` is None;
2. divide the gradients by `loss_scale_factor`;
3. gradient accumulation (`gradient_accumulation_steps=N`): N-1 steps only add the gradient to
   an accumulator, every N-th step updates with `(g + acc) / N`;
4. clip: `clipnorm` (per tensor), `global_clipnorm` or `clipvalue` (at most one);
5. decoupled weight decay `p -= p * weight_decay * lr`;
6. the optimizer's update rule;
7. the exponential moving average of the weights (`use_ema`);
8. `iterations += 1`.

The learning rate can be a float, a `LearningRateSchedule` (called with `iterations`, the
count before this update) or a zero-argument callable. Iteration count, learning rate and
bias corrections are device tensors, so `step()` never waits for the accelerator.

Every rule is written twice: once with multi-tensor `torch._foreach_*` kernels (used for
training) and once as a plain per-tensor loop (`foreach=False`, used by the tests to prove
the two agree in float64).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any, NamedTuple

import torch
from torch.optim import optimizer as torch_optimizer

from fitorch import initializers
from fitorch.ops.dtypes import to_torch_dtype
from fitorch.optimizers import schedules as schedules_lib
from fitorch.optimizers import steps
from fitorch.optimizers.arguments import (
    LearningRateHandle,
    LearningRateValue,
    TorchStyleCall,
    check_clip_threshold,
    check_learning_rate,
    check_nonnegative,
    check_range,
    valid_arguments,
)
from fitorch.optimizers.steps import Scalar
from fitorch.utils.naming import to_snake_case

__all__ = ["Optimizer", "UpdatePlan"]


class UpdatePlan(NamedTuple):
    """The host-side decisions of one optimizer step (see `Optimizer.plan_update`).

    update_now: False on the accumulating steps of `gradient_accumulation_steps`.
    overwrite_ema: whether this step copies the EMA into the weights.
    learning_rates: per param group, the float `lr` as a one-element tensor, or None (use the
        floats, or the schedule/callable the optimizer was given).
    parameters / weight_decays: per param group, the parameters that take a gradient and the
        group's weight decay (read on the host, so a compiled update never reads a group
        dict: dynamo would guard on its float `lr` and compile again when it changes).
    """

    update_now: bool
    overwrite_ema: bool
    learning_rates: tuple[torch.Tensor, ...] | None
    parameters: tuple[tuple[torch.Tensor, ...], ...] = ()
    weight_decays: tuple[float | None, ...] = ()

    def compile_signature(self) -> tuple:
        """What a compiled update's graph depends on (see `training.jit.signature`): the
        flags, whether the rates are tensors, the groups' sizes and weight decays; the
        parameters themselves are the run's own."""
        sizes = tuple(len(group) for group in self.parameters)
        rates = self.learning_rates is None
        return (self.update_now, self.overwrite_ema, rates, sizes, self.weight_decays)


class Optimizer(torch.optim.Optimizer, metaclass=TorchStyleCall):
    """Base class of fitorch optimizers (Keras 3 `keras.optimizers.Optimizer` arguments).

    Subclasses define `_update_foreach(params, grads, slots, lr, t)` and
    `_update_reference(p, g, slots, lr, t)`, where `slots` maps a slot name to a list (or one
    tensor) of per-parameter state, `lr` is the learning rate (float or 0-d tensor) and `t` the
    1-based step count as a float64 device tensor (float32 on MPS). `_slot_names` lists the
    slots (created as zeros; override `_init_slots` for other initial values).

    Args:
        learning_rate: float (ints accepted), `LearningRateSchedule`, or zero-arg callable.
        weight_decay: decoupled weight decay factor, applied as `p -= p * wd * lr`.
        clipnorm / global_clipnorm / clipvalue: gradient clipping; at most one may be set
            (not None); a value <= 0 disables it (Keras 3).
            `clipnorm` is per tensor as in Keras 3 (Keras 2.2 clipped the global norm; use
            `global_clipnorm` for that).
        use_ema, ema_momentum, ema_overwrite_frequency: moving average of the weights;
            `finalize_variable_values()` copies it into the parameters (end of `fit`).
        loss_scale_factor: gradients are divided by it before anything else.
        gradient_accumulation_steps: update every N steps with the mean of N gradients.
        name: Keras name (default: the snake-cased class name).
        lr: Keras 2 alias of `learning_rate` (it wins when both are given).
        decay: Keras 2 inverse-time decay applied every step: `lr / (1 + decay * iterations)`.
        foreach: use multi-tensor kernels (True) or the per-tensor reference loop (False).
        params: bind at once (also accepted as the first positional argument, torch style).

    Param groups (torch): a group's own `lr` (float learning rates only; torch LR schedulers
    work through it) and `weight_decay` are honoured; the other hyperparameters are
    optimizer-wide, as in Keras.
    """

    _slot_names: tuple[str, ...] = ()
    # Whether the update rule reads `t` (bias corrections); others skip computing it.
    _uses_step_count = True
    # Extra optimizer-wide device scalars (name -> initial value), e.g. Nadam's u-product.
    _global_slots: dict[str, float] = {}

    def __init__(
        self,
        learning_rate=0.001,
        *,
        params=None,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor=None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        lr=None,
        decay: float = 0.0,
        foreach: bool = True,
        **kwargs,
    ):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s) {kwargs}. Valid "
                f"arguments: {', '.join(valid_arguments(type(self)))}."
            )
        self._learning_rate = check_learning_rate(learning_rate if lr is None else lr)
        self.weight_decay = check_nonnegative("weight_decay", weight_decay)
        self.clipnorm = check_clip_threshold("clipnorm", clipnorm)
        self.clipvalue = check_clip_threshold("clipvalue", clipvalue)
        self.global_clipnorm = check_clip_threshold("global_clipnorm", global_clipnorm)
        names = ("clipnorm", "clipvalue", "global_clipnorm")
        given = [k for k in names if getattr(self, k) is not None]  # Keras: even a 0 counts
        if len(given) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: {', '.join(f'{k}={getattr(self, k)}' for k in given)}"
            )
        self.use_ema = bool(use_ema)
        self.ema_momentum = check_range("ema_momentum", ema_momentum, 0.0, 1.0)
        if ema_overwrite_frequency and (  # Keras: None and 0 mean no overwrite
            not isinstance(ema_overwrite_frequency, int) or ema_overwrite_frequency < 1
        ):
            raise ValueError(
                "`ema_overwrite_frequency` must be None, 0 or an int >= 1. "
                f"Received: ema_overwrite_frequency={ema_overwrite_frequency!r}"
            )
        self.ema_overwrite_frequency = ema_overwrite_frequency
        self.loss_scale_factor = check_nonnegative("loss_scale_factor", loss_scale_factor)
        if gradient_accumulation_steps and (  # Keras: None and 0 mean no accumulation
            not isinstance(gradient_accumulation_steps, int) or gradient_accumulation_steps < 2
        ):
            raise ValueError(
                "`gradient_accumulation_steps` must be None, 0 or an int >= 2. "
                f"Received: gradient_accumulation_steps={gradient_accumulation_steps!r}"
            )
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.decay = check_nonnegative("decay", decay) or 0.0
        self.name = name or to_snake_case(type(self).__name__)
        self.foreach = bool(foreach)
        self.built = False
        # What torch code reads on any optimizer, valid (empty) before `build`.
        self.param_groups: list[dict[str, Any]] = []
        self.state: defaultdict = defaultdict(dict)
        self.defaults: dict[str, Any] = {}
        self._bucket_cache: dict[tuple[int, ...], list[list[int]]] = {}
        self._excluded_ids: set[int] = set()
        self._excluded_names: tuple[str, ...] = ()
        self._param_names: dict[int, str] = {}
        self._calls = 0  # step() calls, a host-side count (drives accumulation and EMA phases)
        self._rate_tensors: dict[int, tuple[float, torch.Tensor]] = {}
        self._iterations: torch.Tensor = torch.zeros((), dtype=torch.int64)
        # One-element tensors, not 0-d: torch.compile (2.13) drops in-place updates of a 0-d
        # float64 CPU tensor that a compiled update makes.
        self._globals = {
            k: torch.tensor([v], dtype=torch.float64) for k, v in self._global_slots.items()
        }
        if params is not None:
            self.build(params)

    # ------------------------------------------------------------------------------- binding
    def build(self, params) -> None:
        """Bind to an iterable of parameters, `(name, parameter)` pairs or param-group dicts.

        Building again with the same parameters is a no-op; other parameters raise ValueError
        (use `add_param_group` to extend a built optimizer).
        """
        params = list(params)
        groups = params if params and isinstance(params[0], dict) else [{"params": params}]
        groups = [dict(g, params=self._strip_names(g["params"])) for g in groups]
        if self.built:
            new = {id(p) for g in groups for p in g["params"]}
            old = {id(p) for g in self.param_groups for p in g["params"]}
            if new == old:
                return
            raise ValueError(
                f"Optimizer {self.name!r} is already built on {len(old)} other parameters; "
                "call `add_param_group` to add parameters."
            )
        lr = self._learning_rate
        if isinstance(lr, schedules_lib.LearningRateSchedule):
            lr = float(lr(0))  # for torch code that reads group["lr"]; the schedule rules
        elif not isinstance(lr, float):
            lr = 0.0
        super().__init__(groups, {"lr": lr, "weight_decay": self.weight_decay})
        self.built = True
        first = next((p for g in self.param_groups for p in g["params"]), None)
        if first is not None:
            self._to_device(first.device)

    def _strip_names(self, params) -> list[torch.Tensor]:
        if isinstance(params, torch.Tensor):
            params = [params]
        out = []
        for item in params:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                self._param_names[id(item[1])] = item[0]
                item = item[1]
            out.append(item)
        return out

    def _require_built(self):
        if not self.built:
            raise RuntimeError(
                f"Optimizer {self.name!r} is not bound to any parameters yet: call "
                "`optimizer.build(model.parameters())` (compile does it) first."
            )

    @property
    def _scalar_dtype(self) -> torch.dtype:
        """dtype of the step scalars (lr, bias corrections): float64 except on MPS."""
        return schedules_lib.scalar_dtype(self._iterations.device)

    def _to_device(self, device: torch.device) -> None:
        # Parameters may move (model.to('cuda') after compile): the scalars follow them.
        if self._iterations.device != device:
            self._iterations = self._iterations.to(device)
            dtype = self._scalar_dtype
            self._globals = {k: v.to(device=device, dtype=dtype) for k, v in self._globals.items()}

    def zero_grad(self, set_to_none: bool = True) -> None:
        """torch's `zero_grad`; `set_to_none` (the default, what `fit` uses) is done here
        as a plain loop: torch's version also opens a profiler range and leaves dynamo's
        frame (42 us against 1 us for the overhead model's 4 parameters, load 6.5)."""
        if not self.built:
            return
        if not set_to_none:
            super().zero_grad(set_to_none=False)
            return
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def __getstate__(self) -> dict[str, Any]:
        # torch keeps only defaults/state/param_groups; the Keras attributes must survive too.
        state = self.__dict__.copy()
        state["_bucket_cache"] = {}  # keyed by object ids, meaningless in a copy
        return state

    def __repr__(self) -> str:
        lr = self.learning_rate
        return f"{type(self).__name__}(name={self.name!r}, learning_rate={lr!r})"

    # ----------------------------------------------------------------------- learning rate
    @property
    def learning_rate(self):
        """The float learning rate (group 0's `lr` once built) as a `LearningRateValue`
        (Keras' `.assign(v)` and `.numpy()` work on it), or the schedule/callable."""
        if not isinstance(self._learning_rate, float):
            return self._learning_rate
        value = self.param_groups[0]["lr"] if self.built else self._learning_rate
        return LearningRateValue(value, self)

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        if not isinstance(self._learning_rate, float):
            raise TypeError(
                "This optimizer was created with a learning rate schedule or callable "
                f"({self._learning_rate!r}); its learning rate cannot be set to {value!r}."
            )
        value = check_learning_rate(value)
        if not isinstance(value, float):
            raise TypeError(f"Can only assign a float learning rate. Received: {value!r}")
        self._learning_rate = value
        if self.built:
            for group in self.param_groups:
                group["lr"] = value

    @property
    def lr(self) -> LearningRateHandle:
        """Keras 2 `optimizer.lr`: a handle that `K.get_value`/`K.set_value`, `float()` and
        arithmetic understand (`K.set_value(model.optimizer.lr, 1e-4)` works)."""
        return LearningRateHandle(self)

    @lr.setter
    def lr(self, value) -> None:
        self.learning_rate = float(value)

    @property
    def iterations(self) -> torch.Tensor:
        """Number of updates applied (a device int64 tensor; steps // N with accumulation)."""
        if self.gradient_accumulation_steps:
            return torch.div(
                self._iterations, self.gradient_accumulation_steps, rounding_mode="floor"
            )
        return self._iterations

    def _base_lr(self) -> Scalar | None:
        """The schedule or callable value this step (None when the float group lr applies)."""
        if isinstance(self._learning_rate, float):
            return None
        if isinstance(self._learning_rate, schedules_lib.LearningRateSchedule):
            return self._learning_rate(self._iterations)
        value = self._learning_rate()
        if isinstance(value, torch.Tensor):
            return value.to(device=self._iterations.device, dtype=self._scalar_dtype)
        return float(value)

    def _group_lr(self, group, base: Scalar | None, rate: torch.Tensor | None = None) -> Scalar:
        """This step's rate of `group`: the schedule/callable value `base`, else the group's
        float `lr` (or `rate`, the same value as a tensor); Keras 2 `decay` applied."""
        if base is None:
            lr = group["lr"] if rate is None else rate
        else:
            lr = base
        if self.decay:
            # Keras 2: lr / (1 + decay * iterations), with iterations before this update.
            lr = lr / (1.0 + self.decay * self.iterations.to(self._scalar_dtype))
        if base is not None or self.decay:
            (lr,) = steps.computed_once(lr)  # a schedule's pow/cos: once, not per element
        return lr

    def current_learning_rate(self) -> float:
        """The learning rate the next step will use, as a float (reads the device: not per step)."""
        self._require_built()
        lr = self._group_lr(self.param_groups[0], self._base_lr())
        return float(lr)

    # ------------------------------------------------------------------------ weight decay
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exclude tensors (`var_list`) or tensors whose name `re.search`es one of the
        regular expressions `var_names` (Keras 3).

        A tensor's name is the one given in a `(name, param)` pair to `build` (e.g.
        `named_parameters()`), else its `name` attribute as in Keras (a layer weight's own
        name, `"bias"`, not its path `"dense/bias"`), else its `path` attribute.
        """
        self._excluded_ids.update(id(v) for v in (var_list or []))
        self._excluded_names = tuple(self._excluded_names) + tuple(var_names or ())

    def parameter_path(self, p: torch.Tensor) -> str:
        """`p`'s name from a `(name, param)` pair given to `build`, else its `path` attribute
        (a fitorch layer weight's `"dense/kernel"`), else `""`."""
        return self._param_names.get(id(p)) or getattr(p, "path", None) or ""

    def uses_weight_decay(self, p: torch.Tensor) -> bool:
        """False for a tensor `exclude_from_weight_decay` excluded, else True."""
        if id(p) in self._excluded_ids:
            return False
        if self._excluded_names:
            name = (
                self._param_names.get(id(p))
                or getattr(p, "name", None)
                or getattr(p, "path", None)
                or ""
            )
            return not any(re.search(pattern, name) for pattern in self._excluded_names)
        return True

    # ------------------------------------------------------------------------------- state
    def _init_slots(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {
            name: torch.zeros_like(p, memory_format=torch.preserve_format)
            for name in self._slot_names
        }

    def _has_state(self) -> bool:
        return bool(
            self._slot_names
            or self.use_ema
            or self.gradient_accumulation_steps
            or type(self)._init_slots is not Optimizer._init_slots
        )

    def _state_of(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        """The parameter's state, created on first use: slots, accumulator, EMA."""
        state = self.state[p]
        if not state and self._has_state():
            state.update(self._init_slots(p))
            if self.gradient_accumulation_steps:
                state["gradient_accumulator"] = torch.zeros_like(p)
            if self.use_ema:
                state["ema"] = p.detach().clone()
        return state

    def _buckets(self, params: list[torch.Tensor]) -> list[list[int]]:
        """Indices of `params` grouped by device and dtype, cached per parameter list."""
        if torch.compiler.is_compiling():
            return steps.bucket_indices(params)  # resolved once, when the graph is traced
        key = tuple(map(id, params))
        buckets = self._bucket_cache.get(key)
        if buckets is None:
            if len(self._bucket_cache) > 64:  # the set of parameters with grads keeps changing
                self._bucket_cache.clear()
            buckets = self._bucket_cache[key] = steps.bucket_indices(params)
        return buckets

    def state_dict(self) -> dict[str, Any]:
        """torch's state dict (per-parameter slots, EMA, accumulators) plus iterations."""
        self._require_built()
        sd = super().state_dict()
        sd["fitorch"] = {
            "iterations": self._iterations.clone(),
            "calls": self._calls,
            "globals": {k: v.clone() for k, v in self._globals.items()},
        }
        return sd

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._require_built()
        state_dict = dict(state_dict)
        extra = state_dict.pop("fitorch", None)
        super().load_state_dict(state_dict)
        if extra is not None:
            device = self._iterations.device
            self._iterations = extra["iterations"].to(device=device, dtype=torch.int64).clone()
            self._calls = int(extra["calls"])
            for k, v in extra["globals"].items():
                value = v.to(device=device, dtype=self._scalar_dtype).reshape(1)
                self._globals[k] = value.clone()
        if isinstance(self._learning_rate, float):
            self._learning_rate = float(self.param_groups[0]["lr"])

    # -------------------------------------------------------------------------------- step
    @torch.no_grad()
    def step(self, closure=None):
        """One Keras `apply` with the current `.grad`s (see the module docstring for the order)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._require_built()
        self._apply()
        return loss

    def step_in_fit(self) -> None:
        """`step()` as `fit`'s eager train step takes it: the same update, without torch's
        step wrapper where that wrapper would do nothing but cost (a profiler range and four
        empty hook chains: 16 of the 40 us of the overhead workload's `step()`).

        The wrapper runs, through `step()`, whenever it has work: a step pre- or post-hook
        registered on this optimizer or globally (`register_optimizer_step_pre_hook`), the
        autograd profiler recording, a subclass overriding `step`, or a `step` set on the
        instance (torch's LR schedulers wrap `optimizer.step` so to count its calls)."""
        overridden = (
            "step" in self.__dict__
            or getattr(type(self).step, "__wrapped__", None) is not _keras_step
        )
        if overridden or torch_step_wrapper_has_work(self):
            self.step()
            return
        self._require_built()
        with torch.no_grad():
            self._apply()

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """`loss * loss_scale_factor` (or `loss`): the trainer backpropagates this, and
        `step()` divides the gradients by the factor again (Keras' fixed loss scaling)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    @torch.no_grad()
    def apply(self, grads, trainable_variables=None) -> None:
        """Keras `optimizer.apply(grads, variables)`: one step with explicit gradients.

        `grads` align with `trainable_variables` (default: every bound parameter); None
        entries are skipped. Builds on `trainable_variables` if not built yet. The
        parameters' own `.grad` are left as they were.
        """
        if trainable_variables is None:
            self._require_built()
            params = self._all_params()
        else:
            params = list(trainable_variables)
            if not self.built:
                self.build(params)
        if len(grads) != len(params):
            raise ValueError(
                f"Got {len(grads)} gradients for {len(params)} variables; they must align."
            )
        everything = [p for g in self.param_groups for p in g["params"]]
        saved = [p.grad for p in everything]
        try:
            for p in everything:
                p.grad = None
            for p, g in zip(params, grads):
                p.grad = g
            self._apply()
        finally:
            for p, g in zip(everything, saved):
                p.grad = g

    def apply_gradients(self, grads_and_vars) -> torch.Tensor:
        """Keras `apply_gradients(zip(grads, variables))`; returns `iterations`."""
        grads, params = zip(*grads_and_vars)
        self.apply(list(grads), list(params))
        return self.iterations

    def _collect(self):
        """[(group_index, group, params, grads)] for the parameters that have a `.grad` (the
        group dict is None in `update`, which takes the group's values from its plan)."""
        out = []
        for index, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                out.append((index, group, params, [p.grad for p in params]))
        return out

    def _apply(self, skip: torch.Tensor | None = None) -> None:
        """The update from the `.grad`s; `skip` (0-d bool device tensor) turns it into a
        no-op without a sync."""
        plan = self.plan_update()
        self._update(self._collect(), plan, skip)

    # ------------------------------------------------------------------ traceable update
    def bound_parameters(self) -> list[torch.Tensor]:
        """The parameters `update` takes gradients for, in order: every bound parameter that
        requires a gradient, group by group."""
        return [p for g in self.param_groups for p in g["params"] if p.requires_grad]

    def plan_update(self, tensor_learning_rates: bool = False) -> UpdatePlan:
        """The host-side half of one step, done before `update` (outside a compiled graph).

        Counts the call (gradient accumulation and the EMA overwrite are phases of that host
        count), moves the step scalars to the parameters' device and creates missing state.
        With `tensor_learning_rates`, the groups' float learning rates come as one-element
        device tensors, so that a compiled update takes a changed rate as a new input instead
        of compiling again.
        """
        self._require_built()
        self._calls += 1
        params = self.bound_parameters()
        if params:
            self._to_device(params[0].device)
            if len(self.state) < len(params):
                for p in params:
                    self._state_of(p)
        n = self.gradient_accumulation_steps
        freq = self.ema_overwrite_frequency
        overwrite = bool(self.use_ema and freq and ((self._calls - 1) // (n or 1) + 1) % freq == 0)
        float_rate = isinstance(self._learning_rate, float)
        rates = self._learning_rate_tensors() if tensor_learning_rates and float_rate else None
        groups = self.param_groups
        return UpdatePlan(
            not n or self._calls % n == 0,
            overwrite,
            rates,
            tuple(tuple(p for p in g["params"] if p.requires_grad) for g in groups),
            tuple(g["weight_decay"] for g in groups),
        )

    def _learning_rate_tensors(self) -> tuple[torch.Tensor, ...]:
        """Each group's float `lr` as a cached one-element tensor of the step-scalar dtype.

        Not 0-d: for a 0-d float64 CPU input, dynamo (torch 2.13) makes a symbolic float of
        its value that the graph never uses, and inductor's float-scalar pass then throws
        the whole trace away and has dynamo trace the step a second time
        (`TensorifyScalarRestartAnalysis`). `_update` reads the element as a 0-d view.
        """
        device, dtype = self._iterations.device, self._scalar_dtype
        out = []
        for index, group in enumerate(self.param_groups):
            value = group["lr"]
            cached = self._rate_tensors.get(index)
            if cached is None or cached[0] != value or cached[1].device != device:
                cached = (value, torch.tensor([float(value)], dtype=dtype, device=device))
                self._rate_tensors[index] = cached
            out.append(cached[1])
        return tuple(out)

    @torch.no_grad()
    def update(self, grads, plan: UpdatePlan) -> None:
        """One Keras `apply` with `grads` aligned with `plan.parameters` (flattened, the same
        as `bound_parameters()`; None entries skipped) and the host decisions of `plan`.

        Reads no `.grad` and changes no host-side counter: written on tensors only, it runs
        inside `torch.compile(fullgraph=True)` without a graph break or a recompile.
        """
        grads = iter(grads)
        collected = []
        for index, params in enumerate(plan.parameters):
            pairs = [(p, g) for p, g in zip(params, grads) if g is not None]
            if pairs:
                collected.append((index, None, [p for p, _ in pairs], [g for _, g in pairs]))
        self._update(collected, plan, None)

    def _update(self, collected, plan: UpdatePlan, skip: torch.Tensor | None) -> None:
        """Steps 2-8 of the module docstring on `collected` (see `_collect`)."""
        if collected:
            if skip is not None:
                for p in self.bound_parameters():
                    self._state_of(p)  # create state now, so that a skipped step can restore it
            backup = self._snapshot() if skip is not None else None
            collected = self._transform_grads(collected, plan.update_now)
            if plan.update_now:
                # Tensor rates stand for the float ones (and mean there is no schedule).
                base = self._base_lr() if plan.learning_rates is None else None
                t = self.iterations.to(self._scalar_dtype) + 1.0 if self._uses_step_count else None
                self._before_update(t)
                for index, group, params, grads in collected:
                    rate = None if plan.learning_rates is None else plan.learning_rates[index][0]
                    lr = self._group_lr(group, base, rate)
                    wd = group["weight_decay"] if group is not None else plan.weight_decays[index]
                    self._decay(wd, params, lr)
                    self._update_group(params, grads, lr, t)
            if self.use_ema:
                self._update_ema(plan.overwrite_ema)
            if backup is not None:
                self._restore(backup, skip)
        self._iterations.add_(1 if skip is None else (~skip).long())

    def _before_update(self, t: torch.Tensor) -> None:
        """Hook for optimizer-wide scalars updated once per step (Nadam's u-product)."""

    def _transform_grads(self, collected, update_now: bool):
        flat = [g for _, _, _, gs in collected for g in gs]
        if self.loss_scale_factor:
            flat = torch._foreach_div(flat, self.loss_scale_factor)
        n = self.gradient_accumulation_steps
        if n:
            accs = [self.state[p]["gradient_accumulator"] for _, _, ps, _ in collected for p in ps]
            if not update_now:
                torch._foreach_add_(accs, flat)
                return collected  # nothing is updated on this step
            flat = torch._foreach_add(flat, accs)
            torch._foreach_div_(flat, n)
            torch._foreach_zero_(accs)
        flat = steps.clip_gradients(flat, self.clipnorm, self.global_clipnorm, self.clipvalue)
        out, i = [], 0
        for index, group, params, grads in collected:
            out.append((index, group, params, flat[i : i + len(grads)]))
            i += len(grads)
        return out

    def _decay(self, wd: float | None, params, lr: Scalar) -> None:
        if not wd:
            return
        decayed = [p for p in params if self.uses_weight_decay(p)]
        for idx in self._buckets(decayed):
            steps.decay_weights([decayed[i] for i in idx], wd, lr)

    def _update_group(self, params, grads, lr: Scalar, t: torch.Tensor | None) -> None:
        if type(self).update_step is not Optimizer.update_step:  # a Keras-style subclass
            for p, g in zip(params, grads):
                self.update_step(g, p, lr)
            return
        names = self._slot_names
        states = [self._state_of(p) for p in params] if names else [{}] * len(params)
        if not self.foreach:
            for p, g, state in zip(params, grads, states):
                self._update_reference(p, g, {k: state[k] for k in names}, lr, t)
            return
        buckets = self._buckets(params)
        if len(buckets) == 1:  # the usual case: one device, one dtype
            self._update_foreach(params, grads, {k: [s[k] for s in states] for k in names}, lr, t)
            return
        for idx in buckets:
            slots = {k: [states[i][k] for i in idx] for k in names}
            self._update_foreach([params[i] for i in idx], [grads[i] for i in idx], slots, lr, t)

    def _update_foreach(self, params, grads, slots, lr: Scalar, t: torch.Tensor) -> None:
        raise NotImplementedError

    def _update_reference(self, p, g, slots, lr: Scalar, t: torch.Tensor) -> None:
        raise NotImplementedError

    # ------------------------------------------------------- Keras custom-optimizer API
    # A Keras 3 optimizer subclass runs unchanged: `build(var_list)` calls `super().build`
    # and makes slots with `add_variable_from_reference` (kept in `state[variable][name]`,
    # so `state_dict()` saves them); `update_step(gradient, variable, learning_rate)`
    # updates one variable with `assign`/`assign_add`/`assign_sub`. Loss scaling,
    # accumulation, clipping, weight decay and EMA still happen around it.
    def update_step(self, gradient, variable, learning_rate) -> None:
        """Keras-style rule for one variable; a subclass that defines it replaces the
        built-in foreach/reference rules."""
        raise NotImplementedError

    def add_variable(
        self, shape, initializer="zeros", dtype=None, aggregation="none", layout=None, name=None
    ) -> torch.Tensor:
        """A new optimizer-wide tensor of `shape` (on the parameters' device once built)."""
        dtype = torch.get_default_dtype() if dtype is None else to_torch_dtype(dtype)
        params = self.bound_parameters() if self.built else []
        device = params[0].device if params else None
        return initializers.get(initializer)(tuple(shape), dtype=dtype).to(device)

    def add_variable_from_reference(
        self, reference_variable, name=None, initializer="zeros"
    ) -> torch.Tensor:
        """A slot shaped like `reference_variable`, kept in `state[reference_variable][name]`."""
        ref = reference_variable
        state = self._state_of(ref)
        slot = initializers.get(initializer)(tuple(ref.shape), dtype=ref.dtype).to(ref.device)
        state[name or f"slot_{len(state)}"] = slot
        return slot

    def add_optimizer_variables(self, trainable_variables, name, initializer="zeros"):
        """One slot per variable: a list, or a tuple of lists for a list of names."""
        names = [name] if isinstance(name, str) else list(name)
        inits = initializer if isinstance(initializer, (list, tuple)) else [initializer]
        inits = inits * len(names) if len(inits) == 1 else inits
        out = tuple(
            [self.add_variable_from_reference(v, n, i) for v in trainable_variables]
            for n, i in zip(names, inits)
        )
        return out[0] if isinstance(name, str) else out

    @torch.no_grad()
    def assign(self, variable: torch.Tensor, value) -> None:
        variable.copy_(torch.as_tensor(value, dtype=variable.dtype, device=variable.device))

    @torch.no_grad()
    def assign_add(self, variable: torch.Tensor, value) -> None:
        variable.add_(torch.as_tensor(value, dtype=variable.dtype, device=variable.device))

    @torch.no_grad()
    def assign_sub(self, variable: torch.Tensor, value) -> None:
        variable.sub_(torch.as_tensor(value, dtype=variable.dtype, device=variable.device))

    def _get_variable_index(self, variable) -> int:
        """Position of `variable` among `bound_parameters()` (Keras code indexes slots so)."""
        for index, p in enumerate(self.bound_parameters()):
            if p is variable:
                return index
        raise KeyError(f"A {tuple(variable.shape)} variable is not bound to {self.name!r}.")

    # --------------------------------------------------------------------------------- EMA
    def _all_params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"] if p.requires_grad]

    def _update_ema(self, overwrite: bool) -> None:
        params = self._all_params()
        averages = [self.state[p]["ema"] for p in params]
        # Keras: momentum 0 while iterations == 0, so the average starts as the weights.
        momentum = self.ema_momentum * (self.iterations != 0).to(self._scalar_dtype)
        for idx in self._buckets(params):
            steps.ema_update([averages[i] for i in idx], [params[i] for i in idx], momentum)
        if overwrite:
            self._overwrite_with_ema()

    def _overwrite_with_ema(self) -> None:
        pairs = [(p, self.state[p]["ema"]) for p in self._all_params() if "ema" in self.state[p]]
        if pairs:
            torch._foreach_copy_([p for p, _ in pairs], [a for _, a in pairs])

    @torch.no_grad()
    def finalize_variable_values(self, var_list=None) -> None:
        """End of fit: copy the EMA weights into the parameters when `use_ema` (else no-op)."""
        if self.use_ema and self.built:
            self._overwrite_with_ema()

    # ------------------------------------------------------------------- skip (loss scale)
    def _snapshot(self):
        tensors = []
        for p in self._all_params():
            tensors.append(p)
            tensors.extend(t for t in self.state[p].values() if isinstance(t, torch.Tensor))
        copies = torch._foreach_mul(tensors, 1) if tensors else []
        return tensors, copies, {k: v.clone() for k, v in self._globals.items()}

    def _restore(self, backup, skip: torch.Tensor) -> None:
        tensors, copies, globals_ = backup
        for t, old in zip(tensors, copies):
            t.copy_(torch.where(skip, old, t))
        for k, old in globals_.items():
            self._globals[k].copy_(torch.where(skip, old, self._globals[k]))

    # ---------------------------------------------------------------------- serialization
    def get_config(self) -> dict[str, Any]:
        """Keras-compatible config; `from_config(get_config())` rebuilds an equal optimizer."""
        lr = self.learning_rate
        if isinstance(lr, schedules_lib.LearningRateSchedule):
            lr = schedules_lib.serialize(lr)
        elif isinstance(lr, float):
            lr = float(lr)
        config = {
            "name": self.name,
            "learning_rate": lr,
            "weight_decay": self.weight_decay,
            "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm,
            "clipvalue": self.clipvalue,
            "use_ema": self.use_ema,
            "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects=None):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = schedules_lib.deserialize(lr, custom_objects)
        valid = set(valid_arguments(cls))
        # Keras configs may carry keys fitorch has no use for (e.g. "is_legacy_optimizer").
        return cls(**{k: v for k, v in config.items() if k in valid})


# The undecorated-by-torch `Optimizer.step` (torch wraps each subclass's `step` in its
# profiling and hook wrapper on first construction; `step_in_fit` compares against this).
_keras_step = Optimizer.__dict__["step"]


def torch_step_wrapper_has_work(optimizer: torch.optim.Optimizer) -> bool:
    """Whether torch's `step` wrapper would do more than cost for `optimizer`: a step hook
    registered on it or globally, or the autograd profiler recording (its range names the
    step in a trace).

    The hook registries are torch's private names (torch 2.13:
    `torch.optim.optimizer._global_optimizer_{pre,post}_hooks` and the optimizer's
    `_optimizer_step_{pre,post}_hooks`; there is no public way to ask whether hooks are
    registered). Where any of them is missing, the answer is True: `step()` then runs."""
    registries = (
        getattr(torch_optimizer, "_global_optimizer_pre_hooks", None),
        getattr(torch_optimizer, "_global_optimizer_post_hooks", None),
        getattr(optimizer, "_optimizer_step_pre_hooks", None),
        getattr(optimizer, "_optimizer_step_post_hooks", None),
    )
    profiler_enabled = getattr(torch.autograd, "_profiler_enabled", None)
    return (
        any(registry is None or len(registry) for registry in registries)
        or profiler_enabled is None
        or profiler_enabled()
    )

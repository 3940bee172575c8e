"""Data-parallel training on torch's own engine: torchrun, `torch.distributed`, DDP.

The same script runs unchanged under `torchrun --nproc_per_node=N train.py`. Every rank runs
the whole script: `fit`, `evaluate`, `predict` and `*_on_batch` issue collectives, so all ranks
must call them together (calling `evaluate` on rank 0 alone, e.g. inside an
`if is_main_process():` block, waits forever).

- **Process group.** `fit`/`evaluate`/`predict` call `setup()`, which reads the torchrun
  environment (`WORLD_SIZE`, `RANK`, `LOCAL_RANK`, `MASTER_ADDR`...) and, when WORLD_SIZE > 1,
  initialises the default group: NCCL with one GPU per local rank when CUDA is present, gloo
  otherwise. `teardown()` (also run at exit) drops the DDP wrappers, then destroys the group:
  a live wrapper at interpreter exit makes torch abort now and then.
- **Model.** `train_step` runs forward/backward through `ddp_model(model)`, a
  `DistributedDataParallel` wrapper built once per model (it broadcasts rank 0's weights when
  built); the optimizer keeps the model's own parameters, whose gradients DDP averages with
  one bucketed all-reduce per step.
- **Data.** `batch_size` is the GLOBAL batch (Keras distribution strategies). Every source
  yields the same global batches on every rank (arrays: the shuffle order is drawn on rank 0
  and broadcast, `shared_order`); `DataSource.to_device` calls `shard_batch`, which keeps this
  rank's contiguous slice (`shard_bounds`, sizes differing by at most one; a short last batch
  may leave a rank with nothing: it still joins the gradient all-reduce with zero gradients).
  So the union of the ranks' rows in a step is the 1-process batch. Each epoch starts from
  rank 0's torch/NumPy/Python random states (`sync_rng_from_main`), so shuffling DataLoaders
  and Sequences agree; generators must yield the same batches on every rank. A DataLoader
  or Sequence is iterated whole on every rank and each keeps its slice of each batch (simple
  and exact; the loading work is repeated per rank). `evaluate`/`predict` shard the same way:
  every sample counted once, `predict` gathers the whole array in order on every rank.
- **Loss.** With `loss_factor(n, m) = n * W / m` (n local rows, m global rows, W ranks) the
  rank's loss is multiplied before backward, so DDP's mean of gradients equals the gradient of
  the 1-process `sum_over_batch_size` loss: (1/W) sum_r (n_r W / m) grad mean_r = grad mean.
- **Metrics.** `sync_metric_states(metrics)` swaps in the all-ranks states for a read with ONE
  collective (an all-gather of one float64 buffer holding every declared state; each rank then
  reduces sum/max/min itself), and restores the local states after, so nothing double counts.
  The trainer syncs at epoch end and for every evaluate/on_batch result; values passed to
  batch-level hooks are this rank's running values (the progress bar reads them on rank 0 at
  its own pace, which other ranks cannot mirror without a hang).
- **Files and output.** `is_main_process()` (rank 0) gates every callback file write
  (`fitorch.callbacks.files`), `Model.save`/`save_weights` and the progress bar. Every rank
  holds the same History, so EarlyStopping/ReduceLROnPlateau decide alike.
- **Restarts.** Under `torchrun --max-restarts=K`, BackupAndRestore resumes the restarted
  group; the group is then initialised in a fresh store namespace (`_restart_store`).
- **Overridden steps.** A `train_step` the user wrote calls the model directly, not the
  DDP wrapper; `averaged_gradients(model)` (fit holds it around such a run) broadcasts rank
  0's weights once and averages each parameter's gradient over the ranks as backward
  accumulates it (`register_post_accumulate_grad_hook`), before any optimizer reads it. That
  is DDP's mean (exact when every rank's shard has the same size: a global batch size that
  divides the data), one all-reduce per parameter and backward.
- **FSDP.** `fit(..., distribute='fsdp')` shards parameters with torch's FSDP2 `fully_shard`
  instead of DDP (`shard_model`; limits in its docstring).
- Per step, fitorch issues no collective of its own: only DDP's bucketed gradient
  all-reduce. Per epoch: one RNG broadcast, one shuffle-order broadcast, one metric sync.
- Dropout masks are drawn per rank, so a model with dropout is not bit-equal to 1 process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import weakref

import numpy as np
import torch
import torch.distributed as dist

from fitorch.callbacks import files as _files

__all__ = [
    "Shard",
    "all_gather_rows",
    "check_global_batch",
    "collective_count",
    "ddp_model",
    "gather_predictions",
    "is_active",
    "is_main_process",
    "is_sharded",
    "local_rank",
    "loss_factor",
    "rank",
    "setup",
    "shard_batch",
    "shard_model",
    "shard_bounds",
    "shared_order",
    "sync_metric_states",
    "sync_rng_from_main",
    "teardown",
    "world_size",
]

_WRAPPERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> DDP
_FSDP: weakref.WeakSet = weakref.WeakSet()  # models sharded with fully_shard
_COUNT = {"collectives": 0}  # fitorch's own collectives (metric syncs, orders, gathers)
_teardown_registered = False


# -- who am I -----------------------------------------------------------------------------------
def is_active() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def world_size() -> int:
    """Number of processes (the group's, else torchrun's WORLD_SIZE, else 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's global rank (the group's, else torchrun's RANK, else 0)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """Rank on this machine (torchrun's LOCAL_RANK), which picks the GPU."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the one that prints and writes files."""
    return rank() == 0


_files.set_main_process_fn(is_main_process)


def collective_count() -> int:
    """How many collectives fitorch itself has issued (DDP's gradient all-reduces excluded)."""
    return _COUNT["collectives"]


# -- process group ------------------------------------------------------------------------------
def setup(backend: str | None = None) -> bool:
    """Initialise the default process group from the torchrun environment if WORLD_SIZE > 1.

    Backend: NCCL when CUDA is available (and `torch.cuda.set_device(LOCAL_RANK)`), else gloo.
    Does nothing in a single process or when the user already initialised a group. Returns
    whether data-parallel mode is on.
    """
    global _teardown_registered
    if not dist.is_available():
        return False
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if backend is None:
            backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank())
        dist.init_process_group(backend=backend, **_restart_store())
        if not _teardown_registered:
            atexit.register(teardown)
            _teardown_registered = True
    return is_active()


def _restart_store() -> dict:
    """After a torchrun restart (`--max-restarts`), a fresh key namespace in the store.

    The store outlives the workers; in its default namespace a restarted rank can read the
    gloo address a killed rank published in the previous round, and fail to connect
    ("connectFullMesh ... Connection refused"). The first round uses the default (env://).
    """
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))
    if restart == 0 or "MASTER_ADDR" not in os.environ:
        return {}
    n, r = int(os.environ["WORLD_SIZE"]), int(os.environ["RANK"])
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        n,
        is_master=not agent_store and r == 0,
    )
    return {"store": dist.PrefixStore(f"fitorch/restart{restart}", store), "rank": r,
            "world_size": n}  # fmt: skip


def teardown() -> None:
    """Drop the DDP wrappers, then destroy the process group (safe to call twice)."""
    _WRAPPERS.clear()
    _FSDP.clear()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def device() -> torch.device:
    """The device a rank trains on: its local GPU under NCCL, else the CPU."""
    if torch.cuda.is_available() and (not dist.is_initialized() or dist.get_backend() == "nccl"):
        return torch.device("cuda", local_rank() % torch.cuda.device_count())
    return torch.device("cpu")


def shard_model(model, state) -> None:
    """`fit(..., distribute='fsdp')`: shard the model's parameters over the ranks (FSDP2).

    Each sub-layer holding parameters, then the model, goes through torch's `fully_shard`
    (parameters become DTensors sharded on dim 0; the forward all-gathers them layer by layer
    and the backward reduce-scatters the mean gradient). The optimizer is rebuilt from its
    config on the sharded parameters, so this must happen before the model's first training
    step. Calling the model, `evaluate`, `predict` and `get_weights` (which gathers full
    values) work as before, on every rank together. Not supported with FSDP: callbacks that
    read weights on rank 0 alone (ModelCheckpoint, BackupAndRestore, model.save), which would
    wait forever for the other ranks' shards. torch's `fully_shard` keeps the process group
    alive after `teardown` destroys it (torch 2.13), until the interpreter exits; on gloo its
    threads then meet interpreter finalization, which has aborted a rank at exit (once, in CI).
    """
    if not is_active() or model in _FSDP:
        return
    from torch.distributed.fsdp import fully_shard

    from fitorch import optimizers

    if state.built:
        raise ValueError(
            "distribute='fsdp' must be given from the model's first fit: this model has already "
            "trained unsharded (its optimizer state would not carry over)."
        )
    if not any(True for _ in model.parameters()):
        raise ValueError("distribute='fsdp' needs a built model (give the Input shape).")
    regularized = [weight.path for weight, _ in model.regularized_weights()]
    if regularized:  # a penalty on a sharded weight would need its own gradient reduction
        raise NotImplementedError(
            f"distribute='fsdp' does not support weight regularizers yet; found on {regularized}."
        )
    for module in getattr(model, "layers", None) or list(model.children()):
        if any(True for _ in module.parameters()):
            fully_shard(module)
    fully_shard(model)
    _FSDP.add(model)
    opt = state.optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if isinstance(opt, optimizers.Optimizer):
        state.optimizer = optimizers.bind(type(opt).from_config(opt.get_config()), params)
    else:
        state.optimizer = type(opt)(params, **opt.defaults)


def is_sharded(model) -> bool:
    """Whether `fit(..., distribute='fsdp')` sharded this model."""
    return model in _FSDP


def ddp_model(model, example_input=None):
    """The model's DDP wrapper (built on first use; None outside data-parallel mode).

    A lazily built model (no parameters yet) is built first by calling it on
    `example_input` without gradients. DDP broadcasts rank 0's parameters and buffers when it
    is built, so every rank starts from the same weights.
    """
    if not is_active():
        return None
    if model in _FSDP:  # FSDP2 hooks live on the model itself: it is its own wrapper
        return model
    wrapper = _WRAPPERS.get(model)
    if wrapper is None:
        if not any(True for _ in model.parameters()) and example_input is not None:
            with torch.no_grad():
                model(example_input)
        if not any(p.requires_grad for p in model.parameters()):
            return None
        from torch.nn.parallel import DistributedDataParallel

        dev = next(model.parameters()).device
        ids = [dev.index] if dev.type == "cuda" else None
        wrapper = DistributedDataParallel(model, device_ids=ids)
        _WRAPPERS[model] = wrapper
    return wrapper


@contextlib.contextmanager
def averaged_gradients(model):
    """While the block runs (data-parallel only), every gradient that backward accumulates
    into a trainable parameter of `model` is replaced by its mean over the ranks; rank 0's
    parameters and buffers are broadcast once first. For overridden `train_step`s."""
    if not is_active():
        yield
        return
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.copy_(_broadcast(tensor))
    n = world_size()

    def average(param: torch.Tensor) -> None:
        dist.all_reduce(param.grad)  # SUM: gloo has no AVG
        param.grad.div_(n)

    handles = [
        p.register_post_accumulate_grad_hook(average) for p in model.parameters() if p.requires_grad
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


# -- data -----------------------------------------------------------------------------------------
class Shard(tuple):
    """A rank's `(x, y, sample_weight)` slice of a global batch of `global_size` rows."""

    global_size: int

    def __new__(cls, batch, global_size: int):
        self = super().__new__(cls, batch)
        self.global_size = int(global_size)
        return self


def check_global_batch(batch_size, argument: str = "batch_size") -> None:
    """ValueError unless the global `batch_size` divides evenly among the processes."""
    n = world_size()
    if batch_size is not None and n > 1 and int(batch_size) % n:
        raise ValueError(
            f"{argument}={batch_size} is the global batch and must be divisible by the number "
            f"of processes ({n}); use a multiple of {n}, e.g. {int(batch_size) // n * n or n}."
        )


def shard_bounds(m: int, n: int | None = None, r: int | None = None) -> tuple[int, int]:
    """Rows [lo, hi) of a global batch of `m` rows that rank `r` of `n` takes.

    Contiguous, in rank order, sizes `m // n` or `m // n + 1` (the first `m % n` ranks take
    one more), so a batch of m < n rows leaves the last ranks empty.
    """
    n = world_size() if n is None else n
    r = rank() if r is None else r
    base, extra = divmod(m, n)
    lo = r * base + min(r, extra)
    return lo, lo + base + (1 if r < extra else 0)


def _rows(x) -> int | None:
    if isinstance(x, torch.Tensor):
        return int(x.shape[0])
    if isinstance(x, dict):
        x = list(x.values())
    if isinstance(x, (list, tuple)):
        for v in x:
            n = _rows(v)
            if n is not None:
                return n
    return None


def _slice(x, lo: int, hi: int):
    if isinstance(x, torch.Tensor):
        return x[lo:hi]
    if isinstance(x, dict):
        return {k: _slice(v, lo, hi) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_slice(v, lo, hi) for v in x)
    return x


def shard_batch(batch):
    """`(batch, None)` in one process; else `(this rank's rows, global row count)`."""
    if not is_active():
        return batch, None
    m = _rows(batch[0])
    if m is None:
        return batch, None
    lo, hi = shard_bounds(m)
    return tuple(_slice(part, lo, hi) for part in batch), m


def loss_factor(local_rows: int, global_rows: int) -> float:
    """`n * W / m`: scales a rank's mean loss so DDP's gradient mean equals the global one."""
    return local_rows * world_size() / global_rows


def _broadcast(tensor: torch.Tensor) -> torch.Tensor:
    """Rank 0's `tensor` on every rank (through the backend's device for NCCL)."""
    dev = device()
    buf = tensor.to(dev)
    dist.broadcast(buf, src=0)
    _COUNT["collectives"] += 1
    return buf.to(tensor.device)


def shared_order(order: torch.Tensor | None) -> torch.Tensor | None:
    """Rank 0's shuffle order on every rank (a no-op in one process or for None).

    Only rank 0's draw counts, so rank 0 consumes the random stream exactly as a
    single-process run would, and the ranks cannot drift apart even if they consume random
    numbers differently (dropout over shards of different sizes).
    """
    if order is None or not is_active():
        return order
    return _broadcast(order)


def sync_rng_from_main() -> None:
    """Copy rank 0's torch CPU, NumPy (global) and Python `random` states to every rank.

    One broadcast of one int64 buffer: torch's state bytes, NumPy's MT19937 key and position,
    Python's MT state. DataLoader shuffles (torch) and `Sequence.on_epoch_end` shuffles
    (usually NumPy) then agree across ranks, and rank 0's streams are untouched.
    """
    if not is_active():
        return
    torch_state = torch.get_rng_state()
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    parts = [
        torch_state.to(torch.int64),
        torch.from_numpy(key.astype(np.int64)),
        torch.tensor([pos, has_gauss], dtype=torch.int64),
        torch.tensor([gauss], dtype=torch.float64).view(torch.int64),
        torch.tensor(py_state, dtype=torch.int64),
    ]
    sizes = [len(p) for p in parts]
    flat = _broadcast(torch.cat(parts)).cpu()
    t, k, pg, g, py = torch.split(flat, sizes)
    torch.set_rng_state(t.to(torch.uint8))
    gauss = float(g.view(torch.float64)[0])
    np.random.set_state((kind, k.numpy().astype(np.uint32), int(pg[0]), int(pg[1]), gauss))
    random.setstate((py_version, tuple(int(v) for v in py.tolist()), py_gauss))


# -- metrics --------------------------------------------------------------------------------------
_REDUCE = {
    "sum": lambda t: t.sum(0),
    "max": lambda t: t.amax(0),
    "min": lambda t: t.amin(0),
}


@contextlib.contextmanager
def sync_metric_states(metrics):
    """Within the block, `metrics` hold the states reduced over all ranks; after, their own.

    ONE collective per read: every non-"cat" state of every metric is flattened into one
    float64 buffer (exact for integer counts below 2**53), all-gathered (W x buffer), and each
    rank reduces the W rows by the state's declared reduction (`sum`, `max`, `min`). The
    synced values are fresh tensors swapped in with `set_state`; the local running states are
    put back on exit, so reading twice never double counts. "cat" states (rare) take one extra
    all-gather each. Every rank must hold the same metrics with the same state shapes (true
    once each has seen a batch). Outside data-parallel mode it does nothing.
    """
    metrics = list(metrics)
    if not is_active() or not metrics:
        yield metrics
        return
    saved = [dict(m.states()) for m in metrics]
    entries, cats = [], []
    for metric, states in zip(metrics, saved):
        reductions = metric.state_reductions()
        for name, value in states.items():
            kind = reductions.get(name, "sum")
            (cats if kind == "cat" else entries).append((metric, name, value, kind))
    try:
        if entries:
            dev = device()
            flat = torch.cat([e[2].detach().reshape(-1).to(dev, torch.float64) for e in entries])
            gathered = torch.stack(_all_gather(flat))  # (W, buffer)
            offset = 0
            for metric, name, value, kind in entries:
                k = value.numel()
                rows = gathered[:, offset : offset + k]
                offset += k
                reduced = _REDUCE[kind](rows).reshape(value.shape)
                metric.set_state(name, reduced.to(value.device, value.dtype))
        for metric, name, value, _ in cats:
            metric.set_state(name, torch.cat(all_gather_rows(value)))
        yield metrics
    finally:
        for metric, states in zip(metrics, saved):
            for name, value in states.items():
                metric.set_state(name, value)


# -- gathering rows ----------------------------------------------------------------------------
def all_gather_rows(value: torch.Tensor, counts: list[int] | None = None) -> list[torch.Tensor]:
    """Every rank's `value` (rows may differ in number), in rank order.

    With `counts` (rows per rank, known to every rank) one all-gather of padded tensors;
    without, one more small all-gather exchanges the counts first.
    """
    dev = device()
    if counts is None:
        mine = torch.tensor([value.shape[0]], dtype=torch.int64, device=dev)
        counts = torch.cat(_all_gather(mine)).tolist()
    width = max(counts)
    padded = torch.zeros((width, *value.shape[1:]), dtype=value.dtype, device=dev)
    padded[: value.shape[0]] = value.to(dev)
    parts = _all_gather(padded)
    return [part[:c].to(value.device) for part, c in zip(parts, counts)]


def _all_gather(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every rank's `tensor` (same shape everywhere), in rank order: one collective."""
    parts = [torch.empty_like(tensor) for _ in range(world_size())]
    dist.all_gather(parts, tensor.contiguous())
    _COUNT["collectives"] += 1
    return parts


def gather_predictions(local: torch.Tensor, global_sizes: list[int]) -> torch.Tensor:
    """The whole prediction array, in the original row order, on every rank.

    `local` holds this rank's rows of each global batch, batch after batch; `global_sizes`
    the rows of each global batch. Both are the same on every rank, so each rank knows where
    every other rank's rows go: one all-gather, then one scatter by index.
    """
    n = world_size()
    index = [[] for _ in range(n)]
    offset = 0
    for m in global_sizes:
        for r in range(n):
            lo, hi = shard_bounds(m, n, r)
            index[r].append(torch.arange(offset + lo, offset + hi))
        offset += m
    index = [torch.cat(ix) if ix else torch.empty(0, dtype=torch.int64) for ix in index]
    parts = all_gather_rows(local, [len(ix) for ix in index])
    out = torch.empty((offset, *local.shape[1:]), dtype=local.dtype, device=local.device)
    for ix, part in zip(index, parts):
        out[ix.to(out.device)] = part
    return out

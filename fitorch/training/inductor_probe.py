"""Inductor's choice of the C++ SIMD level, made in a background thread before it is needed.

Inductor picks the vector ISA of its CPU kernels once per process
(`torch._inductor.cpu_vec_isa.pick_vec_isa`, cached). `cpp.vec_isa_ok=True`
(`jit.compile_options`) skips its base check, but on an AVX-512 CPU it still builds a test
library with g++ and loads it in a child process for each extension the CPU reports
(avx512_bf16 once per candidate ISA, VNNI, AMX: six builds) - in the middle of code
generation, on the first compile's critical path: about 7 s of the small model's cold
compile measured here (2 cores, load 6), 1.1 s with a warm cache (the six load probes;
bench/README.md, "Compile warm-up"). Started when a model's first compiled step is made,
the checks run while dynamo traces the step and AOT autograd builds its graphs (the thread
mostly waits on child processes, holding the GIL little); code generation then finds the
cached answer, or waits on the same file locks. The answer is the one the compile itself
would get: the same functions with the same inductor options (inductor's config is per
thread, so the options are set in the probing thread).

This module uses private torch APIs (`torch._inductor.cpu_vec_isa`, `torch._inductor.config`);
where they are missing (another torch version) nothing is started and inductor checks when
it compiles, as before.
"""

from __future__ import annotations

import contextlib
import threading

import torch

__all__ = ["simd_probe", "start_simd_probe"]

_STARTED = threading.Event()


def start_simd_probe(model, options: dict | None) -> None:
    """Start `simd_probe(options)` once per process, for the inductor `options` given to
    `torch.compile` (None: another backend, nothing to probe) and a model whose parameters
    are on the CPU (on another device its kernels are not C++)."""
    if options is None or _STARTED.is_set() or not _on_cpu(model):
        return
    thread = simd_probe(options)
    if thread is not None:
        _STARTED.set()
        thread.start()


def simd_probe(options: dict) -> threading.Thread | None:
    """A daemon thread (not started) that makes inductor pick its SIMD level under `options`;
    None where this torch lacks the private API."""
    try:
        from torch._inductor import config, cpu_vec_isa
    except ImportError:
        return None

    def probe() -> None:
        # A failed check is not this thread's to report: the compile checks again itself.
        with contextlib.suppress(Exception), config.patch(options):
            cpu_vec_isa.pick_vec_isa()

    return threading.Thread(target=probe, name="fitorch-inductor-simd-probe", daemon=True)


def _on_cpu(model) -> bool:
    first = next(iter(model.parameters()), None) if isinstance(model, torch.nn.Module) else None
    return first is None or first.device.type == "cpu"

"""GFLOP/s of the MLP workload's matrix multiplies (784-512-512-10, 128 and 1024 rows) on
this CPU, through each path PyTorch offers: MKL as the raw loop calls it (F.linear, weight
(out, in)) and as fitorch's Dense calls it (addmm, kernel (in, out)), MKL with a prepacked
weight (mkl._mkl_linear, what inductor's freezing emits for float32), oneDNN with a
prepacked weight (mkldnn._linear_pointwise), inductor's C++ GEMM template (max-autotune,
backends CPP), and the thread count.

    PYTHONPATH=. python3 bench/bench_gemm.py [--rounds 7] [--rows 128,1024] [--no-inductor]
    PYTHONPATH=. python3 bench/bench_gemm.py --mkl-env   # MKL env knobs, one process each
    PYTHONPATH=. python3 bench/bench_gemm.py --steps     # whole steps, compile options
    PYTHONPATH=. python3 bench/bench_gemm.py --narrow    # Dense's narrow-kernel layouts
    (--clock cpu: one thread timed by its CPU time, for a loaded machine)

Every contender runs the same shapes; the rounds interleave the contenders (A B C A B C ...)
and the table gives the median over rounds of the time per call, as GFLOP/s (2*m*k*n flops
per product) and as a ratio to the raw loop's MKL call. Each contender's result is checked
against the float64 product before timing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

LAYERS = [(784, 512), (512, 512), (512, 10)]
CALL_SECONDS = 0.05  # each round times a block of calls lasting about this long
CLOCK = {"now": time.perf_counter}  # --clock cpu: time.thread_time, with one thread


def _timed(fn, calls: int) -> float:
    """Seconds per call of `fn` over a block of `calls` calls."""
    now = CLOCK["now"]
    start = now()
    for _ in range(calls):
        fn()
    return (now() - start) / calls


def _calls_for(fn) -> int:
    """How many calls make a block of about CALL_SECONDS (after a warm-up call)."""
    fn()
    return max(3, int(CALL_SECONDS / max(_timed(fn, 3), 1e-7)))


def interleaved(contenders: dict, rounds: int) -> dict:
    """Median seconds per call of each contender, the rounds interleaving contenders."""
    calls = {name: _calls_for(fn) for name, fn in contenders.items()}
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            times[name].append(_timed(fn, calls[name]))
    return {name: statistics.median(t) for name, t in times.items()}


def _check(name: str, got: torch.Tensor, want: torch.Tensor) -> None:
    """Each path must give the float64 product within float32 GEMM tolerance."""
    got = got.to_dense() if got.is_mkldnn else got
    err = (got.double() - want).abs().max().item()
    scale = want.abs().max().item()
    if err > 1e-4 * max(scale, 1.0):
        raise AssertionError(f"{name}: max error {err:.3g} against float64 (scale {scale:.3g})")


# ------------------------------------------------------------------------------ forward
def forward_contenders(m: int, k: int, n: int, inductor: bool) -> tuple[dict, dict]:
    """Contenders computing x @ kernel + bias for x (m, k): {name: fn}, {name: compile s}."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(m, k, generator=g)
    kernel = torch.randn(k, n, generator=g) / k**0.5  # fitorch's Dense layout (in, out)
    weight = kernel.t().contiguous()  # nn.Linear's layout (out, in)
    bias = torch.randn(n, generator=g)
    want = x.double() @ kernel.double() + bias.double()
    packed = torch.ops.mkldnn._reorder_linear_weight(weight, m)
    mkl_packed = torch.ops.mkl._mkl_reorder_linear_weight(weight, m)
    fns = {
        "raw loop: F.linear, W (out,in)": lambda: F.linear(x, weight, bias),
        "fitorch Dense: addmm, K (in,out)": lambda: torch.addmm(bias, x, kernel),
        "MKL prepacked (_mkl_linear)": lambda: torch.ops.mkl._mkl_linear(
            x, mkl_packed, weight, bias, m
        ),
        "oneDNN prepacked (_linear_pointwise)": lambda: torch.ops.mkldnn._linear_pointwise(
            x, packed, bias, "none", [], ""
        ),
        "oneDNN plain W (_linear_pointwise)": lambda: torch.ops.mkldnn._linear_pointwise(
            x, weight, bias, "none", [], ""
        ),
        "oneDNN plain K.T (_linear_pointwise)": lambda: torch.ops.mkldnn._linear_pointwise(
            x, kernel.t(), bias, "none", [], ""
        ),
    }
    compile_s = {}
    if inductor:
        fn, seconds = _inductor_addmm(bias, x, kernel)
        fns["inductor max-autotune CPP template"] = fn
        compile_s["inductor max-autotune CPP template"] = seconds
    with torch.no_grad():
        for name, fn in fns.items():
            _check(name, fn(), want)
    return fns, compile_s


def _inductor_addmm(bias, x, kernel):
    """addmm compiled by inductor with max-autotune choosing among CPP GEMM templates and
    ATen; returns (call, compile seconds)."""
    torch._dynamo.reset()
    options = {"max_autotune": True, "max_autotune_gemm_backends": "CPP,ATEN"}
    compiled = torch.compile(lambda b, a, w: torch.addmm(b, a, w), options=options)
    start = time.perf_counter()
    with torch.no_grad():
        compiled(bias, x, kernel)
    seconds = time.perf_counter() - start

    def call():
        with torch.no_grad():
            return compiled(bias, x, kernel)

    return call, seconds


# ----------------------------------------------------------------------------- backward
def backward_contenders(m: int, k: int, n: int) -> dict:
    """The two backward products of a (m, k) x (k, n) layer in each layout: grad_input
    (m, n) @ (n, k) and grad_weight, as the autograd formulas of addmm call mm."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(m, k, generator=g)
    dy = torch.randn(m, n, generator=g)
    kernel = torch.randn(k, n, generator=g)
    weight = kernel.t().contiguous()
    want_dx = dy.double() @ kernel.double().t()
    want_dw = x.double().t() @ dy.double()
    fns = {
        "dX raw: dY @ W": (lambda: torch.mm(dy, weight), want_dx),
        "dX fitorch: dY @ K.T": (lambda: torch.mm(dy, kernel.t()), want_dx),
        "dX oneDNN: linear(dY, K)": (
            lambda: torch.ops.mkldnn._linear_pointwise(dy, kernel, None, "none", [], ""),
            want_dx,
        ),
        "dW raw: dY.T @ X": (lambda: torch.mm(dy.t(), x), want_dw.t()),
        "dW fitorch: X.T @ dY": (lambda: torch.mm(x.t(), dy), want_dw),
    }
    for name, (fn, want) in fns.items():
        _check(name, fn(), want)
    return {name: fn for name, (fn, _) in fns.items()}


# -------------------------------------------------------------------------------- report
def _rows(m: int, k: int, n: int, medians: dict, baseline: str, extra: dict) -> list[str]:
    flops = 2.0 * m * k * n
    base = medians[baseline]
    out = []
    for name, sec in medians.items():
        note = f" (compile {extra[name]:.1f} s)" if name in extra else ""
        out.append(
            f"| {m}x{k} @ {k}x{n} | {name}{note} | {sec * 1e6:.1f} | "
            f"{flops / sec / 1e9:.1f} | {sec / base:.2f}x |"
        )
    return out


def run_tables(rows: list[int], rounds: int, inductor: bool) -> str:
    """The forward and backward tables for the given batch sizes."""
    lines = ["| product | path | us/call | GFLOP/s | time vs first row |", "|---|---|---|---|---|"]
    for m in rows:
        for k, n in LAYERS:
            fns, compile_s = forward_contenders(m, k, n, inductor)
            with torch.no_grad():
                med = interleaved(fns, rounds)
            lines += _rows(m, k, n, med, next(iter(fns)), compile_s)
        for k, n in LAYERS:
            fns = backward_contenders(m, k, n)
            med = interleaved(fns, rounds)
            dx = {key: v for key, v in med.items() if key.startswith("dX")}
            dw = {key: v for key, v in med.items() if key.startswith("dW")}
            lines += _rows(m, n, k, dx, next(iter(dx)), {})
            lines += _rows(k, m, n, dw, next(iter(dw)), {})
    return "\n".join(lines)


def thread_table(rounds: int) -> str:
    """The raw loop's forward at 1 and 2 threads (the machine has 2 cores)."""
    lines = ["| product | threads | us/call | GFLOP/s |", "|---|---|---|---|"]
    before = torch.get_num_threads()
    for m in (128, 1024):
        for k, n in LAYERS:
            fns, _ = forward_contenders(m, k, n, inductor=False)
            fn = fns["raw loop: F.linear, W (out,in)"]
            per = {}
            for _ in range(rounds):
                for threads in (1, 2):
                    torch.set_num_threads(threads)
                    per.setdefault(threads, []).append(_timed(fn, _calls_for(fn)))
            for threads, t in per.items():
                sec = statistics.median(t)
                lines.append(
                    f"| {m}x{k} @ {k}x{n} | {threads} | {sec * 1e6:.1f} | "
                    f"{2.0 * m * k * n / sec / 1e9:.1f} |"
                )
    torch.set_num_threads(before)
    return "\n".join(lines)


# ------------------------------------------------------------------------------ MKL env
MKL_ENVS = [{}, {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"}, {"MKL_DEBUG_CPU_TYPE": "5"},
            {"MKL_CBWR": "AVX2"}]  # fmt: skip


def _forward_seconds_line(rounds: int) -> str:
    """One line: the raw loop's forward seconds per call for each shape (child process)."""
    out = []
    for m in (128, 1024):
        for k, n in LAYERS:
            fns, _ = forward_contenders(m, k, n, inductor=False)
            with torch.no_grad():
                out.append(interleaved({"raw": fns["raw loop: F.linear, W (out,in)"]}, rounds))
    return " ".join(f"{d['raw']:.9f}" for d in out)


def mkl_env_table(rounds: int) -> str:
    """The raw loop's forward under each MKL env setting, one child process per setting,
    the settings interleaved over rounds."""
    per = {i: [] for i in range(len(MKL_ENVS))}
    for _ in range(rounds):
        for i, extra in enumerate(MKL_ENVS):
            env = {**os.environ, **extra}
            clock = "cpu" if CLOCK["now"] is time.thread_time else "wall"
            cmd = [sys.executable, __file__, "--child-forward", "--rounds", "3", "--clock", clock]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            per[i].append([float(v) for v in out.stdout.split()])
    shapes = [f"{m}x{k}@{k}x{n}" for m in (128, 1024) for k, n in LAYERS]
    lines = ["| MKL env | " + " | ".join(shapes) + " |", "|---" * (len(shapes) + 1) + "|"]
    base = [statistics.median(col) for col in zip(*per[0])]
    for i, extra in enumerate(MKL_ENVS):
        med = [statistics.median(col) for col in zip(*per[i])]
        label = " ".join(f"{k}={v}" for k, v in extra.items()) or "(none)"
        cells = [f"{s * 1e6:.0f} us ({s / b:.2f}x)" for s, b in zip(med, base)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------------- whole steps
def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512),
        torch.nn.ReLU(), torch.nn.Linear(512, 10),
    )  # fmt: skip


def _train_step(options: dict | None):
    """A raw MLP training step (forward, cross-entropy, backward, Adam) at batch 128,
    compiled with inductor and `options` (None: eager); returns (step, compile seconds)."""
    net = _mlp()
    opt = torch.optim.Adam(net.parameters(), 1e-3, foreach=True)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(128, 784, generator=g), torch.randint(0, 10, (128,), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    if options is None:
        return step, 0.0
    torch._dynamo.reset()
    compiled = torch.compile(step, options=options)
    start = time.perf_counter()
    compiled()
    compiled()
    return compiled, time.perf_counter() - start


def _predict_step(options: dict | str | None):
    """The MLP's forward at batch 1024 under no_grad, compiled with `options` (None: eager
    under inference_mode); returns (call, compile seconds)."""
    net = _mlp().eval()
    x = torch.randn(1024, 784, generator=torch.Generator().manual_seed(3))
    if options is None:

        def eager():
            with torch.inference_mode():
                return net(x)

        return eager, 0.0
    if options == "onednn":
        return _onednn_forward(net, x), 0.0
    torch._dynamo.reset()
    compiled = torch.compile(net, options=options)
    start = time.perf_counter()
    with torch.no_grad():
        compiled(x)

    def call():
        with torch.no_grad():
            return compiled(x)

    return call, time.perf_counter() - start


def _onednn_forward(net: torch.nn.Module, x: torch.Tensor):
    """The MLP's forward through oneDNN linears with the ReLU fused as a post-op (eager,
    weights as they are: oneDNN reorders them per call), checked against the MKL forward."""
    layers = [m for m in net if isinstance(m, torch.nn.Linear)]
    posts = ["relu", "relu", "none"]

    def call():
        with torch.inference_mode():
            out = x
            for layer, post in zip(layers, posts):
                out = torch.ops.mkldnn._linear_pointwise(
                    out, layer.weight, layer.bias, post, [], ""
                )
            return out

    with torch.inference_mode():
        _check("oneDNN forward", call(), net.double()(x.double()))
        net.float()
    return call


STEP_OPTIONS = {
    "eager": None,
    "inductor default": {},
    "inductor max-autotune (CPP,ATEN)": {"max_autotune": True,
                                         "max_autotune_gemm_backends": "CPP,ATEN"},
}  # fmt: skip
PREDICT_OPTIONS = {**STEP_OPTIONS, "inductor freezing": {"freezing": True},
                   "eager oneDNN linears, fused relu": "onednn"}  # fmt: skip


def steps_table(rounds: int) -> str:
    """Whole steps: the compiled training step and the compiled inference forward under
    each option set, interleaved, with their compile time."""
    lines = ["| step | path | ms/step | vs eager | compile (s) |", "|---|---|---|---|---|"]
    cases = [("train, batch 128", _train_step, STEP_OPTIONS),
             ("predict, batch 1024", _predict_step, PREDICT_OPTIONS)]  # fmt: skip
    for label, make, options in cases:
        built = {name: make(opt) for name, opt in options.items()}
        med = interleaved({name: fn for name, (fn, _) in built.items()}, rounds)
        for name, sec in med.items():
            lines.append(
                f"| {label} | {name} | {sec * 1e3:.2f} | {sec / med['eager']:.2f}x | "
                f"{built[name][1]:.1f} |"
            )
    return "\n".join(lines)


# ------------------------------------------------------------------------ narrow kernels
def _narrow_step(m: int, units: int, linear_layout: bool, compiled: bool):
    """Forward and backward of a Dense-like layer (512 -> units) at m rows: addmm on the
    (in, units) kernel, or F.linear on its (units, in) copy (what Dense does for 2..11
    units); optionally compiled by inductor."""
    g = torch.Generator().manual_seed(4)
    kernel = torch.randn(512, units, generator=g).requires_grad_()
    bias = torch.zeros(units, requires_grad=True)
    x = torch.randn(m, 512, generator=g)

    def step():
        if linear_layout:
            out = F.linear(x, kernel.t().contiguous(), bias)
        else:
            out = torch.addmm(bias, x, kernel)
        out.sum().backward()
        kernel.grad = bias.grad = None

    if not compiled:
        return step
    torch._dynamo.reset()
    fn = torch.compile(step)
    fn()
    return fn


def narrow_table(rounds: int) -> str:
    """Dense's two layouts for narrow kernels, eager and compiled, interleaved."""
    lines = ["| rows | units | mode | addmm (in, units) us | F.linear (units, in) us | ratio |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for m in (128, 1024):
        for units in (1, 2, 10, 12, 64):
            for compiled in (False, True):
                fns = {lay: _narrow_step(m, units, lay, compiled) for lay in (False, True)}
                med = interleaved(fns, rounds)
                lines.append(
                    f"| {m} | {units} | {'inductor' if compiled else 'eager'} | "
                    f"{med[False] * 1e6:.0f} | {med[True] * 1e6:.0f} | "
                    f"{med[True] / med[False]:.2f}x |"
                )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rows", default="128,1024")
    parser.add_argument("--no-inductor", action="store_true")
    parser.add_argument("--threads", action="store_true", help="the 1- vs 2-thread table")
    parser.add_argument("--mkl-env", action="store_true", help="the MKL env knob table")
    parser.add_argument("--steps", action="store_true", help="whole compiled steps table")
    parser.add_argument("--narrow", action="store_true", help="Dense's narrow-kernel layouts")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: 1 thread, timed by CPU time (robust under load)")  # fmt: skip
    parser.add_argument("--child-forward", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.clock == "cpu":
        torch.set_num_threads(1)
        CLOCK["now"] = time.thread_time
    if args.child_forward:
        print(_forward_seconds_line(args.rounds))
        return
    cap = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"cpu capability {cap}, load {os.getloadavg()}")  # fmt: skip
    if args.mkl_env:
        print(mkl_env_table(args.rounds))
        return
    if args.narrow:
        print(narrow_table(args.rounds))
        return
    if args.steps:
        print(steps_table(args.rounds))
        return
    if args.threads:
        print(thread_table(args.rounds))
        return
    rows = [int(r) for r in args.rows.split(",")]
    print(run_tables(rows, args.rounds, not args.no_inductor))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

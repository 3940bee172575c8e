"""The compiled optimizer update computes its per-step scalars once, not per element.

`Optimizer.update` traced by inductor (as the compiled training step traces it) must read
the bias corrections and step sizes from a small buffer computed before the parameter loops
(`steps.computed_once`): inlined, they are recomputed (`std::pow` in float64) for every
vector of elements of every parameter. The generated C++ is inspected: each scalar `pow`
of the rule appears once, however many parameter tensors there are, and the compiled
update gives the eager numbers. Inductor compiles C++ here (one module, ~10-30 s on a 2-core CPU).
"""

import torch
from torch._inductor.utils import run_and_get_code

from fitorch import optimizers
from fitorch.optimizers import schedules

# Two parameter tensors per optimizer: an inlined scalar shows up once per tensor loop.
SHAPES = [(16, 8), (8,)]

# Optimizers whose rules have per-step scalars, and the scalar pows (and cos) of each.
# All are traced into one graph (one C++ build keeps the test short): each optimizer reads
# its own step counter, so inductor cannot merge one optimizer's pows with another's.
CASES = [
    (lambda ps: optimizers.Adam(ps, learning_rate=schedules.CosineDecay(0.1, 10)), 2, 1),
    (lambda ps: optimizers.Nadam(ps, learning_rate=0.01), 3, 0),  # u_t, u_t+1, beta_2^t
    (lambda ps: optimizers.Lamb(ps, learning_rate=0.01), 2, 0),
]


def _optimizers():
    """Each case's optimizer on its own parameters, with fixed gradients."""
    gen = torch.Generator().manual_seed(0)
    out = []
    for make, _, _ in CASES:
        params = [torch.nn.Parameter(torch.randn(s, generator=gen)) for s in SHAPES]
        out.append((make(params), params, [torch.randn(s, generator=gen) for s in SHAPES]))
    return out


def _update_all(opts, plans):
    for (opt, _, grads), plan in zip(opts, plans):
        opt.update(grads, plan)


def test_scalars_computed_once_and_numbers_equal_eager():
    torch._dynamo.reset()
    eager, jit = _optimizers(), _optimizers()
    update = torch.compile(_update_all, backend="inductor", fullgraph=True)
    # One compile thread: no worker pool to start for a single C++ module.
    for step in range(3):
        _update_all(eager, [opt.plan_update(tensor_learning_rates=True) for opt, _, _ in eager])
        plans = [opt.plan_update(tensor_learning_rates=True) for opt, _, _ in jit]
        if step == 0:
            with torch._inductor.config.patch(compile_threads=1):
                _, codes = run_and_get_code(update, jit, plans)
        else:
            update(jit, plans)
    code = "\n".join(codes)
    assert code.count("std::pow") == sum(pows for _, pows, _ in CASES)
    assert code.count("std::cos") == sum(cosines for _, _, cosines in CASES)
    for (opt_e, params_e, _), (opt_j, params_j, _) in zip(eager, jit):
        for a, b in zip(params_j, params_e):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
        assert int(opt_j.iterations) == int(opt_e.iterations) == 3

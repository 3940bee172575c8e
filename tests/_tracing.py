"""Shared by the traceability tests: compile as the compiled step does, and count graphs.

`compile_counted(fn)` returns `fn` compiled with `torch.compile(fullgraph=True,
dynamic=True)` (so any graph break raises) through a backend that counts the graphs it is
handed before passing them to `aot_eager` (AOT autograd, no code generation: quick and
exact). A recompilation shows up as a second graph.
"""

from __future__ import annotations

import torch


class GraphCounter:
    """A `torch.compile` backend: counts the graphs, then compiles them with aot_eager."""

    def __init__(self):
        self.graphs = 0
        self._backend = torch._dynamo.lookup_backend("aot_eager")

    def __call__(self, graph_module, example_inputs):
        self.graphs += 1
        return self._backend(graph_module, example_inputs)


def compile_counted(fn):
    """`(compiled_fn, counter)`, with dynamo's caches cleared so earlier tests do not count."""
    torch._dynamo.reset()
    counter = GraphCounter()
    return torch.compile(fn, fullgraph=True, dynamic=True, backend=counter), counter


def run_compiled_and_eager(fn_compiled, fn_eager, counter, batches):
    """Call both on every batch (tuples of arguments); return the pairs of outputs and the
    number of graphs made after the first call (0 when nothing recompiled)."""
    pairs, first = [], None
    for args in batches:
        pairs.append((fn_compiled(*args), fn_eager(*args)))
        if first is None:
            first = counter.graphs
    return pairs, counter.graphs - first


def fresh_jit_dynamo():
    """Generator for an autouse fixture: dynamo's caches and counters cleared, compiled
    steps on aot_eager during the test, inductor again after it."""
    from torch._dynamo.utils import counters

    from fitorch.training import jit

    torch._dynamo.reset()
    counters.clear()
    jit.set_backend("aot_eager")
    yield
    jit.set_backend("inductor")
    torch._dynamo.reset()

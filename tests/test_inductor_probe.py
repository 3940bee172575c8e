"""training/inductor_probe.py: inductor's SIMD level picked in a background thread is the
one the compile picks itself."""

import torch._inductor.config as inductor_config
from torch._inductor import cpu_vec_isa

from fitorch.training import inductor_probe, jit


def _picked_fresh():
    """The SIMD level inductor picks under jit's options, its process cache cleared."""
    cpu_vec_isa.valid_vec_isa_list.cache_clear()
    with inductor_config.patch(jit.compile_options("inductor")):
        return cpu_vec_isa.pick_vec_isa()


def test_the_probe_thread_caches_the_level_the_compile_would_pick():
    expected = _picked_fresh()
    cpu_vec_isa.valid_vec_isa_list.cache_clear()
    thread = inductor_probe.simd_probe(jit.compile_options("inductor"))
    thread.start()
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert cpu_vec_isa.valid_vec_isa_list.cache_info().currsize == 1  # filled by the thread
    with inductor_config.patch(jit.compile_options("inductor")):
        assert str(cpu_vec_isa.pick_vec_isa()) == str(expected)


def test_the_thread_sets_inductor_options_for_itself_only():
    seen = []
    thread = inductor_probe.simd_probe({"cpp.vec_isa_ok": True})
    original = cpu_vec_isa.pick_vec_isa
    cpu_vec_isa.pick_vec_isa = lambda: seen.append(inductor_config.cpp.vec_isa_ok)
    try:
        thread.start()
        thread.join(timeout=60)
    finally:
        cpu_vec_isa.pick_vec_isa = original
    assert seen == [True]
    assert inductor_config.cpp.vec_isa_ok is None  # this thread's config is untouched

"""The torch.compile options of the compiled step (training/jit.py `compile_options`);
tests/test_jit.py `test_inductor_step_equals_eager` compiles a step with them."""

import torch._inductor.config as inductor_config
from torch._inductor import cpu_vec_isa

from fitorch.training import jit


def test_only_inductor_gets_options():
    assert jit.compile_options("aot_eager") is None
    assert jit.compile_options("inductor") == {"cpp.vec_isa_ok": True, "size_asserts": False}


def test_options_are_inductor_settings():
    # torch.compile hands the options to inductor's config.patch: every key must exist there.
    with inductor_config.patch(jit.compile_options("inductor")):
        assert inductor_config.cpp.vec_isa_ok is True
        assert inductor_config.size_asserts is False
    assert inductor_config.cpp.vec_isa_ok is None
    assert inductor_config.size_asserts is True


def test_unchecked_simd_level_is_the_checked_one():
    # vec_isa_ok=True skips inductor's g++ test build; the SIMD level (and so the generated
    # kernels) must be the one the test build selects on this machine.
    with inductor_config.patch({"cpp.vec_isa_ok": None}):
        checked = cpu_vec_isa.pick_vec_isa()
    with inductor_config.patch(jit.compile_options("inductor")):
        unchecked = cpu_vec_isa.pick_vec_isa()
    assert str(unchecked) == str(checked)
    assert checked.bit_width() == unchecked.bit_width()

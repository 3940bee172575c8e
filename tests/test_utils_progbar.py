"""fitorch.utils.Progbar against Keras 3's keras.utils.Progbar (the oracle): the same updates
print the same values; averages weighted by the step delta, stateful metrics as given."""

import io
import os
import re
from contextlib import redirect_stdout

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fitorch  # noqa: E402
from fitorch.utils import Progbar  # noqa: E402

# (method, step, values, finalize)
SEQUENCES = [
    [
        ("update", 1, [("loss", 1.0), ("acc", 0.5)], None),
        ("update", 3, [("loss", 0.5), ("acc", 0.7)], None),
        ("add", 1, [("loss", 0.25), ("acc", -0.0001)], None),
        ("update", 5, [("loss", 2.0), ("neg", -3.0)], None),
    ],
    [
        ("update", 2, [("loss", 0.3)], None),
        ("update", 4, [("loss", 0.1), ("mae", np.array([0.2, 0.4]))], None),
        ("update", 7, None, None),
    ],
    [
        ("add", 2, [("loss", 0.0001)], None),
        ("add", 2, [("loss", 0.0003)], False),
        ("update", 10, [("tiny", 1e-5)], True),
    ],
]


def _run(module, target, steps, **kwargs):
    out = io.StringIO()
    with redirect_stdout(out):
        bar = module.utils.Progbar(target, **kwargs)
        for method, step, values, finalize in steps:
            if method == "add":
                bar.add(step, values)
            else:
                bar.update(step, values, finalize=finalize)
    return out.getvalue()


def _values_part(line: str) -> str:
    # "5/5 - 0s - 7us/step - loss: ..." -> "5/5 | loss: ..." (times vary between runs).
    count, _elapsed, _per_step, *metrics = line.split(" - ")
    return " | ".join([count, *metrics])


@pytest.mark.parametrize("case", range(len(SEQUENCES)))
def test_verbose_2_prints_keras_values(case):
    target = {0: 5, 1: 7, 2: 10}[case]
    kw = {"verbose": 2, "stateful_metrics": ["acc"]}
    ours = _run(fitorch, target, SEQUENCES[case], **kw)
    theirs = _run(keras, target, SEQUENCES[case], **kw)
    assert ours.count("\n") == theirs.count("\n") == 1  # one line, at the end
    assert _values_part(ours.strip()) == _values_part(theirs.strip())
    assert re.fullmatch(r"\d+/\d+ - \d+s - \d+(us|ms|s)/step( - .*)?\n", ours)


def test_averages_are_weighted_by_the_step_delta():
    bar = Progbar(10, verbose=0, stateful_metrics=["lr"])
    bar.update(1, [("loss", 4.0), ("lr", 0.1)])  # weight 1
    bar.update(4, [("loss", 1.0), ("lr", 0.2)])  # weight 3
    bar.add(2, [("loss", 2.5)])  # weight 2
    bar.update(6, [("loss", 9.0)])  # same step again: weight 1
    assert bar._mean("loss") == pytest.approx((4 * 1 + 1 * 3 + 2.5 * 2 + 9 * 1) / 7)
    assert bar._mean("lr") == pytest.approx(0.2)  # stateful: as given
    assert bar._seen_so_far == 6


def test_final_update_shows_its_values_and_ends_the_line():
    out = io.StringIO()
    with redirect_stdout(out):
        bar = Progbar(4, verbose=2)
        bar.update(2, [("loss", 1.0)])
        bar.update(3, [("loss", 3.0)])
        assert out.getvalue() == ""  # verbose=2 prints only when finalized
        bar.update(4)  # no new values: the running average
    assert out.getvalue().endswith(" - loss: 1.6667\n")
    out = io.StringIO()
    with redirect_stdout(out):
        bar = Progbar(4, verbose=2)
        bar.update(2, [("loss", 1.0)])
        bar.update(4, [("loss", 0.5)])  # final values are shown as given (Keras)
    assert out.getvalue().endswith(" - loss: 0.5000\n")


def test_verbose_1_draws_bar_eta_and_values():
    out = io.StringIO()
    with redirect_stdout(out):
        bar = Progbar(8, width=8, verbose=1, interval=0)
        bar.update(2, [("loss", -1.0)])
        bar.update(8, [("loss", 0.0001)])
    first, last = out.getvalue().replace("\r", "\n").strip("\n").split("\n")[-2:]
    assert first.startswith("2/8 ━━──────")
    assert re.search(r"━━────── \d+s \d+(us|ms|s)/step - loss: -1\.0000$", first.rstrip())
    assert last.startswith("8/8 ━━━━━━━━") and last.endswith(" - loss: 1.0000e-04")
    assert out.getvalue().endswith("\n")


def test_unknown_target_and_silent():
    out = io.StringIO()
    with redirect_stdout(out):
        bar = Progbar(None, verbose=1, interval=0, unit_name="sample")
        bar.update(3, [("loss", 0.5)])
        bar.update(5, finalize=True)
        Progbar(3, verbose=0).update(3, [("loss", 1.0)])
    lines = out.getvalue().replace("\r", "\n").strip("\n").split("\n")
    assert lines[0].startswith("      3/Unknown ") and "/sample - loss: 0.5000" in lines[0]
    assert lines[-1].startswith("      5/Unknown ")


def test_fitorch_keras_alias_has_progbar():
    assert fitorch.utils.Progbar is Progbar

"""optimizers/arguments.py: constructor arguments out of range raise ValueError naming the
argument and the value, before any parameter is bound; in-range edge values are kept."""

import math

import pytest
import torch

from fitorch import optimizers as O

ADAM_FAMILY = [O.Adam, O.AdamW, O.Adamax, O.Nadam, O.Lamb]


@pytest.mark.parametrize("cls", ADAM_FAMILY)
@pytest.mark.parametrize("name", ["beta_1", "beta_2"])
@pytest.mark.parametrize("value", [1.0, 1.5, -0.1, math.nan, "0.9"])
def test_betas_outside_the_half_open_unit_interval(cls, name, value):
    with pytest.raises(
        ValueError, match=rf"`{name}` must be a float in \[0, 1\)\. Received: {name}="
    ):
        cls(**{name: value})


@pytest.mark.parametrize("cls", ADAM_FAMILY)
def test_betas_at_the_closed_end_are_kept(cls):
    opt = cls(beta_1=0.0, beta_2=0.0)
    assert (opt.beta_1, opt.beta_2) == (0.0, 0.0)


@pytest.mark.parametrize("name", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_clipping_thresholds_must_be_finite(name, value):
    with pytest.raises(ValueError, match=rf"`{name}` must be None or a finite float.*{name}="):
        O.SGD(**{name: value})


@pytest.mark.parametrize("name", ["clipnorm", "clipvalue", "global_clipnorm"])
@pytest.mark.parametrize("value", [0, 0.0, -1.0])
def test_non_positive_clipping_threshold_disables_clipping(name, value):
    """Keras 3 accepts a threshold <= 0 (kept in the config) and then clips nothing."""
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = O.SGD(1.0, **{name: value})
    opt.apply_gradients([(torch.tensor([2.0]), w)])
    assert w.item() == pytest.approx(-1.0)
    assert opt.get_config()[name] == value
    with pytest.raises(ValueError, match="Only one of"):
        O.SGD(**{name: value, ("clipvalue" if name != "clipvalue" else "clipnorm"): 1.0})


@pytest.mark.parametrize("value", [-1e-3, math.inf, -math.inf, math.nan])
def test_learning_rate_must_be_finite_and_nonnegative(value):
    with pytest.raises(ValueError, match=r"`learning_rate` must be a finite float >= 0"):
        O.Adam(learning_rate=value)
    opt = O.SGD(0.1)
    with pytest.raises(ValueError, match=r"`learning_rate` must be a finite float >= 0"):
        opt.learning_rate = value
    assert opt.learning_rate == pytest.approx(0.1)


@pytest.mark.parametrize("cls", [O.Adam, O.RMSprop, O.Adagrad, O.Adadelta])
@pytest.mark.parametrize("value", [-1e-7, math.inf, math.nan])
def test_epsilon_must_be_finite_and_nonnegative(cls, value):
    with pytest.raises(ValueError, match=r"`epsilon` must be a finite float >= 0.*epsilon="):
        cls(epsilon=value)


@pytest.mark.parametrize("name", ["weight_decay", "loss_scale_factor", "decay"])
def test_other_nonnegative_arguments_reject_infinity(name):
    with pytest.raises(ValueError, match=rf"`{name}` must be .*finite float >= 0.*{name}=inf"):
        O.SGD(**{name: math.inf})


def test_valid_thresholds_clip_as_given():
    # clipvalue=0.5 on a gradient of 2.0: SGD(lr=1) moves the weight by exactly 0.5.
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = O.SGD(1.0, clipvalue=0.5)
    opt.apply_gradients([(torch.tensor([2.0]), w)])
    assert w.item() == pytest.approx(0.5)
    assert O.SGD(clipnorm=1e-12).clipnorm == 1e-12


def test_zero_accumulation_steps_and_overwrite_frequency_mean_off():
    """Keras 3 reads 0 as "not set" for both (1 and negatives stay errors)."""
    w = torch.nn.Parameter(torch.tensor([1.0]))
    opt = O.SGD(1.0, gradient_accumulation_steps=0, use_ema=True, ema_overwrite_frequency=0)
    opt.apply_gradients([(torch.tensor([2.0]), w)])
    assert w.item() == pytest.approx(-1.0) and int(opt.iterations) == 1
    for kwargs in ({"gradient_accumulation_steps": 1}, {"ema_overwrite_frequency": -1}):
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            O.SGD(**kwargs)

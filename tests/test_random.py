"""fitorch.random: distributions by their moments, reproducibility, SeedGenerator state."""

import inspect

import keras
import numpy as np
import pytest
import torch

from fitorch import random

N = 20000  # draws per moment check: standard error of a unit-variance mean ~ 0.007


def moments(x: torch.Tensor) -> tuple[float, float]:
    x = x.double()
    return x.mean().item(), x.var().item()


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_normal_moments_and_dtype(dtype):
    x = random.normal((N,), mean=2.0, stddev=3.0, dtype=dtype, seed=1)
    assert x.dtype == (torch.float64 if dtype else torch.float32)
    mean, var = moments(x)
    assert mean == pytest.approx(2.0, abs=0.1) and var == pytest.approx(9.0, rel=0.05)


def test_uniform_moments_and_range():
    x = random.uniform((N,), minval=-1.0, maxval=3.0, seed=2)
    assert x.min() >= -1.0 and x.max() < 3.0
    mean, var = moments(x)
    assert mean == pytest.approx(1.0, abs=0.05) and var == pytest.approx(16 / 12, rel=0.05)
    with pytest.raises(ValueError, match="dtype"):
        random.uniform((2,), dtype="int32")


def test_truncated_normal_within_two_stddev():
    x = random.truncated_normal((N,), mean=1.0, stddev=2.0, seed=3)
    assert x.min() >= -3.0 and x.max() <= 5.0
    # Variance of N(0, 1) truncated to [-2, 2]: 1 - 4 phi(2) / (2 Phi(2) - 1) = 0.7737.
    mean, var = moments(x)
    assert mean == pytest.approx(1.0, abs=0.05) and var == pytest.approx(4 * 0.7737, rel=0.05)


def test_randint_range_dtype_and_mean():
    x = random.randint((N,), 0, 10, seed=4)
    assert x.dtype == torch.int32 and x.min() == 0 and x.max() == 9
    assert moments(x)[0] == pytest.approx(4.5, abs=0.1)
    assert random.randint((3,), 0, 5, dtype="int64", seed=4).dtype == torch.int64


def test_categorical_frequencies_follow_softmax():
    logits = torch.log(torch.tensor([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]]))
    draws = random.categorical(logits, N, seed=5)
    assert draws.shape == (2, N) and draws.dtype == torch.int32
    freq = torch.stack([torch.bincount(row.long(), minlength=3) for row in draws]) / N
    assert torch.allclose(freq, logits.exp(), atol=0.02)


def test_dropout_rate_scale_and_noise_shape():
    x = torch.ones(200, 100)
    out = random.dropout(x, 0.25, seed=6)
    kept = out != 0
    assert kept.float().mean().item() == pytest.approx(0.75, abs=0.02)
    assert torch.allclose(out[kept], torch.full_like(out[kept], 1 / 0.75))
    shared = random.dropout(x, 0.5, noise_shape=(None, 1), seed=6)
    assert torch.all((shared == 0).all(dim=1) | (shared != 0).all(dim=1))
    with pytest.raises(ValueError, match="rate"):
        random.dropout(x, 1.0)


def test_shuffle_is_a_permutation_along_axis():
    x = torch.arange(12).reshape(3, 4)
    out = random.shuffle(x, axis=1, seed=7)
    assert torch.equal(out.sort(dim=1).values, x)
    assert torch.equal(out[1] - out[0], torch.full((4,), 4))  # whole columns move together


@pytest.mark.parametrize("alpha", [0.5, 3.0])
def test_gamma_moments(alpha):
    mean, var = moments(random.gamma((N,), alpha, seed=8))
    assert mean == pytest.approx(alpha, rel=0.05) and var == pytest.approx(alpha, rel=0.1)


def test_binomial_moments():
    mean, var = moments(random.binomial((N,), 10, 0.3, seed=9))
    assert mean == pytest.approx(3.0, rel=0.03) and var == pytest.approx(2.1, rel=0.06)


def test_beta_moments():
    a, b = 2.0, 5.0
    mean, var = moments(random.beta((N,), a, b, seed=10))
    assert mean == pytest.approx(a / (a + b), rel=0.03)
    assert var == pytest.approx(a * b / ((a + b) ** 2 * (a + b + 1)), rel=0.08)


DRAWS = {
    "normal": lambda s: random.normal((5,), seed=s),
    "uniform": lambda s: random.uniform((5,), seed=s),
    "truncated_normal": lambda s: random.truncated_normal((5,), seed=s),
    "randint": lambda s: random.randint((5,), 0, 100, seed=s),
    "categorical": lambda s: random.categorical(torch.zeros(1, 50), 5, seed=s),
    "dropout": lambda s: random.dropout(torch.ones(20), 0.5, seed=s),
    "shuffle": lambda s: random.shuffle(torch.arange(20), seed=s),
    "gamma": lambda s: random.gamma((5,), 2.0, seed=s),
    "binomial": lambda s: random.binomial((5,), 50, 0.5, seed=s),
    "beta": lambda s: random.beta((5,), 2.0, 2.0, seed=s),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_int_seed_repeats_and_generator_advances(name):
    draw = DRAWS[name]
    assert torch.equal(draw(11), draw(11))
    gen = random.SeedGenerator(11)
    first, second = draw(gen), draw(gen)
    assert not torch.equal(first, second)
    again = random.SeedGenerator(11)
    assert torch.equal(draw(again), first) and torch.equal(draw(again), second)


def test_global_seed_reproducible_and_int_seed_leaves_global_alone():
    torch.manual_seed(0)
    a = random.normal((3,))
    random.gamma((3,), 1.0, seed=5)  # forks the global RNG: must not disturb it
    b = random.normal((3,))
    torch.manual_seed(0)
    assert torch.equal(random.normal((3,)), a) and torch.equal(random.normal((3,)), b)


def test_seed_generator_state_round_trips_through_state_dict():
    class Noisy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.seed_generator = random.SeedGenerator(3)

    model = Noisy()
    random.normal((2,), seed=model.seed_generator)
    # state_dict shares storage with the live state, as torch buffers do: copy to snapshot.
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    assert torch.equal(saved["seed_generator._extra_state"], torch.tensor([3, 1]))
    expected = random.normal((2,), seed=model.seed_generator)
    restored = Noisy()
    restored.load_state_dict(saved)
    assert torch.equal(random.normal((2,), seed=restored.seed_generator), expected)


def test_seed_generator_config_and_errors():
    gen = random.SeedGenerator(5, name="noise")
    assert gen.get_config() == {"seed": 5, "name": "noise"}
    clone = random.SeedGenerator.from_config(gen.get_config())
    assert clone.next() == gen.next()
    with pytest.raises(ValueError, match="seed"):
        random.SeedGenerator("five")
    with pytest.raises(ValueError, match="seed"):
        random.normal((2,), seed=1.5)


def test_unseeded_generator_follows_global_seed():
    torch.manual_seed(1)
    a = random.SeedGenerator().next()
    torch.manual_seed(1)
    assert random.SeedGenerator().next() == a


def test_same_distribution_as_keras():
    # Same law as keras.random (not the same bits): compare sample moments of both.
    ours = random.normal((N,), 1.0, 2.0, seed=3)
    theirs = torch.as_tensor(np.asarray(keras.random.normal((N,), 1.0, 2.0, seed=3).cpu()))
    for a, b in zip(moments(ours), moments(theirs)):
        assert a == pytest.approx(b, rel=0.1, abs=0.1)


def test_every_keras_random_name_is_provided_with_its_signature():
    names = [n for n in dir(keras.random) if not n.startswith("_")]
    assert sorted(names) == sorted(random.__all__)
    for name in names:
        theirs = getattr(keras.random, name)
        if inspect.isfunction(theirs):
            ours = list(inspect.signature(getattr(random, name)).parameters)
            assert ours == list(inspect.signature(theirs).parameters), name


def test_seed_generator_state_is_saved_with_a_model(tmp_path):
    import fitorch

    class Noise(fitorch.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = random.SeedGenerator(7)

        def call(self, x):
            return x + random.normal(tuple(x.shape), seed=self.seed_generator)

    model = fitorch.Sequential([fitorch.layers.Input((3,)), Noise(), fitorch.layers.Dense(2)])
    x = torch.zeros(2, 3)
    model(x)
    path = str(tmp_path / "noise.weights.h5")
    model.save_weights(path)
    expected = model(x)  # the draw right after the save
    model(x)
    model.load_weights(path)  # rewinds the generator to the saved position
    assert torch.allclose(model(x), expected)


def test_reachable_as_keras_random():
    import fitorch as keras_alias

    assert keras_alias.random is random
    assert keras_alias.random.randint((2,), 0, 3, seed=1).dtype == torch.int32


def test_unseeded_draws_of_a_batch_shape_trace_into_one_graph():
    """Under torch.compile a batch-sized draw (a symbolic shape) traces without a graph
    break, and one graph serves every batch size (no specialization to the first one)."""
    from _tracing import compile_counted

    from fitorch import ops

    def noisy(x):
        shape = ops.shape(x)
        return x + random.normal(shape) + random.uniform(shape) + random.dropout(x, 0.5)

    compiled, counter = compile_counted(noisy)
    for rows in (4, 6, 9):
        torch.manual_seed(rows)
        out = compiled(torch.ones(rows, 3))
        torch.manual_seed(rows)  # aot_eager draws from the global generator as eager does
        torch.testing.assert_close(out, noisy(torch.ones(rows, 3)))
    assert counter.graphs == 1

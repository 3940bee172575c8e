"""Keras 3's customisation contract: overridden train_step/test_step/predict_step run in fit,
evaluate and predict (the keras-io guide "Customizing what happens in fit()", torch version).

Every test replays the same updates in a hand-written torch loop from the same start weights
(plain SGD: w <- w - lr * g) and compares the losses and metrics fit reports.
"""

import warnings

import numpy as np
import pytest
import torch

import fitorch as keras
from fitorch import layers
from fitorch.utils import unpack_x_y_sample_weight

LR = 0.1


def _data(n=64, d=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ rng.normal(size=(d, 1)) + 0.1).astype("float32")
    return x, y


def _hand_sgd(kernel, bias, x, y, batch, epochs, sample_weight=None):
    """Reference: per-batch mean squared error, SGD, returns (batch losses, MAE per epoch)."""
    w = torch.tensor(kernel, requires_grad=True)
    b = torch.tensor(bias, requires_grad=True)
    losses, maes = [], []
    for _ in range(epochs):
        epoch_losses, abs_err, count = [], 0.0, 0
        for i in range(0, len(x), batch):
            xb, yb = torch.tensor(x[i : i + batch]), torch.tensor(y[i : i + batch])
            pred = xb @ w + b
            per_sample = ((pred - yb) ** 2).mean(dim=-1)
            if sample_weight is not None:
                per_sample = per_sample * torch.tensor(sample_weight[i : i + batch])
            loss = per_sample.mean()
            w.grad = b.grad = None
            loss.backward()
            with torch.no_grad():
                abs_err += float((pred - yb).abs().sum())
                count += len(xb)
                w -= LR * w.grad
                b -= LR * b.grad
            epoch_losses.append(float(loss.detach()))
        losses.append(np.mean(epoch_losses))
        maes.append(abs_err / count)
    return np.array(losses), np.array(maes), w.detach().numpy()


class GuideModel(keras.Model):
    """The guide's first example: compute_loss, optimizer.apply, self.metrics."""

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def _functional(cls, d=8):
    inputs = keras.Input(shape=(d,))
    outputs = layers.Dense(1)(inputs)
    return cls(inputs, outputs)


def test_guide_custom_train_step_equals_hand_loop():
    x, y = _data()
    model = _functional(GuideModel)
    assert isinstance(model, GuideModel)
    kernel, bias = (w.copy() for w in model.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    losses, maes, w_end = _hand_sgd(kernel, bias, x, y, 16, 3)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)
    np.testing.assert_allclose(history.history["mae"], maes, rtol=1e-5)
    np.testing.assert_allclose(model.get_weights()[0], w_end, rtol=1e-5, atol=1e-6)


class ManualLossModel(keras.Model):
    """The guide's lower-level example: no compiled loss, own trackers as attributes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_train_step_without_compiled_loss_and_own_metrics():
    x, y = _data(seed=1)
    model = _functional(ManualLossModel)
    kernel, bias = (w.copy() for w in model.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(LR))
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    losses, maes, _ = _hand_sgd(kernel, bias, x, y, 32, 2)
    # The trackers are reset at each epoch start, so each epoch's value is its own mean.
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)
    np.testing.assert_allclose(history.history["mae"], maes, rtol=1e-5)


class WeightedModel(keras.Model):
    def train_step(self, data):
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss.backward()
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in self.trainable_weights],
                                 self.trainable_weights)  # fmt: skip
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        return {m.name: m.result() for m in self.metrics if m.name == "loss"}


def test_sample_weights_reach_a_custom_step():
    x, y = _data(seed=2)
    sw = np.linspace(0.5, 2.0, len(x)).astype("float32")
    model = _functional(WeightedModel)
    kernel, bias = (w.copy() for w in model.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    history = model.fit(x, y, sample_weight=sw, batch_size=16, epochs=2, shuffle=False, verbose=0)
    losses, _, _ = _hand_sgd(kernel, bias, x, y, 16, 2, sample_weight=sw)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)


class CustomEvalModel(keras.Model):
    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_test_step_override_used_by_evaluate():
    x, y = _data(seed=3)
    model = _functional(CustomEvalModel)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    result = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    pred = x @ model.get_weights()[0] + model.get_weights()[1]
    assert result["loss"] == pytest.approx(float(np.mean((pred - y) ** 2)), rel=1e-5)
    assert result["mae"] == pytest.approx(float(np.mean(np.abs(pred - y))), rel=1e-5)


class ExtraLogsEvalModel(CustomEvalModel):
    def test_step(self, data):
        return {"zeta": 2.0, "alpha": 1.0, **super().test_step(data)}


def test_evaluate_list_puts_a_custom_steps_other_keys_last_sorted():
    # Keras's _flatten_metrics_in_order: the metrics' names first, then other keys sorted.
    x, y = _data(seed=3)
    model = _functional(ExtraLogsEvalModel)
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    logs = model.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
    expected = [logs["loss"], logs["mae"], 1.0, 2.0]
    assert model.evaluate(x, y, batch_size=64, verbose=0) == expected
    assert model.test_on_batch(x, y) == pytest.approx(expected)


class DoublingPredictModel(keras.Model):
    def predict_step(self, data):
        x, _, _ = unpack_x_y_sample_weight(data)
        return 2 * self(x, training=False)


def test_predict_step_override_used_by_predict():
    x, _ = _data(seed=4)
    model = _functional(DoublingPredictModel)
    kernel, bias = model.get_weights()
    np.testing.assert_allclose(model.predict(x, verbose=0), 2 * (x @ kernel + bias), rtol=1e-5)


class GAN(keras.Model):
    """The guide's GAN: compile takes its own optimizers, train_step runs both."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        real_images, _, _ = unpack_x_y_sample_weight(real_images)
        batch_size = real_images.shape[0]
        noise = torch.randn(batch_size, self.latent_dim, generator=self.noise)
        generated = self.generator(noise)
        combined = torch.cat([generated, real_images], dim=0)
        labels = torch.cat([torch.ones(batch_size, 1), torch.zeros(batch_size, 1)], dim=0)
        self.zero_grad()
        d_loss = self.loss_fn(labels, self.discriminator(combined))
        d_loss.backward()
        grads = [v.value.grad for v in self.discriminator.trainable_weights]
        with torch.no_grad():
            self.d_optimizer.apply(grads, self.discriminator.trainable_weights)
        noise = torch.randn(batch_size, self.latent_dim, generator=self.noise)
        misleading = torch.zeros(batch_size, 1)
        self.zero_grad()
        g_loss = self.loss_fn(misleading, self.discriminator(self.generator(noise)))
        g_loss.backward()
        grads = [v.value.grad for v in self.generator.trainable_weights]
        with torch.no_grad():
            self.g_optimizer.apply(grads, self.generator.trainable_weights)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def _gan_parts(latent=4, d=6):
    disc = keras.Sequential([keras.Input(shape=(d,)), layers.Dense(1, activation="sigmoid")])
    gen = keras.Sequential([keras.Input(shape=(latent,)), layers.Dense(d)])
    return disc, gen


def test_gan_with_two_optimizers_equals_hand_loop():
    latent, d, batch = 4, 6, 8
    real = np.random.default_rng(5).normal(size=(16, d)).astype("float32")
    disc, gen = _gan_parts(latent, d)
    start = [w.copy() for w in disc.get_weights()], [w.copy() for w in gen.get_weights()]
    gan = GAN(disc, gen, latent)
    gan.noise = torch.Generator().manual_seed(0)
    gan.compile(keras.optimizers.SGD(LR), keras.optimizers.SGD(LR),
                keras.losses.BinaryCrossentropy())  # fmt: skip
    history = gan.fit(real, batch_size=batch, epochs=1, shuffle=False, verbose=0)

    dk, db = (torch.tensor(w, requires_grad=True) for w in start[0])
    gk, gb = (torch.tensor(w, requires_grad=True) for w in start[1])
    noise = torch.Generator().manual_seed(0)
    bce = torch.nn.BCELoss()
    d_losses, g_losses = [], []
    for i in range(0, len(real), batch):
        xb = torch.tensor(real[i : i + batch])
        fake = torch.randn(batch, latent, generator=noise) @ gk + gb
        labels = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)])
        d_loss = bce(torch.sigmoid(torch.cat([fake, xb]) @ dk + db), labels)
        grads = torch.autograd.grad(d_loss, [dk, db])
        with torch.no_grad():
            dk -= LR * grads[0]
            db -= LR * grads[1]
        fake = torch.randn(batch, latent, generator=noise) @ gk + gb
        g_loss = bce(torch.sigmoid(fake @ dk + db), torch.zeros(batch, 1))
        grads = torch.autograd.grad(g_loss, [gk, gb])
        with torch.no_grad():
            gk -= LR * grads[0]
            gb -= LR * grads[1]
        d_losses.append(float(d_loss))
        g_losses.append(float(g_loss))
    # BCE in Keras clips probabilities at 1e-7: equal to torch's BCELoss at these values.
    assert history.history["d_loss"][0] == pytest.approx(np.mean(d_losses), rel=1e-4)
    assert history.history["g_loss"][0] == pytest.approx(np.mean(g_losses), rel=1e-4)
    np.testing.assert_allclose(gen.get_weights()[0], gk.detach().numpy(), rtol=1e-4, atol=1e-6)


class VAE(keras.Model):
    """A train_step that adds a KL term to the reconstruction loss."""

    def __init__(self, d=6, latent=2):
        super().__init__()
        self.encoder = layers.Dense(2 * latent)
        self.decoder = layers.Dense(d)
        self.latent = latent
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    def call(self, x):
        z_mean, _ = torch.split(self.encoder(x), self.latent, dim=-1)
        return self.decoder(z_mean)

    def train_step(self, data):
        x, _, _ = unpack_x_y_sample_weight(data)
        self.zero_grad()
        z_mean, z_log_var = torch.split(self.encoder(x), self.latent, dim=-1)
        z = z_mean + torch.exp(0.5 * z_log_var) * self.eps[: len(x)]
        reconstruction = ((self.decoder(z) - x) ** 2).sum(dim=1).mean()
        kl = (-0.5 * (1 + z_log_var - z_mean**2 - torch.exp(z_log_var))).sum(dim=1).mean()
        total = reconstruction + kl
        total.backward()
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in self.trainable_weights],
                                 self.trainable_weights)  # fmt: skip
        self.total_loss_tracker.update_state(total)
        self.kl_loss_tracker.update_state(kl)
        return {"loss": self.total_loss_tracker.result(), "kl_loss": self.kl_loss_tracker.result()}


def test_vae_train_step_with_kl_term():
    x = np.random.default_rng(6).normal(size=(8, 6)).astype("float32")
    vae = VAE()
    vae(x)  # build
    vae.eps = torch.randn(8, 2, generator=torch.Generator().manual_seed(1))
    ek, eb, dk, db = (torch.tensor(w, requires_grad=True) for w in vae.get_weights())
    vae.compile(optimizer=keras.optimizers.SGD(LR))
    history = vae.fit(x, batch_size=8, epochs=2, shuffle=False, verbose=0)
    xt = torch.tensor(x)
    totals, kls = [], []
    for _ in range(2):
        z_mean, z_log_var = torch.split(xt @ ek + eb, 2, dim=-1)
        z = z_mean + torch.exp(0.5 * z_log_var) * vae.eps
        kl = (-0.5 * (1 + z_log_var - z_mean**2 - torch.exp(z_log_var))).sum(dim=1).mean()
        total = (((z @ dk + db) - xt) ** 2).sum(dim=1).mean() + kl
        grads = torch.autograd.grad(total, [ek, eb, dk, db])
        with torch.no_grad():
            for p, g in zip((ek, eb, dk, db), grads):
                p -= LR * g
        totals.append(float(total))
        kls.append(float(kl))
    np.testing.assert_allclose(history.history["loss"], totals, rtol=1e-5)
    np.testing.assert_allclose(history.history["kl_loss"], kls, rtol=1e-5)


class WGANCritic(keras.Model):
    """A critic step with a gradient penalty (torch.autograd.grad inside train_step)."""

    def __init__(self):
        super().__init__()
        self.critic = layers.Dense(1)
        self.tracker = keras.metrics.Mean(name="gp")

    def call(self, x):
        return self.critic(x)

    def train_step(self, data):
        real, fake = data
        alpha = torch.full((real.shape[0], 1), 0.25)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self(mixed, training=True).sum(), mixed, create_graph=True)
        gp = ((grad.norm(dim=1) - 1.0) ** 2).mean()
        loss = self(fake, training=True).mean() - self(real, training=True).mean() + 10 * gp
        self.zero_grad()
        loss.backward()
        with torch.no_grad():
            self.optimizer.apply([v.value.grad for v in self.trainable_weights],
                                 self.trainable_weights)  # fmt: skip
        self.tracker.update_state(gp)
        return {"gp": self.tracker.result()}


def test_wgan_gp_gradient_penalty_in_train_step():
    rng = np.random.default_rng(7)
    real, fake = (rng.normal(size=(8, 3)).astype("float32") for _ in range(2))
    model = WGANCritic()
    model(real)
    kernel, _ = model.get_weights()
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    history = model.fit(real, fake, batch_size=8, epochs=1, verbose=0)
    # A linear critic's input gradient is its kernel: gp = (||k|| - 1)^2 at the start weights.
    expected = (np.linalg.norm(kernel[:, 0]) - 1.0) ** 2
    assert history.history["gp"][0] == pytest.approx(expected, rel=1e-5)


def test_callbacks_and_early_stopping_see_a_custom_steps_logs():
    x, y = _data(seed=8)
    model = _functional(ManualLossModel)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # no progress: patience runs out
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=1, min_delta=1e-3)
    history = model.fit(x, y, batch_size=64, epochs=10, verbose=0, callbacks=[stop])
    assert len(history.history["loss"]) == 2
    assert history.history["loss"][0] == pytest.approx(history.history["loss"][1])


class _Probe(layers.Layer):
    """Records the `training` value each call resolves to."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def call(self, x, training=None):
        self.seen.append(training)
        return x


class _NoTrainingArgModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1)
        self.probe = _Probe()

    def call(self, x):  # no `training` parameter: the enclosing call's value still reaches layers
        return self.probe(self.dense(x))


def test_fit_trains_and_predict_infers_through_a_call_without_training():
    x, y = _data(n=8)
    model = _NoTrainingArgModel()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert model.probe.seen == [True]
    model.predict(x, verbose=0)
    model(x)
    model.evaluate(x, y, verbose=0)
    assert model.probe.seen == [True, False, False, False]
    assert model.training is False  # after fit, torch's flag is back to inference


def test_jit_compile_compiles_an_overridden_train_step_and_keeps_its_numbers():
    import torch._dynamo
    from torch._dynamo.utils import counters

    from fitorch.training import jit

    x, y = _data()
    torch._dynamo.reset()
    counters.clear()
    jit.set_backend("aot_eager")
    try:
        model = _functional(GuideModel)
        kernel, bias = (w.copy() for w in model.get_weights())
        model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse", metrics=["mae"],
                      jit_compile=True)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # no fallback to eager
            history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        assert counters["frames"]["ok"] >= 1  # dynamo compiled (parts of) the user's step
    finally:
        jit.set_backend("inductor")
        torch._dynamo.reset()
    losses, maes, w_end = _hand_sgd(kernel, bias, x, y, 16, 3)
    np.testing.assert_allclose(history.history["loss"], losses, rtol=1e-5)
    np.testing.assert_allclose(history.history["mae"], maes, rtol=1e-5)
    np.testing.assert_allclose(model.get_weights()[0], w_end, rtol=1e-5, atol=1e-6)


class BatchLossModel(keras.Model):
    """Returns the batch loss under the name of the (never updated) loss tracker."""

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        loss = self.compute_loss(y=y, y_pred=self(x, training=True))
        loss.backward()
        weights = list(self.trainable_weights)
        with torch.no_grad():
            self.optimizer.apply([w.value.grad for w in weights], weights)
        return {"loss": loss}


def test_epoch_logs_are_the_metric_results_when_a_step_returns_their_keys():
    # Keras's _get_metrics_result_or_logs: same keys as the model's metrics -> the metrics'
    # results (here the untouched loss tracker: 0.0), not the last batch's value.
    x, y = _data()
    model = _functional(BatchLossModel)
    model.compile(optimizer="sgd", loss="mse")
    batch_losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda b, logs: batch_losses.append(logs["loss"])
    )
    history = model.fit(x, y, batch_size=16, verbose=0, shuffle=False, callbacks=[record])
    assert len(batch_losses) == 4 and batch_losses[-1] > 0
    assert history.history["loss"] == [0.0]

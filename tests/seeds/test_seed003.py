"""Seed 003 (custom losses, sample weights, fit arguments, callbacks): the VAE loss as a
function and as a layer, per-output class weights, fit/fit_generator with every argument,
ModelCheckpoint/EarlyStopping/ReduceLROnPlateau/TensorBoard, History saved to text."""

import ast
import pathlib

import numpy as np
import pytest

import fitorch
from fitorch.models import Model


def _bce(x, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(x * np.log(p) + (1 - x) * np.log(1 - p))


def _kl(mean, log_var):
    return -0.5 * np.mean(1 + log_var - mean**2 - np.exp(log_var), axis=-1)


def test_vae_loss_function_reads_the_encoder_tensors(run_seed):
    run = run_seed("seed003_vae_loss_function", epochs=15)
    vae, x_train = run["vae"], run["x_train"]
    loss = run["history"].history["loss"]
    assert len(loss) == 15 and loss[-1] < 0.9 * loss[0]
    # The loss closes over z_mean and z_log_sigma: it must see this batch's values. With
    # the same random draw, evaluate == mean(bce(x, decoded)) + mean(KL(encoder(x))).
    encoder = Model(run["x"], [run["z_mean"], run["z_log_sigma"]])
    mean, log_sigma = (t.astype("float64") for t in encoder.predict(x_train, verbose=0))
    fitorch.utils.set_random_seed(7)
    decoded = vae.predict(x_train, batch_size=len(x_train), verbose=0).astype("float64")
    fitorch.utils.set_random_seed(7)
    value = vae.evaluate(x_train, x_train, batch_size=len(x_train), verbose=0)
    expected = _bce(x_train, decoded).mean() + _kl(mean, log_sigma).mean()
    assert value == pytest.approx(expected, rel=1e-4)


def test_vae_loss_layer_with_loss_none(run_seed):
    run = run_seed("seed003_vae_loss_layer", epochs=15)
    h = run["history"].history
    assert list(h) == ["loss", "val_loss"] and len(h["loss"]) == 15
    assert h["loss"][-1] < 0.9 * h["loss"][0] and h["val_loss"][-1] < 0.9 * h["val_loss"][0]
    # evaluate without targets == the layer's loss computed in float64 from the same draw.
    x, x_test = run["x"], run["x_test"]
    parts = Model(x, [run["z_mean"], run["z_log_var"], run["x_decoded_mean_squash"]])
    fitorch.utils.set_random_seed(3)
    mean, log_var, decoded = (
        t.astype("float64") for t in parts.predict(x_test, batch_size=64, verbose=0)
    )
    fitorch.utils.set_random_seed(3)
    value = run["vae"].evaluate(x_test, batch_size=64, verbose=0)
    xent = 4 * 4 * _bce(x_test.reshape(-1), decoded.reshape(-1)).mean()
    assert value == pytest.approx(np.mean(xent + _kl(mean, log_var)), rel=1e-4)


def test_gan_discriminator_class_weights_per_output(run_seed):
    run = run_seed("seed003_gan_class_weight", epochs=100)
    gan = run["gan"]
    d = gan.discriminator
    assert d.metrics_names == ["loss", "valid_loss", "label_loss", "valid_accuracy",
                               "label_accuracy"]  # fmt: skip
    assert gan.class_weights == [{0: 1, 1: 1}, {0: 3 / 16, 1: 3 / 16, 2: 3 / 16, 3: 1 / 16}]
    total = np.array(gan.losses)[:, 0]
    assert len(total) == 100 and total[-10:].mean() < 0.75 * total[:10].mean()
    # train_on_batch reports the loss of the predictions before its update: recompute it.
    imgs, valid, labels = gan.batch(16)
    p_valid, p_label = (t.astype("float64") for t in d.predict(imgs, verbose=0))
    w_label = np.array([gan.class_weights[1][c] for c in labels.argmax(axis=1)])
    valid_loss = _bce(valid, p_valid).mean()
    label_loss = np.mean(-np.sum(labels * np.log(np.clip(p_label, 1e-7, 1)), axis=1) * w_label)
    result = d.train_on_batch(imgs, [valid, labels], class_weight=gan.class_weights)
    np.testing.assert_allclose(
        result[:3], [0.5 * valid_loss + 0.5 * label_loss, valid_loss, label_loss], rtol=1e-5
    )


def test_fit_with_every_argument(run_seed):
    run = run_seed("seed003_fit_arguments")
    h_all = run["history_all"]
    assert h_all.epoch == [2, 3, 4, 5]  # initial_epoch=2, epochs=6
    assert list(h_all.history) == ["loss", "acc", "val_loss", "val_acc"]
    assert run["extra_history"].history == h_all.history  # callbacks=[History()] saw the same
    assert "Epoch 3/6" in run.out and "Epoch 1/6" not in run.out
    assert list(run["history_split"].history) == ["loss", "acc", "val_loss", "val_acc"]
    assert len(run["history_steps"].history["val_loss"]) == 2
    for name in ("history_list", "history_dict"):
        assert list(run[name].history) == ["loss", "acc"]


def test_fit_generator_with_every_argument(run_seed):
    run = run_seed("seed003_fit_generator_arguments")
    keys = ["loss", "acc", "val_loss", "val_acc"]
    assert list(run["history_gen"].history) == keys and run["history_gen"].epoch == [0, 1, 2, 3]
    assert list(run["history_seq"].history) == keys and run["history_seq"].epoch == [1, 2]
    assert list(run["history_tuple"].history) == keys
    # 4 steps of 32 samples per epoch from the infinite generator.
    assert "4/4 - " in run.out


def test_checkpoint_early_stopping_reduce_lr_tensorboard(run_seed):
    run = run_seed("seed003_callbacks")
    # The seed's fit calls have no validation data: the callbacks warn about val_acc/val_loss.
    for name in ("checkpoint_warnings", "earlystopping_warnings", "reduce_lr_warnings"):
        assert any("val_" in str(w.message) for w in run[name]), name
    # ModelCheckpoint(save_best_only=True): one file per improvement, named from the logs;
    # the last one holds the weights that scored the best val_acc.
    h = run["checkpoint_history"].history
    best_files = sorted(run.workdir.glob("best-*.weight"))
    improved = [e for e in range(4) if h["val_acc"][e] > max([0.0] + h["val_acc"][:e])]
    assert [f.name[:7] for f in best_files] == [f"best-{e + 1:02d}" for e in improved]
    model = run["build_model"]()
    model.load_weights(str(best_files[-1]))
    _, val_acc = model.evaluate(run["X_val"], run["Y_val"], verbose=0)
    assert val_acc == pytest.approx(max(h["val_acc"]))
    # EarlyStopping(patience=3) stops 3 epochs after the first best val_acc.
    val_acc = run["early_history"].history["val_acc"]
    assert len(val_acc) < 100
    assert len(val_acc) == int(np.argmax(val_acc)) + 1 + 3
    assert f"Epoch {len(val_acc)}: early stopping" in run.out
    # ReduceLROnPlateau(factor=0.2, patience=5, min_lr=0.001) on a val_loss that only grows.
    ph = run["plateau_history"].history
    assert all(b > a for a, b in zip(ph["val_loss"], ph["val_loss"][1:]))
    expected = [0.5] * 6 + [0.1] * 5 + [0.02] * 5 + [0.004] * 5 + [0.001] * 9
    np.testing.assert_allclose(ph["learning_rate"], expected, rtol=1e-6)
    assert ph["lr"] == ph["learning_rate"]
    # TensorBoard writes event files for training and validation.
    for split in ("train", "validation"):
        assert list((run.workdir / "logs" / split).glob("events.out.tfevents.*")), split


def test_history_printed_and_saved_to_text(run_seed):
    run = run_seed("seed003_history_to_text")
    first, hist = run["hist"], run["hist"]
    assert "{'loss': [" in run.out and "'val_acc': [" in run.out
    text = (run.workdir / "log_sgd_big_32.txt").read_text()
    saved = ast.literal_eval(text)
    assert list(saved) == ["loss", "acc", "val_loss", "val_acc"]
    assert all(len(v) == 3 for v in saved.values())  # nb_epoch=3
    assert saved == dict(hist.history) and first is hist


def test_bert_style_callbacks_with_fit_generator(run_seed):
    run = run_seed("seed003_bert_callbacks", epochs=12)
    h = run["history"].history
    assert list(h)[:4] == ["loss", "acc", "val_loss", "val_acc"]
    weights = pathlib.Path(run.workdir / "bert_classfition-test_model0.weight")
    assert weights.exists()
    # The checkpoint holds the best val_acc's weights (validation covers all 64 samples).
    model = run["model"]
    model.load_weights(str(weights))
    _, acc = model.evaluate(run["words"][256:], run["one_hot"][256:], verbose=0)
    assert acc == pytest.approx(max(h["val_acc"]))
    assert h["loss"][-1] < h["loss"][0]


def test_keras2_objectives_module_and_symbolic_tensor_errors():
    from fitorch import backend as K
    from fitorch import objectives
    from fitorch.layers import Input

    assert objectives.binary_crossentropy is fitorch.losses.binary_crossentropy
    x, p = np.array([[1.0, 0.0]]), np.array([[0.8, 0.4]])
    value = np.asarray(objectives.binary_crossentropy(K.constant(x), K.constant(p)))
    np.testing.assert_allclose(value, [_bce(x, p).mean()], rtol=1e-6)
    # On a symbolic tensor a backend function builds a graph node (issue 22), as in Keras 2.
    assert K.square(Input(shape=(2,))).shape == (None, 2)

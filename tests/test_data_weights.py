"""sample_weight and class_weight: exact loss and metric values against float64 formulas.

Loss reduction (sum_over_batch_size): loss = sum(w * l) / N (N elements, not sum(w));
a weighted mean metric: sum(w * e) / sum(w); a plain metric ignores the weights.
"""

import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers, optimizers
from fitorch.models import Model, Sequential
from fitorch.training.batches import ClassWeights, class_weight_to_sample_weight

rng = np.random.default_rng(0)
X = rng.normal(size=(8, 2)).astype("float32")
K = np.array([[0.5, -1.0, 0.2], [0.3, 0.4, -0.6]], "float32")
B = np.array([0.1, 0.0, -0.1], "float32")
LABELS = np.array([0, 1, 2, 1, 1, 0, 2, 2])


def softmax_model(**compile_kwargs):
    model = Sequential([layers.Dense(3, activation="softmax", input_dim=2)])
    model.set_weights([K, B])
    model.compile(optimizers.SGD(learning_rate=0.0), **compile_kwargs)
    return model


def ce_per_sample(x=X, labels=LABELS):
    logits = x.astype("float64") @ K + B
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return -np.log(p[np.arange(len(labels)), labels])


def regression_model():
    model = Sequential([layers.Dense(1, input_dim=2)])
    model.set_weights([np.array([[1.0], [-2.0]], "float32"), np.array([0.5], "float32")])
    model.compile(optimizers.SGD(0.0), loss="mse", metrics=["mse"], weighted_metrics=["mse"])
    return model


Y_REG = rng.normal(size=(8, 1)).astype("float32")
ERR = ((X.astype("float64") @ [[1.0], [-2.0]] + 0.5 - Y_REG) ** 2)[:, 0]
W = rng.uniform(0.1, 2.0, size=8).astype("float32")


@pytest.mark.parametrize("shape", [(8,), (8, 1)])
def test_sample_weight_reaches_loss_and_weighted_metrics_only(shape):
    logs = regression_model().evaluate(X, Y_REG, sample_weight=W.reshape(shape), batch_size=8,
                                       verbose=0, return_dict=True)  # fmt: skip
    np.testing.assert_allclose(logs["loss"], np.sum(W * ERR) / 8, rtol=1e-5)
    np.testing.assert_allclose(logs["weighted_mse"], np.sum(W * ERR) / np.sum(W), rtol=1e-5)
    np.testing.assert_allclose(logs["mse"], ERR.mean(), rtol=1e-5)


def test_sample_weight_over_several_batches_in_fit():
    hist = regression_model().fit(X, Y_REG, sample_weight=W, batch_size=3, epochs=1,
                                  shuffle=False, verbose=0)  # fmt: skip
    # the epoch loss is the batch-size-weighted mean of batch losses sum(w*l)/n_batch
    parts = [np.sum(W[s] * ERR[s]) for s in (slice(0, 3), slice(3, 6), slice(6, 8))]
    np.testing.assert_allclose(hist.history["loss"][0], sum(parts) / 8, rtol=1e-5)
    np.testing.assert_allclose(hist.history["weighted_mse"][0], np.sum(W * ERR) / W.sum(),
                               rtol=1e-5)  # fmt: skip


def test_temporal_sample_weight():
    model = Sequential([layers.Dense(1, input_shape=(3, 2))])
    model.set_weights([np.array([[1.0], [-1.0]], "float32"), np.array([0.0], "float32")])
    model.compile(optimizers.SGD(0.0), loss="mse", sample_weight_mode="temporal",
                  weighted_metrics=["mse"])  # fmt: skip
    x = rng.normal(size=(4, 3, 2)).astype("float32")
    y = rng.normal(size=(4, 3, 1)).astype("float32")
    w = rng.uniform(0.0, 1.0, size=(4, 3)).astype("float32")
    e = ((x.astype("float64") @ [[1.0], [-1.0]] - y) ** 2)[..., 0]  # (N, T)
    logs = model.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], np.sum(w * e) / 12, rtol=1e-5)
    np.testing.assert_allclose(logs["mse"], np.sum(w * e) / np.sum(w), rtol=1e-5)


def test_class_weight_single_output():
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    model = softmax_model(loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(X, LABELS, class_weight=cw)
    w = np.array([cw[c] for c in LABELS])
    np.testing.assert_allclose(loss, np.sum(w * ce_per_sample()) / 8, rtol=1e-5)


def test_class_weight_with_one_hot_labels_and_fit():
    cw = {0: 1.0, 1: 3.0, 2: 0.25}
    model = softmax_model(loss="categorical_crossentropy", metrics=["categorical_crossentropy"])
    hist = model.fit(X, np.eye(3)[LABELS], class_weight=cw, batch_size=8, verbose=0)
    w = np.array([cw[c] for c in LABELS])
    np.testing.assert_allclose(hist.history["loss"][0], np.sum(w * ce_per_sample()) / 8,
                               rtol=1e-5)  # fmt: skip
    # a plain metric is not weighted
    np.testing.assert_allclose(hist.history["categorical_crossentropy"][0],
                               ce_per_sample().mean(), rtol=1e-5)  # fmt: skip


def test_class_weight_multiplies_with_sample_weight():
    cw = {0: 2.0, 1: 0.5, 2: 4.0}
    model = softmax_model(loss="sparse_categorical_crossentropy")
    loss = model.train_on_batch(X, LABELS, sample_weight=W, class_weight=cw)
    w = W * np.array([cw[c] for c in LABELS])
    np.testing.assert_allclose(loss, np.sum(w * ce_per_sample()) / 8, rtol=1e-5)


def two_output_model():
    """Seed 003's discriminator shape: a sigmoid 'valid' head and a softmax 'label' head."""
    inp = fitorch.Input((2,), name="img")
    valid = layers.Dense(1, activation="sigmoid", name="valid")(inp)
    label = layers.Dense(3, activation="softmax", name="label")(inp)
    model = Model(inputs=inp, outputs=[valid, label])
    model.get_layer("valid").set_weights([np.array([[1.0], [-1.0]], "float32"), np.zeros(1, "f")])
    model.get_layer("label").set_weights([K, B])
    model.compile(optimizers.SGD(0.0), loss=["binary_crossentropy",
                                             "sparse_categorical_crossentropy"])  # fmt: skip
    return model


VALID = np.array([1, 0, 1, 1, 0, 0, 1, 0], "float32").reshape(8, 1)
CW1, CW2 = {0: 1.0, 1: 3.0}, {0: 0.5, 1: 2.0, 2: 1.5}


def two_output_reference():
    p = 1 / (1 + np.exp(-(X.astype("float64") @ [[1.0], [-1.0]])))[:, 0]
    v = VALID[:, 0]
    bce = -(v * np.log(p) + (1 - v) * np.log(1 - p))
    w1 = np.array([CW1[int(c)] for c in v])
    w2 = np.array([CW2[c] for c in LABELS])
    return np.sum(w1 * bce) / 8, np.sum(w2 * ce_per_sample()) / 8


@pytest.mark.parametrize("form", ["list", "dict"])
def test_class_weight_per_output(form):
    cw = [CW1, CW2] if form == "list" else {"label": CW2, "valid": CW1}
    out = two_output_model().train_on_batch(X, [VALID, LABELS], class_weight=cw, return_dict=True)
    l1, l2 = two_output_reference()
    np.testing.assert_allclose([out["valid_loss"], out["label_loss"]], [l1, l2], rtol=1e-5)
    np.testing.assert_allclose(out["loss"], l1 + l2, rtol=1e-5)


def test_class_weight_for_one_output_only_and_per_output_sample_weight():
    model = two_output_model()
    out = model.train_on_batch(X, [VALID, LABELS], class_weight=[None, CW2],
                               sample_weight=[W, np.ones(8, "f")], return_dict=True)  # fmt: skip
    p = 1 / (1 + np.exp(-(X.astype("float64") @ [[1.0], [-1.0]])))[:, 0]
    v = VALID[:, 0]
    bce = -(v * np.log(p) + (1 - v) * np.log(1 - p))
    np.testing.assert_allclose(out["valid_loss"], np.sum(W * bce) / 8, rtol=1e-5)
    np.testing.assert_allclose(out["label_loss"], two_output_reference()[1], rtol=1e-5)


def test_class_weight_with_a_generator_per_output():
    def gen():
        while True:
            yield X, [VALID, LABELS]

    model = two_output_model()
    hist = model.fit(gen(), steps_per_epoch=2, class_weight=[CW1, CW2], verbose=0)
    np.testing.assert_allclose(hist.history["loss"][0], sum(two_output_reference()), rtol=1e-5)


def test_class_weight_to_sample_weight_label_forms():
    cw = {0: 1.0, 1: 3.0, 2: 5.0}
    expected = [3.0, 5.0, 1.0]
    for y in (torch.tensor([1, 2, 0]), torch.tensor([[1.0], [2.0], [0.0]]),
              torch.eye(3)[[1, 2, 0]], torch.tensor([0.9, 2.2, 0.1])):  # fmt: skip
        np.testing.assert_allclose(class_weight_to_sample_weight(y, cw), expected)
    # (N, T, C) one-hot sequence targets give per-timestep weights (N, T)
    y = torch.eye(3)[torch.tensor([[1, 2], [0, 0]])]
    np.testing.assert_allclose(class_weight_to_sample_weight(y, cw), [[3.0, 5.0], [1.0, 1.0]])
    # multiplied into temporal sample weights on the batch axis
    cws = ClassWeights(cw, ["out"])
    out = cws.apply([torch.tensor([1, 2])], [torch.tensor([[1.0, 2.0], [3.0, 4.0]])])[0]
    np.testing.assert_allclose(out, [[3.0, 6.0], [15.0, 20.0]])


@pytest.mark.parametrize(
    "cw, match",
    [
        ({"a": 1.0}, "keys must be integer class indices; got the key 'a'"),
        ({-1: 1.0}, "class indices must be >= 0; got -1"),
        ({0: "x"}, r"class_weight\[0\] must be a number"),
    ],
)
def test_bad_class_weight_keys_and_values(cw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        softmax_model(loss="sparse_categorical_crossentropy").fit(X, LABELS, class_weight=cw,
                                                                  verbose=0)  # fmt: skip


def test_negative_labels_with_class_weight():
    with pytest.raises(ValueError, match="labels must be class indices >= 0; got -1"):
        class_weight_to_sample_weight(torch.tensor([0, -1]), {0: 1.0})


def test_bad_class_weight_structures_for_several_outputs():
    model = two_output_model()
    with pytest.raises(ValueError, match="got a list of 1 dicts for 2 output"):
        model.train_on_batch(X, [VALID, LABELS], class_weight=[CW1])
    with pytest.raises(ValueError, match="'lable'.*Did you mean 'label'"):
        model.train_on_batch(X, [VALID, LABELS], class_weight={"lable": CW2})


@pytest.mark.slow
def test_class_weight_matches_keras_3():
    keras = pytest.importorskip("keras")
    cw = {0: 2.0, 1: 0.5, 2: 1.0}
    results = []
    for lib in (keras, fitorch):
        model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(3, activation="softmax")])
        model.set_weights([K, B])
        model.compile(lib.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy",
                      weighted_metrics=["sparse_categorical_crossentropy"])  # fmt: skip
        hist = model.fit(X, LABELS, class_weight=cw, batch_size=3, epochs=1, shuffle=False,
                         verbose=0)  # fmt: skip
        h = hist.history
        results.append([h["loss"][0], h["sparse_categorical_crossentropy"][0]])
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5)


def test_class_weight_missing_or_impossible_labels_fail_before_training():
    model = softmax_model(loss="categorical_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match=r"labels \[2\] occur in y but have no weight"):
        model.fit(X, np.eye(3)[LABELS], class_weight={0: 1.0, 1: 2.0}, verbose=0)
    with pytest.raises(ValueError, match=r"classes \[3, 7\] cannot occur in targets of 3"):
        model.fit(X, np.eye(3)[LABELS], class_weight={0: 1, 1: 1, 2: 1, 3: 1, 7: 2}, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # nothing trained
    binary = VALID  # 0/1 column: two classes
    with pytest.raises(ValueError, match=r"classes \[2\] cannot occur"):
        ClassWeights({0: 1.0, 1: 2.0, 2: 3.0}, ["out"]).apply([torch.as_tensor(binary)], None)

    def batches():
        while True:
            yield X[:4], LABELS[:4]  # labels 0, 1, 2, 1

    sparse = softmax_model(loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"class_weight \[0, 1\] .*labels \[2\]"):
        sparse.fit(batches(), steps_per_epoch=1, class_weight={0: 1.0, 1: 2.0}, verbose=0)

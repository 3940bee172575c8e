"""saving/export.py (`model.export`): torch.export programs that run without fitorch, and
ONNX models whose onnxruntime outputs reproduce `model.predict`, for a CNN, an LSTM and a
functional model with two inputs; the batch dimension stays dynamic."""

import subprocess
import sys
import textwrap

import numpy as np
import onnxruntime
import pytest

import fitorch
from fitorch import layers
from fitorch.models import Sequential


def _cnn():
    return Sequential([layers.Conv2D(4, 3, input_shape=(8, 8, 3), activation="relu"),
                       layers.MaxPooling2D(), layers.Flatten(), layers.Dense(2)])  # fmt: skip


def _lstm():
    return Sequential([layers.LSTM(4, input_shape=(6, 3)), layers.Dense(1)])


def _two_inputs():
    a, b = layers.Input((5,), name="a"), layers.Input((3,), name="b")
    hidden = layers.Dense(4, activation="tanh")(layers.Concatenate()([a, b]))
    return fitorch.Model([a, b], layers.Dense(2)(hidden))


MODELS = {"cnn": (_cnn, [(8, 8, 3)]), "lstm": (_lstm, [(6, 3)]), "two": (_two_inputs, [(5,), (3,)])}


def _inputs(shapes, batch, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(batch, *s)).astype("float32") for s in shapes]


def _predict(model, xs):
    return model.predict(xs if len(xs) > 1 else xs[0], verbose=0)


@pytest.mark.slow  # three exports and a fresh interpreter
def test_torch_programs_run_without_fitorch(tmp_path):
    expected = {}
    for name, (build, shapes) in MODELS.items():
        model = build()
        assert model.export(tmp_path / f"{name}.pt2", verbose=False) == str(
            tmp_path / f"{name}.pt2"
        )
        for batch in (1, 7):
            xs = _inputs(shapes, batch)
            np.savez(tmp_path / f"{name}_{batch}_in.npz", *xs)
            expected[name, batch] = _predict(model, xs)
    script = textwrap.dedent(f"""
        import sys
        sys.modules["fitorch"] = None  # any import of fitorch now fails
        import numpy as np, torch
        for name in {list(MODELS)!r}:
            program = torch.export.load(f"{tmp_path}/{{name}}.pt2").module()
            for batch in (1, 7):
                saved = np.load(f"{tmp_path}/{{name}}_{{batch}}_in.npz")
                xs = [saved[f"arr_{{i}}"] for i in range(len(saved.files))]
                with torch.no_grad():
                    out = program(*[torch.from_numpy(x) for x in xs])
                np.save(f"{tmp_path}/{{name}}_{{batch}}_out.npy", out.numpy())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    for (name, batch), want in expected.items():
        got = np.load(tmp_path / f"{name}_{batch}_out.npy")
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"{name} {batch}")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_onnx_models_reproduce_predict_in_onnxruntime(tmp_path, name):
    build, shapes = MODELS[name]
    model = build()
    path = model.export(tmp_path / f"{name}.onnx", format="onnx", verbose=False)
    session = onnxruntime.InferenceSession(path)
    assert len(session.get_inputs()) == len(shapes)
    for batch in (1, 5):
        xs = _inputs(shapes, batch, seed=batch)
        feeds = {spec.name: x for spec, x in zip(session.get_inputs(), xs)}
        (got,) = session.run(None, feeds)
        np.testing.assert_allclose(got, _predict(model, xs), rtol=1e-5, atol=1e-5)


def test_export_with_an_input_signature_for_an_unbuilt_model(tmp_path, capsys):
    model = Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match=r"cannot tell the model's inputs: give input_signature"):
        model.export(tmp_path / "m.pt2")
    model.build((None, 4))
    path = model.export(tmp_path / "m.pt2", input_signature=[(None, 4)])
    assert capsys.readouterr().out == f"Saved torch artifact at {path!r}.\n"


def test_export_argument_errors(tmp_path, monkeypatch):
    model = _lstm()
    with pytest.raises(
        ValueError, match=r"format=...\) must be one of \('torch', 'onnx'\); got 'tf"
    ):
        model.export(tmp_path / "m", format="tf_saved_model")
    with pytest.raises(TypeError, match=r"export\(\) got an unexpected keyword argument 'opset'"):
        model.export(tmp_path / "m", opset=17)
    with pytest.raises(
        ValueError, match=r"every dimension but the batch known; got .*\(None, None, 3\)"
    ):
        model.export(tmp_path / "m", input_signature=[(None, None, 3)])
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"needs the 'onnx' package.*pip install onnx"):
        model.export(tmp_path / "m.onnx", format="onnx")

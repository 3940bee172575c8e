"""saving/weights_h5.py with hostile or damaged files: virtual datasets (data mapped from
other files) and truncated or non-HDF5 files are refused with ValueError naming the file;
the model's weights stay unchanged."""

import os

import h5py
import numpy as np
import pytest
import torch

import fitorch
from fitorch import layers


def _model():
    fitorch.utils.set_random_seed(0)
    model = fitorch.Sequential([fitorch.Input((2,)), layers.Dense(3)])
    model.compile("sgd", "mse")
    return model


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


def _assert_refused(model, path, match):
    before = _weights(model)
    with pytest.raises(ValueError, match=match):
        model.load_weights(path)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def _virtualize(path, dataset, source):
    """Replace `dataset` of the file at `path` by a virtual view of `source`'s `x`."""
    with h5py.File(path, "a") as f:
        shape, dtype = f[dataset].shape, f[dataset].dtype
        del f[dataset]
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[:] = h5py.VirtualSource(str(source), "x", shape=shape)
        f.create_virtual_dataset(dataset, layout)


@pytest.mark.parametrize("dataset", ["layers/dense/vars/0", "optimizer/vars/2"])
def test_virtual_datasets_are_refused(tmp_path, dataset):
    # optimizer/vars/2: Adam's first slot (the kernel's first moment), read after the weights.
    path = tmp_path / "w.weights.h5"
    model = _model()
    model.compile(fitorch.optimizers.Adam(), "mse")
    model.fit(np.zeros((4, 2), "float32"), np.zeros((4, 3), "float32"), verbose=0)
    model.save_weights(path)
    secret = tmp_path / "secret.h5"
    with h5py.File(secret, "w") as f:
        f["x"] = np.full((2, 3), 7.0, "float32")
    _virtualize(path, dataset, secret)
    with h5py.File(path, "r") as f:
        assert f[dataset].is_virtual and f[dataset][()].flat[0] == 7  # h5py would read it
    with torch.no_grad():  # differ from the file, so that a partial load would show
        for p in model.parameters():
            p.add_(1.0)
    _assert_refused(model, path, rf"{path}: .*/{dataset} stores its data in a virtual dataset")
    assert int(model.optimizer.iterations) == 1


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated_weights_file_names_the_file(tmp_path, keep):
    path = tmp_path / "w.weights.h5"
    _model().save_weights(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    _assert_refused(_model(), path, rf"{path}: not a readable HDF5 file \(truncated or corrupt\)")


def test_non_hdf5_bytes_under_an_h5_name(tmp_path):
    path = tmp_path / "w.weights.h5"
    path.write_bytes(os.urandom(4096))
    # No HDF5 signature: read as safetensors, whose length header is refused.
    _assert_refused(_model(), path, rf"{path}: the header claims .* corrupt or hostile")


def test_truncated_legacy_whole_model_h5(tmp_path):
    # A Keras 2 style whole-model file (model_config attribute), cut in half.
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = '{"class_name": "Sequential", "config": {"layers": []}}'
        f.create_dataset("model_weights/pad", data=np.zeros(4096, "float32"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf"{path}: not a readable HDF5 file"):
        fitorch.saving.load_model(path)

"""channels_last inputs of the applications reach torch's convolutions as torch's
channels_last memory format (a permuted view, no NCHW copy; docs/applications.md), and give
the same outputs and gradients as the same convolutions on NCHW-contiguous copies."""

import numpy as np
import torch
from torch.overrides import TorchFunctionMode

from fitorch import applications, layers


class _Convolutions(TorchFunctionMode):
    """Records the memory format of every `conv2d` input; with `copy_to_nchw` hands the
    convolution an NCHW-contiguous copy instead (the 'contiguous path')."""

    def __init__(self, copy_to_nchw: bool = False):
        super().__init__()
        self.copy_to_nchw = copy_to_nchw
        self.seen: list[tuple[bool, bool, bool]] = []  # channels_last, nchw, layouts differ

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.conv2d:
            x = args[0]
            differ = x.shape[1] > 1 and x.shape[2] * x.shape[3] > 1
            self.seen.append(
                (x.is_contiguous(memory_format=torch.channels_last), x.is_contiguous(), differ)
            )
            if self.copy_to_nchw:
                args = (x.contiguous(), *args[1:])
        return func(*args, **kwargs)


def _model():
    torch.manual_seed(0)
    return applications.MobileNetV2(
        weights=None, alpha=0.35, input_shape=(32, 32, 3), classes=4, classifier_activation=None
    )


def _run(model, x, copy_to_nchw, training):
    """Outputs, parameter gradients of sum(outputs**2), and the recorded conv inputs."""
    model.zero_grad(set_to_none=True)
    with _Convolutions(copy_to_nchw) as mode:
        out = model(torch.as_tensor(x), training=training)
        (out**2).sum().backward()
    grads = [w.grad.clone() for w in model.trainable_weights]
    return out.detach(), grads, mode.seen


def test_mobilenet_v2_convolutions_see_channels_last_views():
    model = _model()
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    _, _, seen = _run(model, x, copy_to_nchw=False, training=True)
    convs = [x for x in model.layers if isinstance(x, (layers.Conv2D, layers.DepthwiseConv2D))]
    assert len(seen) == len(convs) == 52  # one torch call per convolution layer, forward
    # Every input is channels_last in memory; none of them is an NCHW copy where the two
    # layouts differ (C > 1 and H * W > 1; the last blocks run at 1x1 here).
    assert all(cl for cl, _, _ in seen)
    assert not any(nchw for _, nchw, differ in seen if differ)
    assert sum(differ for _, _, differ in seen) > len(seen) // 2


def test_channels_last_path_equals_the_nchw_contiguous_path():
    """Training mode, float32, batch 8: BatchNormalization over few values amplifies the
    convolutions' rounding differences (measured about 1e-4 of the output and gradient scales
    after the 52 convolutions), hence tolerances on those scales."""
    model = _model()
    x = np.random.default_rng(1).uniform(-1, 1, (8, 32, 32, 3)).astype("float32")
    out_cl, grads_cl, _ = _run(model, x, copy_to_nchw=False, training=True)
    out_nchw, grads_nchw, seen = _run(model, x, copy_to_nchw=True, training=True)
    assert len(seen) == 52 and out_cl.abs().max() > 0.1
    torch.testing.assert_close(out_cl, out_nchw, atol=1e-3 * out_nchw.abs().max().item(), rtol=0)
    scale = max(g.abs().max().item() for g in grads_nchw)
    assert len(grads_cl) == len(grads_nchw) == 158 and scale > 0.1
    for a, b in zip(grads_cl, grads_nchw, strict=True):
        torch.testing.assert_close(a, b, atol=1e-3 * scale, rtol=0)

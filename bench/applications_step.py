"""Time of one training step of fitorch's MobileNetV2 and ResNet50 against a raw torch loop.

    python bench/applications_step.py [--batch 8] [--size 96] [--steps 3] [--rounds 3]
                                      [--device cpu|cuda] [--models MobileNetV2,ResNet50]

fitorch side: `applications.<Model>(weights=None, input_shape=(size, size, 3), classes=10)`
compiled with SGD(0.01) and sparse categorical crossentropy, one `train_on_batch` per step on
NHWC images (the convolutions see them as torch channels_last views, no copy).
Reference side: the same architecture from torchvision (`mobilenet_v2`, `resnet50`, 10 classes)
trained by a raw loop (zero_grad, cross_entropy, backward, SGD step) on NCHW images in
`torch.channels_last` memory format, the model converted to channels_last too. When
torchvision is not installed the reference is the fitorch-built network itself driven by the
same raw loop (logits head, `torch.optim.SGD`), which isolates fitorch's step overhead.

Rounds alternate (fitorch, reference) so both see the same machine load; each round times
`steps` steps after one warm-up step. Printed: median and fastest seconds per step of each
side and the ratio fitorch / reference (below 1 is faster than the reference).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
import fitorch  # noqa: E402
from fitorch import applications  # noqa: E402

_TORCHVISION = {"MobileNetV2": "mobilenet_v2", "ResNet50": "resnet50"}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _timed(step, steps: int, device: str) -> float:
    """Seconds per step over `steps` steps, after one warm-up step."""
    step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - start) / steps


def fitorch_step(name: str, x: np.ndarray, y: np.ndarray, size: int, device: str):
    """A closure running one fitorch training step (`train_on_batch`)."""
    model = getattr(applications, name)(weights=None, input_shape=(size, size, 3), classes=10)
    model.to(device)
    model.compile(optimizer=fitorch.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    return lambda: model.train_on_batch(x, y)


def reference_step(name: str, x: np.ndarray, y: np.ndarray, size: int, device: str):
    """(label, closure running one raw-loop step) on torchvision's model when installed, else
    on the fitorch-built network with a logits head."""
    labels = torch.as_tensor(y, dtype=torch.long, device=device)
    try:
        import torchvision
    except ImportError:
        net = getattr(applications, name)(
            weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None
        ).to(device)
        images = torch.as_tensor(x, device=device)
        label = "raw loop, same fitorch network (torchvision not installed)"
    else:
        net = getattr(torchvision.models, _TORCHVISION[name])(num_classes=10).to(device)
        net = net.to(memory_format=torch.channels_last)
        images = torch.as_tensor(x, device=device).permute(0, 3, 1, 2)  # channels_last view
        label = f"raw loop, torchvision {torchvision.__version__} {_TORCHVISION[name]}"
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)

    def step():
        net.train()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(images), labels)
        loss.backward()
        optimizer.step()

    return label, step


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--models", default="MobileNetV2,ResNet50")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (args.batch, args.size, args.size, 3)).astype("float32")
    y = rng.integers(0, 10, args.batch)
    print(f"device={args.device} batch={args.batch} size={args.size} torch={torch.__version__}")
    for name in args.models.split(","):
        ours = fitorch_step(name, x, y, args.size, args.device)
        label, theirs = reference_step(name, x, y, args.size, args.device)
        times: dict[str, list[float]] = {"fitorch": [], "reference": []}
        for _ in range(args.rounds):
            times["fitorch"].append(_timed(ours, args.steps, args.device))
            times["reference"].append(_timed(theirs, args.steps, args.device))
        med = {k: statistics.median(v) for k, v in times.items()}
        best = {k: min(v) for k, v in times.items()}
        print(f"{name} vs {label}")
        print(
            f"  s/step median fitorch {med['fitorch']:.4f} reference {med['reference']:.4f} "
            f"ratio {med['fitorch'] / med['reference']:.3f}; fastest ratio "
            f"{best['fitorch'] / best['reference']:.3f}"
        )


if __name__ == "__main__":
    main()

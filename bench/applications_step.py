"""Time of one training step of fitorch's MobileNetV2 and ResNet50 against a raw torch loop.

    python bench/applications_step.py [--batch 8] [--size 96] [--steps 3] [--rounds 3]
                                      [--device cpu|cuda] [--models MobileNetV2,ResNet50]

fitorch side: `applications.<Model>(weights=None, input_shape=(size, size, 3), classes=10)`
compiled with SGD(0.01) and sparse categorical crossentropy, one `train_on_batch` per step on
NHWC images (the convolutions see them as torch channels_last views, no copy).
References, each trained by the same raw loop (zero_grad, cross_entropy on logits, backward,
`torch.optim.SGD(0.01)` step):
- `raw_same`: the fitorch-built network itself (logits head) on the same NHWC batch, which
  isolates fitorch's step overhead (`train_on_batch` against a hand-written loop);
- `torchvision` (when installed): torchvision's `mobilenet_v2` / `resnet50` (10 classes) on
  NCHW images in `torch.channels_last` memory format, the model converted to channels_last.
torchvision cannot go into an environment pinned to another torch; run this script with a
Python that has both, e.g. `PYTHONPATH=. /path/to/venv/bin/python bench/applications_step.py`.

Rounds are interleaved (fitorch, raw_same, torchvision, fitorch, ...) so all sides see the
same machine load; each round times `steps` steps after one warm-up step. Printed: median
seconds per step of each side and the ratios fitorch / reference (median and fastest; below
1 is faster than the reference).
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


def _raw_loop(net, images: torch.Tensor, labels: torch.Tensor):
    """One raw-loop step on `net`: zero_grad, cross_entropy on logits, backward, SGD step."""
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)

    def step():
        net.train()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(images), labels)
        loss.backward()
        optimizer.step()

    return step


def raw_same_network_step(name: str, x: np.ndarray, y: np.ndarray, size: int, device: str):
    """The fitorch-built network (logits head) driven by the raw loop: fitorch's step overhead."""
    net = getattr(applications, name)(
        weights=None, input_shape=(size, size, 3), classes=10, classifier_activation=None
    ).to(device)
    labels = torch.as_tensor(y, dtype=torch.long, device=device)
    return _raw_loop(net, torch.as_tensor(x, device=device), labels)


def torchvision_step(name: str, x: np.ndarray, y: np.ndarray, device: str):
    """(label, step) for torchvision's model in the raw loop on channels_last NCHW images, or
    None when torchvision is not installed."""
    try:
        import torchvision
    except ImportError:
        return None
    net = getattr(torchvision.models, _TORCHVISION[name])(num_classes=10).to(device)
    net = net.to(memory_format=torch.channels_last)
    images = torch.as_tensor(x, device=device).permute(0, 3, 1, 2)  # channels_last view
    labels = torch.as_tensor(y, dtype=torch.long, device=device)
    label = f"torchvision {torchvision.__version__} {_TORCHVISION[name]}"
    return label, _raw_loop(net, images, labels)


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
    print(
        f"device={args.device} batch={args.batch} size={args.size} torch={torch.__version__} "
        f"threads={torch.get_num_threads()}"
    )
    for name in args.models.split(","):
        sides = {
            "fitorch": fitorch_step(name, x, y, args.size, args.device),
            "raw_same": raw_same_network_step(name, x, y, args.size, args.device),
        }
        tv = torchvision_step(name, x, y, args.device)
        if tv is not None:
            sides["torchvision"] = tv[1]
        times: dict[str, list[float]] = {k: [] for k in sides}
        for _ in range(args.rounds):  # interleaved: every side sees the same machine load
            for key, step in sides.items():
                times[key].append(_timed(step, args.steps, args.device))
        med = {k: statistics.median(v) for k, v in times.items()}
        best = {k: min(v) for k, v in times.items()}
        print(f"{name}: s/step median " + ", ".join(f"{k} {v:.4f}" for k, v in med.items()))
        for ref in [k for k in sides if k != "fitorch"]:
            what = tv[0] if ref == "torchvision" else "raw loop, same fitorch network"
            print(
                f"  fitorch / {ref} ({what}): median ratio {med['fitorch'] / med[ref]:.3f}, "
                f"fastest ratio {best['fitorch'] / best[ref]:.3f}"
            )
        if tv is None:
            print("  (torchvision not installed: no torchvision comparison)")


if __name__ == "__main__":
    main()

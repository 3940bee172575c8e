"""Cost of one metric `update_state` against a hand-written torch expression and torchmetrics.

    python bench/bench_metrics.py [--device cpu|cuda] [--repeat 7] [--number 300]

Batch 128 x 10 (softmax scores, integer labels). Reports microseconds per update (best of
`repeat` runs of `number` updates) and ratios:
- accuracy: SparseCategoricalAccuracy vs `correct += (argmax == y).sum(); seen += n`
- AUC (200 thresholds, micro over the one-hot labels) vs a hand-written bucketized histogram
  and torchmetrics' binned AUROC
- the five-metric set (accuracy, top-5, precision, recall, AUC)
- mse/mae/mape MeanMetricWrappers (the trainer's small-model benchmark) vs raw expressions
- one training step of the 784-512-512-10 MLP (Adam, batch 128) with and without the five
  metrics: the overhead the metrics add to an epoch.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fitorch import metrics  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench(fn, device, number, repeat) -> float:
    """Best time per call in microseconds."""
    fn()
    _sync(device)

    def run():
        for _ in range(number):
            fn()
        _sync(device)

    return min(timeit.repeat(run, number=1, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    n, c = 128, 10
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, c, (n,), generator=g).to(device)
    onehot = torch.nn.functional.one_hot(y, c).float()
    scores = torch.randn(n, c, generator=g).to(device).softmax(-1)
    t = lambda fn: bench(fn, device, args.number, args.repeat)  # noqa: E731
    rows = []

    # -- accuracy ---------------------------------------------------------------------------
    acc = metrics.SparseCategoricalAccuracy().to(device)
    correct = torch.zeros((), device=device)
    seen = torch.zeros((), device=device)

    def hand_acc():
        correct.add_((scores.argmax(-1) == y).sum())
        seen.add_(n)

    rows.append(("accuracy", t(lambda: acc.update_state(y, scores)), t(hand_acc)))

    # -- AUC ------------------------------------------------------------------------------------
    auc = metrics.AUC().to(device)
    hist = torch.zeros(2 * 200, device=device)
    edges = torch.tensor([(i + 1) / 199 for i in range(198)], device=device)
    flat_labels = onehot.reshape(-1).long()

    def hand_auc():  # bucket index + one histogram per label value
        idx = torch.bucketize(scores.reshape(-1), edges) + 200 * flat_labels
        hist.index_add_(0, idx, torch.ones_like(idx, dtype=torch.float32))

    rows.append(("AUC", t(lambda: auc.update_state(onehot, scores)), t(hand_auc)))

    # -- the five-metric set ------------------------------------------------------------------
    five = [
        metrics.SparseCategoricalAccuracy(),
        metrics.SparseTopKCategoricalAccuracy(k=5),
        metrics.Precision(),
        metrics.Recall(),
        metrics.AUC(),
    ]
    five = [m.to(device) for m in five]

    def five_update():
        five[0].update_state(y, scores)
        five[1].update_state(y, scores)
        for m in five[2:]:
            m.update_state(onehot, scores)

    top5 = torch.zeros((), device=device)
    tp = torch.zeros(3, device=device)

    def hand_five():
        hand_acc()
        target = scores.gather(1, y[:, None])
        top5.add_(((scores > target).sum(-1) < 5).sum())
        pred = scores > 0.5
        tp.add_(torch.stack([(pred & (onehot > 0)).sum(), pred.sum(), onehot.sum()]))
        hand_auc()

    rows.append(("five metrics", t(five_update), t(hand_five)))

    # -- torchmetrics ---------------------------------------------------------------------------
    tm_rows = {}
    try:
        from torchmetrics import classification as tmc

        tm_acc = tmc.MulticlassAccuracy(num_classes=c, average="micro").to(device)
        tm_rows["accuracy"] = t(lambda: tm_acc.update(scores, y))
        tm_auc = tmc.MultilabelAUROC(num_labels=c, average="micro", thresholds=200).to(device)
        tm_rows["AUC"] = t(lambda: tm_auc.update(scores, onehot.long()))
        tm_five = [
            tm_acc,
            tmc.MulticlassAccuracy(num_classes=c, top_k=5, average="micro").to(device),
            tmc.MultilabelPrecision(num_labels=c, average="micro").to(device),
            tmc.MultilabelRecall(num_labels=c, average="micro").to(device),
            tm_auc,
        ]

        def tm_five_update():
            tm_five[0].update(scores, y)
            tm_five[1].update(scores, y)
            for m in tm_five[2:]:
                m.update(scores, onehot.long())

        tm_rows["five metrics"] = t(tm_five_update)
    except ImportError:
        pass

    print(f"device={device} threads={args.threads} batch={n}x{c}  (microseconds per update)")
    print(f"{'metric':<14}{'fitorch':>10}{'hand':>10}{'ratio':>8}{'torchmetrics':>14}{'ratio':>8}")
    for name, ours, hand in rows:
        tm = tm_rows.get(name)
        tm_text = f"{tm:14.1f}{ours / tm:8.2f}" if tm else ""
        print(f"{name:<14}{ours:10.1f}{hand:10.1f}{ours / hand:8.2f}{tm_text}")

    # -- mse/mae/mape wrappers (batch 32 x 1) ---------------------------------------------------
    yt, yp = torch.rand(32, 1, device=device), torch.rand(32, 1, device=device)
    wrappers = [metrics.resolve(s, yt, yp) for s in ("mse", "mae", "mape")]
    sums = torch.zeros(3, device=device)

    def raw_three():
        d = yp - yt
        sums[0] += (d * d).mean(-1).sum()
        sums[1] += d.abs().mean(-1).sum()
        sums[2] += (100 * d.abs() / yt.abs().clamp_min(1e-7)).mean(-1).sum()

    def wrapped_three():
        for m in wrappers:
            m.update_state(yt, yp)

    ours, raw = t(wrapped_three), t(raw_three)
    print(f"mse+mae+mape (32x1): fitorch {ours:.1f} us, raw {raw:.1f} us, ratio {ours / raw:.2f}")

    # -- overhead on a training step of the 784-512-512-10 MLP -----------------------------------
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 512),
        torch.nn.ReLU(),
        torch.nn.Linear(512, 10),
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(n, 784, device=device)

    def step(with_metrics):
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if with_metrics:
            probs = logits.detach().softmax(-1)
            five[0].update_state(y, probs)
            five[1].update_state(y, probs)
            for m in five[2:]:
                m.update_state(onehot, probs)

    # alternate the two variants so that machine noise hits both alike; keep the best of each
    number = max(10, args.number // 20)
    plain, with_m = float("inf"), float("inf")
    for _ in range(args.repeat):
        plain = min(plain, bench(lambda: step(False), device, number, 1))
        with_m = min(with_m, bench(lambda: step(True), device, number, 1))
    five_cost = t(five_update)
    print(
        f"MLP 784-512-512-10 step: {plain:.0f} us, with five metrics {with_m:.0f} us "
        f"(+{100 * (with_m / plain - 1):.1f}%); five updates alone {five_cost:.0f} us = "
        f"{100 * five_cost / plain:.1f}% of a step"
    )


if __name__ == "__main__":
    main()

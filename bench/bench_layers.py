"""fit of a small CNN and an Embedding -> LSTM classifier vs a raw PyTorch loop and Keras 3.

    python bench/bench_layers.py [--case cnn|lstm|both] [--samples-cnn 4096]
        [--samples-lstm 2048] [--rounds 3] [--threads 0] [--device cpu] [--no-keras]
        [--raw-layout nchw|nhwc]

(a) CNN on 28x28x1: Conv2D 32 -> MaxPool -> Conv2D 64 -> MaxPool -> Flatten -> Dense 10,
    batch 128, sparse CE from logits, Adam.
(b) Embedding(10000, 64) -> LSTM(128) -> Dense(1) on length-80 sequences, batch 128,
    binary CE from logits, Adam.
The raw loop uses `nn.Conv2d`/`nn.LSTM` on the same data (NCHW, as a torch user would hold
it, unless --raw-layout nhwc), shuffles with one randperm per epoch and slices with
index_select. Keras 3 runs on its torch backend (KERAS_BACKEND=torch). Every variant gets a
warm-up epoch; then each round times one epoch of every variant in turn (same machine load);
medians are reported with the ratios fit/raw and fit/keras. Issue 11 targets: fit <= 1.10x raw,
and faster than Keras 3 on torch.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fitorch  # noqa: E402


def raw_epoch(net, opt, loss_fn, x, y, batch_size):
    n = x.shape[0]
    perm = torch.randperm(n, device=x.device)
    total = torch.zeros((), device=x.device)
    for i in range(0, n, batch_size):
        idx = perm[i : i + batch_size]
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        loss = loss_fn(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * len(idx)
    return (total / n).item()


def cnn_case(n, device, raw_layout):
    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype("int64")

    class Raw(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = torch.nn.Conv2d(1, 32, 3), torch.nn.Conv2d(32, 64, 3)
            self.fc = torch.nn.Linear(1600, 10)

        def forward(self, v):
            if raw_layout == "nhwc":
                v = v.permute(0, 3, 1, 2)
            v = torch.max_pool2d(torch.relu(self.c1(v)), 2)
            v = torch.max_pool2d(torch.relu(self.c2(v)), 2)
            return self.fc(v.flatten(1))

    net = Raw().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    xt = torch.as_tensor(
        x if raw_layout == "nhwc" else x.transpose(0, 3, 1, 2).copy(), device=device
    )
    yt = torch.as_tensor(y, device=device)
    raw = lambda: raw_epoch(net, opt, torch.nn.CrossEntropyLoss(), xt, yt, 128)  # noqa: E731

    def build(lib):
        model = lib.Sequential([
            lib.Input(shape=(28, 28, 1)),
            lib.layers.Conv2D(32, 3, activation="relu"), lib.layers.MaxPooling2D(),
            lib.layers.Conv2D(64, 3, activation="relu"), lib.layers.MaxPooling2D(),
            lib.layers.Flatten(), lib.layers.Dense(10),
        ])  # fmt: skip
        loss = lib.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=lib.optimizers.Adam(1e-3), loss=loss)
        return model

    return raw, build, x, y


def lstm_case(n, device, raw_layout):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10000, (n, 80)).astype("int64")
    y = rng.integers(0, 2, (n, 1)).astype("float32")

    class Raw(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(10000, 64)
            self.lstm = torch.nn.LSTM(64, 128, batch_first=True)
            self.fc = torch.nn.Linear(128, 1)

        def forward(self, v):
            out, _ = self.lstm(self.emb(v))
            return self.fc(out[:, -1])

    net = Raw().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7, foreach=True)
    xt, yt = torch.as_tensor(x, device=device), torch.as_tensor(y, device=device)
    raw = lambda: raw_epoch(net, opt, torch.nn.BCEWithLogitsLoss(), xt, yt, 128)  # noqa: E731

    def build(lib):
        model = lib.Sequential([
            lib.Input(shape=(80,), dtype="int64"), lib.layers.Embedding(10000, 64),
            lib.layers.LSTM(128), lib.layers.Dense(1),
        ])  # fmt: skip
        loss = lib.losses.BinaryCrossentropy(from_logits=True)
        model.compile(optimizer=lib.optimizers.Adam(1e-3), loss=loss)
        return model

    return raw, build, x, y


def run(title, case, n, args):
    raw, build, x, y = case(n, args.device, args.raw_layout)
    ours = build(fitorch).to(args.device)
    variants = {"raw": raw, "fitorch": lambda: ours.fit(x, y, batch_size=128, epochs=1, verbose=0)}
    if args.keras:
        import keras

        theirs = build(keras)
        variants["keras"] = lambda: theirs.fit(x, y, batch_size=128, epochs=1, verbose=0)
    times = {k: [] for k in variants}
    for fn in variants.values():  # warm-up epoch
        fn()
    for _ in range(args.rounds):
        for k, fn in variants.items():
            t0 = time.perf_counter()
            fn()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    line = f"{title} ({n} samples): raw {med['raw']:.3f}s, fitorch {med['fitorch']:.3f}s"
    line += f" -> fit/raw {med['fitorch'] / med['raw']:.3f}x"
    if "keras" in med:
        line += f"; keras {med['keras']:.3f}s -> fit/keras {med['fitorch'] / med['keras']:.3f}x"
    print(line, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", default="both", choices=["cnn", "lstm", "both"])
    parser.add_argument("--samples-cnn", type=int, default=4096)
    parser.add_argument("--samples-lstm", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--raw-layout", default="nchw", choices=["nchw", "nhwc"])
    parser.add_argument("--no-keras", dest="keras", action="store_false")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.case in ("cnn", "both"):
        run("(a) CNN 28x28x1, batch 128", cnn_case, args.samples_cnn, args)
    if args.case in ("lstm", "both"):
        run("(b) Embedding(10000,64)->LSTM(128)->Dense(1), len 80, batch 128", lstm_case,
            args.samples_lstm, args)  # fmt: skip


if __name__ == "__main__":
    main()

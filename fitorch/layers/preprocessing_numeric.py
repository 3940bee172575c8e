"""Numeric preprocessing layers (Keras 3 semantics). So far: Discretization with bin_boundaries."""

from __future__ import annotations

import numpy as np
import torch

from fitorch.layers.base import Layer

__all__ = ["Discretization"]


class Discretization(Layer):
    """Bucket floats by sorted `bin_boundaries`: `y = #{b in boundaries : b <= x}` (int64).

    E.g. boundaries `[0, 1, 2]`: `-1.5 -> 0`, `0.5 -> 1`, `1.0 -> 2`, `3.4 -> 3`. Only
    `output_mode="int"` with given boundaries is implemented (`num_bins` + `adapt` is not yet).
    """

    def __init__(self, bin_boundaries=None, num_bins=None, output_mode="int", **kwargs):
        kwargs.pop("epsilon", None)
        super().__init__(**kwargs)
        if bin_boundaries is None:
            raise ValueError(
                "Discretization: bin_boundaries is required (num_bins with adapt is not "
                f"implemented in fitorch yet); got bin_boundaries=None, num_bins={num_bins!r}."
            )
        if output_mode != "int":
            raise ValueError(
                f"Discretization: only output_mode='int' is supported, got {output_mode!r}."
            )
        self.bin_boundaries = [float(b) for b in bin_boundaries]
        self.num_bins, self.output_mode = len(self.bin_boundaries) + 1, output_mode
        self.built = True

    def call(self, inputs):
        x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
        edges = torch.tensor(self.bin_boundaries, dtype=torch.float64, device=x.device)
        return torch.bucketize(x.to(torch.float64), edges, right=True)

    def get_config(self):
        return {
            **super().get_config(),
            "bin_boundaries": list(self.bin_boundaries),
            "num_bins": None,
            "output_mode": self.output_mode,
        }

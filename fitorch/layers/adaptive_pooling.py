"""Adaptive pooling: AdaptiveAveragePooling1D/2D/3D and AdaptiveMaxPooling1D/2D/3D (Keras 3).

The input's spatial axes are cut into `output_size` bins each (bin i of n over length L spans
`floor(i * L / n)` to `ceil((i + 1) * L / n)`), and each bin is averaged or maxed, whatever the
input size: `AdaptiveAveragePooling2D((7, 7))` gives a 7x7 map from any image. Computed by
`fitorch.ops.adaptive_average_pool` / `adaptive_max_pool` (torch's kernels, as Keras on torch).
"""

from __future__ import annotations

from fitorch.layers._utils import check_choice, default_format, normalize_tuple
from fitorch.layers.base import Layer

__all__ = [
    "AdaptiveAveragePooling1D", "AdaptiveAveragePooling2D", "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D", "AdaptiveMaxPooling2D", "AdaptiveMaxPooling3D",
]  # fmt: skip


class _AdaptivePooling(Layer):
    """Pool every spatial axis into `output_size` bins (an int, or one per spatial axis)."""

    rank = 2
    mode = "average"

    def __init__(self, output_size, data_format=None, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.output_size = normalize_tuple(output_size, self.rank, "output_size", kind)
        self.data_format = check_choice(
            default_format(data_format), ("channels_last", "channels_first"), "data_format", kind
        )

    def call(self, inputs):
        from fitorch import ops  # fitorch.ops imports the layers

        if inputs.ndim != self.rank + 2:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects inputs of rank {self.rank + 2}; "
                f"got shape {tuple(inputs.shape)}."
            )
        pool = ops.adaptive_average_pool if self.mode == "average" else ops.adaptive_max_pool
        return pool(inputs, self.output_size, data_format=self.data_format)

    def get_config(self):
        return {
            **super().get_config(),
            "output_size": self.output_size,
            "data_format": self.data_format,
        }


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Average of each of `output_size` bins of (batch, steps, channels) inputs."""

    rank = 1


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Average of each of `output_size` (rows, cols) bins of an image batch."""

    rank = 2


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Average of each of `output_size` (depth, rows, cols) bins of a volume batch."""

    rank = 3


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Maximum of each of `output_size` bins of (batch, steps, channels) inputs."""

    rank = 1
    mode = "max"


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Maximum of each of `output_size` (rows, cols) bins of an image batch."""

    rank = 2
    mode = "max"


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Maximum of each of `output_size` (depth, rows, cols) bins of a volume batch."""

    rank = 3
    mode = "max"

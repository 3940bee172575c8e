"""`fitorch.config`: Keras 3's global settings (`keras.config`), one implementation each.

The values live where fitorch reads them: `floatx`/`epsilon`/`image_data_format` in
`fitorch.backend` (so `K.epsilon()` and `config.epsilon()` are one setting), the dtype policy
in `fitorch.mixed_precision`, the unsafe-deserialization switch in `fitorch.serialization`,
traceback filtering in `fitorch.utils.traceback_utils`, interactive logging in
`fitorch.utils.console`.

    >>> from fitorch import config
    >>> config.backend(), config.floatx(), config.epsilon()
    ('torch', 'float32', 1e-07)
"""

from __future__ import annotations

from fitorch.backend import (
    backend,
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from fitorch.mixed_precision import dtype_policy, set_global_policy
from fitorch.serialization import enable_unsafe_deserialization
from fitorch.utils.console import (
    disable_interactive_logging,
    enable_interactive_logging,
    is_interactive_logging_enabled,
)
from fitorch.utils.traceback_utils import (
    disable_traceback_filtering,
    enable_traceback_filtering,
    is_traceback_filtering_enabled,
)

__all__ = [
    "backend",
    "disable_interactive_logging",
    "disable_traceback_filtering",
    "dtype_policy",
    "enable_interactive_logging",
    "enable_traceback_filtering",
    "enable_unsafe_deserialization",
    "epsilon",
    "floatx",
    "image_data_format",
    "is_interactive_logging_enabled",
    "is_traceback_filtering_enabled",
    "set_dtype_policy",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
]


set_dtype_policy = set_global_policy  # Keras 3 name; None restores "float32"

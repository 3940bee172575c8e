"""`fitorch.ops`: the Keras 3 `keras.ops` namespace as thin torch calls.

Grouped as Keras groups it; every group module lists its ops in `__all__`, and this package
re-exports them all, so `from fitorch import ops; ops.mean(x)` works like `keras.ops.mean`.
- `fitorch.ops.numpy`: the NumPy-style functions (`add`, `matmul`, `reshape`, `where`, ...).
- `fitorch.ops.core`: tensors, dtypes, control flow, slicing and scattering.
- `fitorch.ops.dtypes`: the dtype rules the ops share (not part of `keras.ops`).
See docs/ops.md for the coverage and what is left out.
"""

from fitorch.ops import core, dtypes, numpy
from fitorch.ops.core import *  # noqa: F401,F403
from fitorch.ops.numpy import *  # noqa: F401,F403

__all__ = [*core.__all__, *numpy.__all__]

# The one wrapping point of the package: every `fitorch.ops.<name>` also builds a graph node
# when called on symbolic tensors (`ops.exp(z_log_var)` between layers), and is allowed in
# saved graphs as "fitorch.ops.<name>" (fitorch.layers.op_node).
from fitorch.layers.op_node import symbolic_namespace  # noqa: E402

symbolic_namespace(globals(), __all__, "fitorch.ops")

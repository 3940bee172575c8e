"""`fitorch.ops`: the Keras 3 `keras.ops` namespace as thin torch calls.

Grouped as Keras groups it; every group module lists its ops in `__all__`, and this package
re-exports them all, so `from fitorch import ops; ops.mean(x)` works like `keras.ops.mean`.
- `fitorch.ops.numpy`: the NumPy-style functions (`add`, `matmul`, `reshape`, `where`, ...).
- `fitorch.ops.core`: tensors, dtypes, control flow, slicing and scattering.
- `fitorch.ops.nn`, `math`, `linalg`, `image`, `einops` (`rearrange`): Keras's other groups.
- `fitorch.ops.dtypes`: the dtype rules the ops share (not part of `keras.ops`).
See docs/ops.md for the coverage and what is left out.
"""

from fitorch.ops import core, dtypes, einops, image, linalg, math, nn, numpy  # noqa: F401
from fitorch.ops.core import *  # noqa: F401,F403
from fitorch.ops.einops import *  # noqa: F401,F403
from fitorch.ops.image import *  # noqa: F401,F403
from fitorch.ops.linalg import *  # noqa: F401,F403
from fitorch.ops.math import *  # noqa: F401,F403
from fitorch.ops.nn import *  # noqa: F401,F403
from fitorch.ops.numpy import *  # noqa: F401,F403

__all__ = [
    *core.__all__,
    *numpy.__all__,
    *nn.__all__,
    *math.__all__,
    *linalg.__all__,
    *image.__all__,
    *einops.__all__,
]

# The one wrapping point of the package: every `fitorch.ops.<name>` also builds a graph node
# when called on symbolic tensors (`ops.exp(z_log_var)` between layers), and is allowed in
# saved graphs as "fitorch.ops.<name>" (fitorch.layers.op_node).
from fitorch.layers.op_node import symbolic_namespace  # noqa: E402

symbolic_namespace(globals(), __all__, "fitorch.ops")
# The groups too (`fitorch.ops.nn.relu`, `fitorch.ops.linalg.inv`): an op reached through its
# group builds graph nodes as well; a function saved under both spellings keeps the first.
for _group in (core, numpy, nn, math, linalg, image, einops):
    symbolic_namespace(vars(_group), _group.__all__, _group.__name__)
del _group

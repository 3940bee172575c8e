"""`keras.ops.numpy` on torch: the NumPy-style ops, gathered from their family modules.

- `fitorch.ops.elementwise`: math, comparisons, logic, bits (`add`, `sin`, `equal`, ...).
- `fitorch.ops.reductions`: reductions, statistics, sorting, searching (`sum`, `argmax`, ...).
- `fitorch.ops.creation`: ranges, constants, windows (`arange`, `zeros`, `linspace`, ...).
- `fitorch.ops.shaping`: shapes, joining, splitting, indexing (`reshape`, `take`, `where`, ...).
- `fitorch.ops.products`: products and differences (`matmul`, `einsum`, `diff`, ...).

Every function takes Keras's argument names and defaults and follows the dtype rules of
`fitorch.ops.dtypes`; docs/ops.md lists the coverage and what is left out.
"""

from fitorch.ops import creation, elementwise, products, reductions, shaping
from fitorch.ops.creation import *  # noqa: F401,F403
from fitorch.ops.elementwise import *  # noqa: F401,F403
from fitorch.ops.products import *  # noqa: F401,F403
from fitorch.ops.reductions import *  # noqa: F401,F403
from fitorch.ops.shaping import *  # noqa: F401,F403

__all__ = sorted({*elementwise.__all__, *reductions.__all__, *creation.__all__,
                  *shaping.__all__, *products.__all__})

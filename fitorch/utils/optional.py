"""Optional packages: fail where the need is declared, with the command that fixes it.

A callback or function that needs a package fitorch does not depend on calls `require` when
it is constructed or called, so a missing `tensorboard` is reported by `TensorBoard(...)`,
not after the first epoch has run.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, purpose: str, package: str | None = None, extra: str | None = None):
    """Import and return `module`, or raise `ImportError` naming the pip command.

    Args:
        module: the import name (`"tensorboard"`, `"onnx"`).
        purpose: what needs it, for the message (`"TensorBoard"`).
        package: the pip name when it differs from `module`.
        extra: the fitorch extra that installs it (`pip install fitorch[extra]`).
    """
    try:
        found: ModuleType = importlib.import_module(module)
    except ImportError as err:
        name = package or module
        hint = f" (or pip install fitorch[{extra}])" if extra else ""
        raise ImportError(
            f"{purpose} needs the {name!r} package, which is not installed: "
            f"pip install {name}{hint}."
        ) from err
    return found

"""Tracebacks of errors raised inside `fit`/`evaluate`/`predict` show the user's frames only.

As Keras's `traceback_utils` does: when an exception leaves a wrapped entry point, the frames
whose code lives in the fitorch package are dropped from its traceback (the user's own code,
e.g. a custom layer's `call`, a callback or a loss, stays, as do torch's frames). The error,
its message and its chained causes are unchanged. When every frame is fitorch's, the frame
that raised is kept. `disable_traceback_filtering()` shows the full traceback (for debugging
fitorch itself); `enable_traceback_filtering()` restores the default.
"""

from __future__ import annotations

import functools
import os
import traceback
import types

__all__ = [
    "disable_traceback_filtering",
    "enable_traceback_filtering",
    "filter_traceback",
    "is_traceback_filtering_enabled",
    "without_internal_frames",
]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_state = {"enabled": True}


def enable_traceback_filtering() -> None:
    """Hide fitorch's internal frames from errors raised in fit/evaluate/predict (default)."""
    _state["enabled"] = True


def disable_traceback_filtering() -> None:
    """Show full tracebacks, fitorch's internal frames included."""
    _state["enabled"] = False


def is_traceback_filtering_enabled() -> bool:
    """Whether internal frames are hidden (see `disable_traceback_filtering`)."""
    return _state["enabled"]


def _is_internal(frame: types.FrameType) -> bool:
    return os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR)


def without_internal_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """A new traceback holding the frames of `tb` outside the fitorch package, in order."""
    entries = list(traceback.walk_tb(tb))
    kept = [(f, line) for f, line in entries if not _is_internal(f)] or entries[-1:]
    new = None
    for frame, line in reversed(kept):
        new = types.TracebackType(new, frame, frame.f_lasti, line)
    return new


def filter_traceback(fn):
    """Decorate an entry point so that errors leaving it carry a filtered traceback."""

    @functools.wraps(fn)
    def entry_point(*args, **kwargs):
        if not _state["enabled"]:
            return fn(*args, **kwargs)
        try:
            return fn(*args, **kwargs)
        except Exception as err:
            # The same exception object re-raised: its message, cause and context are unchanged.
            raise err.with_traceback(without_internal_frames(err.__traceback__))  # noqa: B904

    return entry_point

"""Where output goes: a terminal, a Jupyter/IPython kernel, or a file / CI log.

The progress bar redraws in place (`\\r`) only where a person watches it: a terminal
(`stream.isatty()`) or a notebook cell (the stream is ipykernel's `OutStream`, whose
front-end honours `\\r`). Files, pipes and CI logs get one line per epoch instead of a
flood of redraws. `verbose='auto'` follows the same rule (Keras 3): 1 where interactive,
2 elsewhere.

`disable_interactive_logging()` (Keras 3's `keras.config` switch, for jobs on a server) sends
the progress lines to the `logging` logger "fitorch" at INFO instead of the stream, one record
per line and never redrawn; `enable_interactive_logging()` restores the stream.
"""

from __future__ import annotations

import logging
import sys

__all__ = [
    "disable_interactive_logging",
    "emit",
    "print_msg",
    "enable_interactive_logging",
    "is_interactive",
    "is_interactive_logging_enabled",
    "is_notebook",
    "redraw_interval",
    "resolve_verbose",
]

_INTERACTIVE_LOGGING = [True]
_LOGGER = logging.getLogger("fitorch")


def enable_interactive_logging() -> None:
    """Progress output goes to the stream (stdout by default): the default."""
    _INTERACTIVE_LOGGING[0] = True


def disable_interactive_logging() -> None:
    """Progress output goes to the `logging` logger "fitorch" (INFO), one record a line."""
    _INTERACTIVE_LOGGING[0] = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress output goes to the stream rather than to `logging`."""
    return _INTERACTIVE_LOGGING[0]


def emit(text: str, stream=None) -> None:
    """Write `text` to `stream` (default `sys.stdout`) and flush; with interactive logging
    off, log each of its non-empty lines instead (a redraw's `\r` dropped)."""
    if _INTERACTIVE_LOGGING[0]:
        out = sys.stdout if stream is None else stream
        out.write(text)
        out.flush()
        return
    for line in text.replace("\r", "\n").split("\n"):
        if line.strip():
            _LOGGER.info(line.rstrip())


# Seconds between two redraws of a live bar. A notebook front-end re-renders the cell
# output on each write, so it gets fewer redraws than a terminal.
TERMINAL_REDRAW_SECONDS = 0.1
NOTEBOOK_REDRAW_SECONDS = 0.5


def is_notebook(stream=None) -> bool:
    """Whether `stream` (default: `sys.stdout`) is a Jupyter kernel's output stream."""
    stream = sys.stdout if stream is None else stream
    return "ipykernel" in sys.modules and type(stream).__module__.startswith("ipykernel")


def print_msg(message: str) -> None:
    """A callback's message line (`Epoch 3: early stopping`): to stdout, or to the "fitorch"
    logger while interactive logging is off (Keras's `io_utils.print_msg`)."""
    emit(f"{message}\n")


def is_interactive(stream=None) -> bool:
    """Whether `stream` (default: `sys.stdout`) is a terminal or a notebook cell (never while
    interactive logging is off: logged lines are not redrawn)."""
    if not _INTERACTIVE_LOGGING[0]:
        return False
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    try:
        tty = bool(isatty()) if callable(isatty) else False
    except (ValueError, OSError):  # a closed or detached stream
        tty = False
    return tty or is_notebook(stream)


def redraw_interval(stream=None) -> float:
    """Minimum seconds between two in-place redraws on `stream`."""
    return NOTEBOOK_REDRAW_SECONDS if is_notebook(stream) else TERMINAL_REDRAW_SECONDS


def resolve_verbose(verbose, stream=None) -> int:
    """`verbose` as 0, 1 or 2: `'auto'` is 1 where `is_interactive(stream)`, else 2.

    Raises:
        ValueError: `verbose` is none of 0, 1, 2, True, False or 'auto'.
    """
    if isinstance(verbose, str) and verbose == "auto":
        return 1 if is_interactive(stream) else 2
    if verbose not in (0, 1, 2, True, False) or isinstance(verbose, float):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'; got {verbose!r}.")
    return int(verbose)

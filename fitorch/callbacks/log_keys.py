"""The epoch-log keys a `fit` will produce, told from the compile configuration before the
first step, so that callbacks can judge `monitor` names and file templates in
`on_train_begin` instead of after the first epoch.

`expected_log_keys(model, do_validation)` returns the set of keys (with every alias History
and the monitor callbacks answer to, e.g. both `acc` and `accuracy`), or None when it cannot
be told: the model is not compiled, overrides `train_step`/`test_step`/`compute_metrics`
(its own logs), or a metric's name is only known once it is built (a metric class or a
config record). Rules (the same as `training/compile_utils.py`): `loss`; `<output>_loss` per
output with a loss (several outputs only); per compiled metric its name, prefixed
`<output>_` for several outputs; a weighted metric may also log as `weighted_<name>`;
`learning_rate`/`lr` always; the `Metric` attributes of the model; each again with `val_`
when fit validates.

Other callbacks may add keys of their own to the logs (an earlier callback's
`logs["score"] = ...`), so a name that is not expected is judged a mistake before the first
step only when it is close to an expected one (`misspelled`): `val_los`, `val_acuracy`, or a
`val_` key of a fit that does not validate. Other unknown names are left to the epoch end.
"""

from __future__ import annotations

from fitorch import metrics as metrics_mod
from fitorch.registry import suggest

__all__ = ["expected_log_keys", "misspelled"]

_OWN_LOG_METHODS = ("train_step", "test_step", "compute_metrics")


def _overrides_logging(model) -> bool:
    from fitorch.models.model import Model

    cls = type(model)
    return any(getattr(cls, name, None) is not getattr(Model, name) for name in _OWN_LOG_METHODS)


def _metric_names(identifier) -> set[str] | None:
    """The names a compiled metric logs under (aliases included), None if not knowable."""
    if isinstance(identifier, str):
        return {identifier} | metrics_mod.history_aliases(identifier)
    if isinstance(identifier, metrics_mod.Metric):
        return {identifier.name}
    if callable(identifier) and not isinstance(identifier, type):
        name = getattr(identifier, "__name__", None)
        return None if name is None else {name} | metrics_mod.history_aliases(identifier)
    return None


def _train_keys(state) -> set[str] | None:
    names = state.output_names
    multi = len(names) > 1
    keys = {"loss", "learning_rate", "lr"}
    if multi:
        keys |= {f"{names[i]}_loss" for i in state.loss.active}
    for i, out in enumerate(names):
        for weighted, group in ((False, state.metrics.plain[i]), (True, state.metrics.weighted[i])):
            for ident in group:
                found = _metric_names(ident)
                if found is None:
                    return None
                if weighted:
                    found |= {f"weighted_{n}" for n in found}
                keys |= {f"{out}_{n}" for n in found} if multi else found
    return keys


def expected_log_keys(model, do_validation: bool) -> set[str] | None:
    """Keys of the epoch logs `fit` will hand to callbacks (module docstring), or None."""
    state = getattr(model, "trainer", None)
    if state is None or _overrides_logging(model):
        return None
    keys = _train_keys(state)
    if keys is None:
        return None
    keys |= {m.name for m in model.metrics}  # metrics the model holds as attributes
    return keys | {f"val_{k}" for k in keys} if do_validation else keys


def misspelled(name: str, keys: set[str]) -> str | None:
    """The expected key `name` is most likely a misspelling of, or None when `name` is
    expected or unlike every expected key (possibly a key another callback adds)."""
    if name in keys:
        return None
    if name.startswith("val_") and name[4:] in keys:
        return name[4:]  # a validation key of a fit without validation data
    close = suggest(name, keys, n=1)
    return close[0] if close else None

"""Walking a functional graph backwards: `get_source_inputs`."""

from __future__ import annotations

__all__ = ["get_source_inputs"]


def get_source_inputs(tensor) -> list:
    """The `Input` tensors `tensor` is computed from, in first-visit order (Keras's
    `utils.get_source_inputs`); an `Input` gives `[itself]`, a non-symbolic value itself.

    Example:
        >>> a, b = Input((2,)), Input((2,))
        >>> get_source_inputs(layers.Add()([a, b])) == [a, b]
        True
    """
    node = getattr(tensor, "node", None)
    if node is None:
        return tensor
    parents = node.parents()
    if not parents:  # an InputLayer's own node
        return [tensor]
    sources: list = []
    for parent in parents:
        for source in get_source_inputs(parent):
            if all(source is not seen for seen in sources):
                sources.append(source)
    return sources

"""Callbacks: Keras' hooks, History, progress output and the Keras callback catalogue."""

from fitorch.callbacks.base import Callback, CallbackList
from fitorch.callbacks.history import History
from fitorch.callbacks.progbar import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]

"""Keras's datasets, downloaded once into the Keras cache (`fitorch.utils.get_file`)."""

from fitorch.datasets import mnist

__all__ = ["mnist"]

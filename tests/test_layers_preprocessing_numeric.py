"""Discretization with bin_boundaries: the Keras docstring example and a config round trip."""

import numpy as np
import pytest

from fitorch.layers import Discretization


def test_keras_doc_example_and_round_trip():
    layer = Discretization(bin_boundaries=[0.0, 1.0, 2.0])
    out = layer(np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]]))
    np.testing.assert_array_equal(out.numpy(), [[0, 2, 3, 1], [1, 3, 2, 1]])
    clone = Discretization.from_config(layer.get_config())
    np.testing.assert_array_equal(clone([[1.99, 2.0]]).numpy(), [[2, 3]])
    with pytest.raises(ValueError, match="bin_boundaries"):
        Discretization(num_bins=4)

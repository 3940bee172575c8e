"""CategoryEncoding: hand-computed encodings (Keras docstring examples) and config round trip."""

import numpy as np
import pytest

from fitorch.layers import CategoryEncoding


def test_one_hot_matches_keras_doc_example():
    out = CategoryEncoding(num_tokens=4, output_mode="one_hot")([3, 2, 0, 1])
    np.testing.assert_array_equal(out.numpy(), np.eye(4, dtype="float32")[[3, 2, 0, 1]])


def test_multi_hot_and_count():
    x = [[0, 1], [0, 0], [1, 2], [3, 1]]
    mh = CategoryEncoding(num_tokens=4, output_mode="multi_hot")(x).numpy()
    np.testing.assert_array_equal(mh, [[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    ct = CategoryEncoding(num_tokens=4, output_mode="count")(x).numpy()
    np.testing.assert_array_equal(ct, [[1, 1, 0, 0], [2, 0, 0, 0], [0, 1, 1, 0], [0, 1, 0, 1]])
    w = [[0.1, 0.2], [0.1, 0.1], [0.2, 0.3], [0.4, 0.2]]
    cw = CategoryEncoding(num_tokens=4, output_mode="count")(x, count_weights=w).numpy()
    expect = [[0.1, 0.2, 0, 0], [0.2, 0, 0, 0], [0, 0.2, 0.3, 0], [0, 0.2, 0, 0.4]]
    np.testing.assert_allclose(cw, expect, rtol=1e-6)


def test_bad_input_and_config_round_trip():
    with pytest.raises(ValueError, match="num_tokens"):
        CategoryEncoding(num_tokens=None)
    with pytest.raises(ValueError, match="output_mode"):
        CategoryEncoding(num_tokens=3, output_mode="tf_idf")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        CategoryEncoding(num_tokens=3)([[0, 3]])
    layer = CategoryEncoding(num_tokens=5, output_mode="count")
    clone = CategoryEncoding.from_config(layer.get_config())
    assert (clone.num_tokens, clone.output_mode) == (5, "count")

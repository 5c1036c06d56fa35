"""The representation section's display of first-layer filters: each filter scaled to its own
range and tiled (``filter_grid``), and a run stored before the job kept raw weights shown as
the tiled image it holds."""

from __future__ import annotations

import numpy as np
import pytest

from bench.kinds.representation.section import filter_grid, filters_image


def test_each_filter_is_scaled_on_its_own() -> None:
    filters = np.array([[[[0.0, 1.0], [2.0, 3.0]]],
                        [[[-10.0, 10.0], [0.0, 0.0]]],
                        [[[7.0, 7.0], [7.0, 7.0]]]], dtype=np.float32)  # (3, 1, 2, 2)
    grid = filter_grid(filters, ncols=3, pad=1)
    assert grid.shape == (1, 1 + 2 + 1, 1 + 3 * (2 + 1))
    assert grid.dtype == np.float32
    np.testing.assert_allclose(grid[0, 1:3, 1:3], [[0, 1 / 3], [2 / 3, 1.0]], rtol=1e-6)
    np.testing.assert_allclose(grid[0, 1:3, 4:6], [[0.0, 1.0], [0.5, 0.5]])
    np.testing.assert_allclose(grid[0, 1:3, 7:9], np.full((2, 2), 0.5))  # constant: grey
    assert (grid[0, 0] == 0).all() and (grid[0, :, 3] == 0).all()  # padding


def test_rgb_filters_stay_rgb_other_channel_counts_are_grey() -> None:
    rng = np.random.default_rng(0)
    rgb = filter_grid(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), pad=0)
    assert rgb.shape == (3, 6, 6)
    assert float(rgb.min()) == 0.0 and float(rgb.max()) == 1.0
    two = filter_grid(rng.standard_normal((5, 2, 3, 3)).astype(np.float32), pad=1)
    assert two.shape == (1, 5 * 4 + 1, 2 * 4 + 1)  # a row per filter, a tile per channel


def test_bad_filters() -> None:
    for bad in (np.zeros((2, 3, 3)), [[1.0]], np.zeros((2, 1, 3, 3), dtype=np.int64),
                np.full((2, 1, 3, 3), np.nan), np.zeros((0, 1, 3, 3))):
        with pytest.raises(ValueError, match="filters"):
            filter_grid(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ncols"):
        filter_grid(np.zeros((2, 1, 3, 3)), ncols=0)
    with pytest.raises(ValueError, match="pad"):
        filter_grid(np.zeros((2, 1, 3, 3)), pad=-1)


def test_stored_filters_raw_weights_are_tiled_an_old_tiled_image_is_kept() -> None:
    raw = np.random.default_rng(1).standard_normal((4, 1, 5, 5)).astype(np.float32)
    np.testing.assert_array_equal(filters_image(raw), filter_grid(raw))
    tiled = filter_grid(raw)  # what runs stored before the change hold under ``filters``
    assert filters_image(tiled) is tiled

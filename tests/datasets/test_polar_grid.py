"""Polar grid maths and voxel labels against a literal per-point version."""
import math

import numpy as np
import pytest
import torch

from kdmos_plugin.datasets.polar_grid import PolarGrid

GRID = (48, 36, 8)
LO = (1.85, -math.pi, -4.0)
HI = (50.15, math.pi, 2.0)


def _points(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    r = rng.uniform(0, 60, n)
    a = rng.uniform(-np.pi, np.pi, n)
    pts = np.stack([r * np.cos(a), r * np.sin(a), rng.uniform(-6, 4, n),
                    rng.random(n)], 1).astype(np.float32)
    pts[:3] = [[-10.0, 0.0, 0.0, 0.1], [0.5, 0.0, -9.0, 0.2],
               [80.0, 1.0, 5.0, 0.3]]  # phi = +pi, inner/low, outer/high
    labels = rng.integers(0, 4, n)
    # crowd some points into one voxel with a 2-2 tie between 3 and 1
    pts[10:14] = [20.0, 0.3, 0.1, 0.5]
    labels[10:14] = [3, 1, 3, 1]
    return pts, labels


def test_cell_size_uses_grid_minus_one():
    g = PolarGrid()
    np.testing.assert_allclose(g.cell_size,
                               [48.3 / 479, 2 * np.pi / 359, 6 / 31])
    assert g.grid_size == (480, 360, 32)


def test_features_indices_and_voxels_match_literal(
        literal_polar_voxelize):
    pts, labels = _points()
    grid = PolarGrid(GRID, LO, HI)
    feats, ind = grid.point_features(pts)
    want_f, want_i, want_v = literal_polar_voxelize(pts, labels, GRID, LO, HI)
    assert feats.dtype == np.float32 and feats.shape == (len(pts), 9)
    assert ind.dtype == np.int64
    np.testing.assert_array_equal(ind, want_i)
    np.testing.assert_allclose(feats, want_f, rtol=0, atol=2e-6)
    assert ind[0][1] == GRID[1] - 1  # phi = +pi: the last phi column
    assert ind[1][0] == 0 and ind[1][2] == 0  # clipped into inner/low cells
    assert ind[2][0] == GRID[0] - 1 and ind[2][2] == GRID[2] - 1
    coors, vlab = grid.occupied_voxels(ind, labels, 4)
    assert len(coors) == len(want_v)
    got = {tuple(c): int(v) for c, v in zip(coors.tolist(), vlab)}
    assert got == want_v
    assert got[tuple(ind[10])] == 1  # tie -> lowest id
    keys = grid.linear_key(coors)
    assert (np.diff(keys) > 0).all()  # sorted, unique
    np.testing.assert_array_equal(grid.key_to_indices(keys), coors)


def test_torch_path_matches_numpy():
    pts, labels = _points(seed=1)
    grid = PolarGrid(GRID, LO, HI)
    feats, ind = grid.point_features(pts)
    t_feats, t_ind = grid.point_features(torch.from_numpy(pts))
    np.testing.assert_array_equal(t_ind.numpy(), ind)
    np.testing.assert_allclose(t_feats.numpy(), feats, atol=1e-5)  # f32
    coors, vlab = grid.occupied_voxels(ind, labels, 4)
    t_coors, t_vlab = grid.occupied_voxels(t_ind, torch.from_numpy(labels), 4)
    np.testing.assert_array_equal(t_coors.numpy(), coors)
    np.testing.assert_array_equal(t_vlab.numpy(), vlab)


def test_linear_key_formula():
    grid = PolarGrid(GRID, LO, HI)
    ind = np.array([[3, 5, 7], [47, 35, 7], [0, 0, 0]])
    np.testing.assert_array_equal(
        grid.linear_key(ind),
        [3 * 36 * 8 + 5 * 8 + 7, 47 * 36 * 8 + 35 * 8 + 7, 0])


def test_bad_grid_arguments():
    with pytest.raises(ValueError):
        PolarGrid((10, 10), LO, HI)
    with pytest.raises(ValueError):
        PolarGrid(GRID, HI, LO)

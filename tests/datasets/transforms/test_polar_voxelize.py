"""PolarVoxelize against a literal per-point voxelisation."""
import math

import numpy as np
import pytest

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets.transforms import PolarVoxelize

GRID = (40, 30, 8)
LO = (1.85, -math.pi, -4.0)
HI = (50.15, math.pi, 2.0)


def test_matches_literal_on_random_points(literal_polar_voxelize):
    rng = np.random.default_rng(5)
    n = 2000
    pts = np.concatenate([rng.uniform(-60, 60, (n, 2)),
                          rng.uniform(-6, 4, (n, 1)), rng.random((n, 1))],
                         1).astype(np.float32)
    labels = rng.integers(0, 4, n)
    motion = rng.random((n, 8)).astype(np.float32)
    res = PolarVoxelize(GRID, LO, HI, num_classes=4)(
        dict(points=pts, pts_semantic_mask=labels, motion_feats=motion))
    want_f, want_i, want_v = literal_polar_voxelize(pts, labels, GRID, LO, HI)
    assert res['point_feats'].shape == (n, 17)
    assert res['point_feats'].dtype == np.float32
    np.testing.assert_allclose(res['point_feats'][:, :9], want_f, atol=2e-6)
    np.testing.assert_array_equal(res['point_feats'][:, 9:], motion)
    np.testing.assert_array_equal(res['grid_ind'], want_i)
    got = {tuple(c): int(v) for c, v in zip(res['voxel_coors'].tolist(),
                                            res['voxel_semantic_mask'])}
    assert got == want_v
    assert res['grid_size'] == GRID


def test_without_labels_or_motion():
    pts = np.array([[10.0, 1.0, 0.0, 0.5], [10.01, 1.0, 0.0, 0.5]],
                   np.float32)
    res = PolarVoxelize(GRID, LO, HI)(dict(points=pts))
    assert res['point_feats'].shape == (2, 9)
    assert 'voxel_semantic_mask' not in res and len(res['voxel_coors']) == 1


def test_errors():
    pts = np.zeros((3, 4), np.float32)
    with pytest.raises(ValueError, match='2 motion feature rows for 3'):
        PolarVoxelize(GRID, LO, HI)(dict(points=pts,
                                         motion_feats=np.zeros((2, 8))))
    with pytest.raises(ValueError, match=r'x\.label.*label 4 >= num_classes'):
        PolarVoxelize(GRID, LO, HI, num_classes=4)(
            dict(points=pts, pts_semantic_mask=np.array([0, 4, 1]),
                 label_path='x.label'))

"""MOSGlobalAug: one draw moves every scan identically; distributions."""
import numpy as np
import pytest

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets import SemanticKittiMOSDataset
from kdmos_plugin.datasets.transforms import (LoadMOSScans, MOSGlobalAug,
                                              MOSMotionFeatures)
from kdmos_plugin.datasets.transforms.load_mos_scans import build_multi_points


@pytest.fixture(scope='module')
def loaded(tiny_kitti_root):
    ds = SemanticKittiMOSDataset(data_root=tiny_kitti_root, sequences=['08'])
    return LoadMOSScans(num_past=7, num_future=2)(ds.get_data_info(9))


def _copy(res):
    out = dict(res)
    out['sweeps'] = [dict(s) for s in res['sweeps']]
    return out


def test_all_scans_moved_identically(loaded):
    np.random.seed(3)
    res = MOSGlobalAug()(_copy(loaded))
    A = res['aug_matrix']
    R = A[:3, :3]
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert abs(abs(np.linalg.det(R)) - 1) < 1e-12 and R[2, 2] == 1
    for key in ('points', 'multi_points'):
        before, after = loaded[key], res[key]
        assert after.shape == before.shape and after.dtype == np.float32
        want = before[:, :3].astype(np.float64) @ R.T + A[:3, 3]
        np.testing.assert_allclose(after[:, :3], want, atol=1e-4)
        np.testing.assert_array_equal(after[:, 3:], before[:, 3:])
    n = len(res['points'])
    np.testing.assert_array_equal(res['multi_points'][:n, :4], res['points'])
    # sweeps: rebuilding multi_points from the updated transforms gives the
    # augmented multi_points, i.e. past scans got the same draw
    np.testing.assert_allclose(
        build_multi_points(res['points'], res['sweeps']),
        res['multi_points'], atol=1e-4)
    for s0, s1 in zip(loaded['sweeps'], res['sweeps']):
        np.testing.assert_allclose(s1['to_current'], A @ s0['to_current'])
        np.testing.assert_array_equal(s1['points'], s0['points'])


def test_reference_features_unchanged_by_augmentation(loaded, tiny_kitti_root):
    ds = SemanticKittiMOSDataset(data_root=tiny_kitti_root, sequences=['08'])
    res = LoadMOSScans(num_past=7, num_future=7)(ds.get_data_info(8))
    a = MOSMotionFeatures(mode='reference')(_copy(res))['motion_feats']
    np.random.seed(0)
    b = MOSMotionFeatures(mode='reference', cache_windows=0)(
        MOSGlobalAug()(_copy(res)))['motion_feats']
    np.testing.assert_array_equal(a, b)


def test_distributions():
    aug = MOSGlobalAug()
    np.random.seed(0)
    draws = [aug.draw() for _ in range(4000)]
    dets = np.array([np.linalg.det(A[:2, :2]) for A in draws])
    t = np.array([A[:3, 3] for A in draws])
    np.testing.assert_allclose(t.std(0), 0.1, rtol=0.1)
    np.testing.assert_allclose(t.mean(0), 0.0, atol=0.01)
    # one flip axis -> det -1 (half of the draws); x-flip and y-flip alone
    # have the same det, so count the four cases through where +x goes
    assert abs((dets < 0).mean() - 0.5) < 0.05
    # the yaw of R (with the flip removed) covers [0, 2 pi) uniformly
    no_flip = [A for A, d in zip(draws, dets) if d > 0]
    yaws = np.array([np.arctan2(A[1, 0], A[0, 0]) % (2 * np.pi)
                     for A in no_flip])
    hist = np.histogram(yaws, bins=4, range=(0, 2 * np.pi))[0]
    assert (abs(hist / len(yaws) - 0.25) < 0.05).all()
    off = MOSGlobalAug(rotate=False, flip=False, translate_std=0)
    np.testing.assert_array_equal(off.draw(), np.eye(4))


def test_flip_cases_equally_likely(monkeypatch):
    aug = MOSGlobalAug(rotate=False, translate_std=0)
    np.random.seed(1)
    diags = [tuple(np.diag(aug.draw())[:2]) for _ in range(4000)]
    for case in [(1, 1), (-1, 1), (1, -1), (-1, -1)]:
        assert abs(diags.count(case) / 4000 - 0.25) < 0.03

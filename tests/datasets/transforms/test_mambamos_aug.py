"""MambaMOSAug: one draw moves every scan identically, equals the transform
written by hand, keeps the contract; distributions of its draws."""
import numpy as np
import pytest

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets import SemanticKittiMOSDataset
from kdmos_plugin.datasets.transforms import LoadMOSScans, MambaMOSAug
from kdmos_plugin.datasets.transforms.load_mos_scans import build_multi_points


@pytest.fixture(scope='module')
def loaded(tiny_kitti_root):
    ds = SemanticKittiMOSDataset(data_root=tiny_kitti_root, sequences=['08'])
    return LoadMOSScans(num_past=7)(ds.get_data_info(9))


def _copy(res):
    out = dict(res)
    out['sweeps'] = [dict(s) for s in res['sweeps']]
    return out


def _by_hand(seed, cloud):
    """The MambaMOS recipe written out with the same seeded draws: a yaw
    with p 0.5, one scale, x then y flips with p 0.5, clipped jitter.
    Returns the (4, 4) matrix and the augmented xyz (M, 3) float64."""
    rng = np.random.RandomState(seed)
    yaw = rng.uniform(-np.pi, np.pi) if rng.rand() < 0.5 else 0.0
    scale = rng.uniform(0.9, 1.1)
    fx = -1.0 if rng.rand() < 0.5 else 1.0
    fy = -1.0 if rng.rand() < 0.5 else 1.0
    rot = np.array([[np.cos(yaw), -np.sin(yaw), 0],
                    [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
    mat = np.eye(4)
    mat[:3, :3] = np.diag([fx, fy, 1.0]) @ (scale * rot)
    noise = np.clip(rng.normal(0, 0.005, (len(cloud), 3)), -0.02, 0.02)
    xyz = np.empty((len(cloud), 3))
    for i, p in enumerate(cloud[:, :3].astype(np.float64)):  # one by one
        xyz[i] = mat[:3, :3] @ p + noise[i]
    return mat, xyz


@pytest.mark.parametrize('seed', [0, 1, 2, 5])
def test_seeded_output_equals_the_transform_written_by_hand(loaded, seed):
    np.random.seed(seed)
    res = MambaMOSAug()(_copy(loaded))
    mat, xyz = _by_hand(seed, loaded['multi_points'])
    np.testing.assert_allclose(res['aug_matrix'], mat, atol=1e-12)
    multi, points = res['multi_points'], res['points']
    assert multi.shape == loaded['multi_points'].shape
    assert multi.dtype == points.dtype == np.float32
    np.testing.assert_allclose(multi[:, :3], xyz, atol=1e-4)
    np.testing.assert_array_equal(multi[:, 3:], loaded['multi_points'][:, 3:])
    # the contract, exactly: the jitter of the current rows is in points
    n = len(points)
    np.testing.assert_array_equal(multi[:n, :4], points)
    np.testing.assert_array_equal(points[:, 3], loaded['points'][:, 3])
    # sweeps carry the matrix: rebuilding from them gives the cloud up to
    # the per-point jitter (<= 0.02 m per coordinate)
    for s0, s1 in zip(loaded['sweeps'], res['sweeps']):
        np.testing.assert_allclose(s1['to_current'], mat @ s0['to_current'])
        np.testing.assert_array_equal(s1['points'], s0['points'])
    rebuilt = build_multi_points(points, res['sweeps'])
    assert np.abs(rebuilt[n:, :3] - multi[n:, :3]).max() <= 0.02 + 1e-5
    # the loaded arrays (possibly the dataset's cached scans) are untouched
    np.testing.assert_array_equal(
        loaded['multi_points'][:n, :4], loaded['points'])


def test_without_past_scans_jitters_the_current_scan(loaded):
    res = {k: v for k, v in _copy(loaded).items() if k != 'multi_points'}
    np.random.seed(4)
    out = MambaMOSAug()(res)
    mat, xyz = _by_hand(4, loaded['points'])
    np.testing.assert_allclose(out['aug_matrix'], mat, atol=1e-12)
    np.testing.assert_allclose(out['points'][:, :3], xyz, atol=1e-4)
    assert 'multi_points' not in out


def test_distributions_of_the_draws():
    aug = MambaMOSAug()
    np.random.seed(0)
    mats = np.stack([aug.draw() for _ in range(4000)])
    lin = mats[:, :3, :3]
    scale = np.abs(np.linalg.det(lin))**(1 / 3)
    assert scale.min() >= 0.9 and scale.max() <= 1.1
    assert abs(scale.mean() - 1.0) < 0.005  # uniform on [0.9, 1.1]
    assert abs(scale.std() - 0.2 / np.sqrt(12)) < 0.003
    np.testing.assert_array_equal(mats[:, :3, 3], 0)  # no translation
    np.testing.assert_array_equal(mats[:, 3], [[0, 0, 0, 1]] * 4000)
    unit = lin / scale[:, None, None]  # isotropic: F @ R is orthogonal
    np.testing.assert_allclose(unit @ unit.transpose(0, 2, 1),
                               np.broadcast_to(np.eye(3), unit.shape),
                               atol=1e-12)
    np.testing.assert_allclose(unit[:, 2], [[0, 0, 1]] * 4000, atol=1e-12)
    # exactly one axis flipped (det -1) in half of the draws
    assert abs((np.linalg.det(unit) < 0).mean() - 0.5) < 0.03


def test_rotation_used_half_the_time_uniform_yaw():
    """Flips off (diag(-1, -1) is also a yaw by pi): the yaw is exactly 0
    without rotation, else uniform on [-pi, pi]."""
    aug = MambaMOSAug(flip_prob=0.0, scale_range=(1, 1))
    np.random.seed(1)
    mats = np.stack([aug.draw() for _ in range(4000)])
    yaw = np.arctan2(mats[:, 1, 0], mats[:, 0, 0])
    used = yaw != 0
    np.testing.assert_array_equal(mats[~used], np.eye(4)[None].repeat(
        (~used).sum(), 0))
    assert abs(used.mean() - 0.5) < 0.03
    hist = np.histogram(yaw[used], bins=4, range=(-np.pi, np.pi))[0]
    assert (abs(hist / used.sum() - 0.25) < 0.04).all()
    always = MambaMOSAug(rotate_prob=1.0, flip_prob=0.0)
    assert all(always.draw()[0, 1] != 0 for _ in range(50))


def test_flips_are_independent_per_axis():
    aug = MambaMOSAug(rotate_prob=0.0, scale_range=(1, 1))
    np.random.seed(2)
    diags = [tuple(np.diag(aug.draw())) for _ in range(4000)]
    for case in [(1, 1), (-1, 1), (1, -1), (-1, -1)]:
        assert abs(diags.count(case + (1, 1)) / 4000 - 0.25) < 0.03
    assert len(set(diags)) == 4


def test_jitter_is_clipped_with_the_given_std():
    aug = MambaMOSAug()
    np.random.seed(3)
    noise = aug.draw_jitter(200_000).astype(np.float64)
    assert noise.shape == (200_000, 3)
    assert np.abs(noise).max() <= 0.02
    # 4 sigma clipping removes almost nothing: std ~ 0.005, mean ~ 0
    assert abs(noise.std() - 0.005) < 0.0001
    assert abs(noise.mean()) < 0.0001
    assert np.abs(noise).max() > 0.019  # the clip is reached at this count
    clipped = MambaMOSAug(jitter_std=0.05, jitter_clip=0.02).draw_jitter(1000)
    assert np.abs(clipped).max() == np.float32(0.02)
    assert not MambaMOSAug(jitter_std=0).draw_jitter(5).any()


@pytest.mark.parametrize('kwargs', [
    dict(rotate_prob=1.5), dict(flip_prob=-0.1), dict(scale_range=(1.1, 0.9)),
    dict(scale_range=(0, 1)), dict(jitter_std=-1)])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError, match='MambaMOSAug'):
        MambaMOSAug(**kwargs)


def test_a_cloud_shorter_than_the_scan_is_refused(loaded):
    res = dict(_copy(loaded), multi_points=loaded['multi_points'][:10])
    with pytest.raises(ValueError, match=r'000009\.bin.*multi_points'):
        MambaMOSAug()(res)

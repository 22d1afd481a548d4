"""LoadMOSScans: file order kept, past scans aligned with the poses, ages,
clamping at the sequence start, future scans outside multi_points (unless a
non-causal teacher asks for them)."""
import numpy as np
import pytest

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets import SemanticKittiMOSDataset
from kdmos_plugin.datasets.kitti_io import read_points
from kdmos_plugin.datasets.transforms import LoadMOSScans


@pytest.fixture(scope='module')
def dataset(tiny_kitti_root):
    return SemanticKittiMOSDataset(data_root=tiny_kitti_root,
                                   sequences=['08'])


def _ground_truth_move(P, points, t, j):
    """Scan j into the frame of scan t with the generator's own poses."""
    T = np.linalg.inv(P[t]) @ P[j]
    return points[:, :3].astype(np.float64) @ T[:3, :3].T + T[:3, 3]


def test_current_scan_in_file_order_and_past_aligned(dataset,
                                                    tiny_kitti_lidar_poses):
    res = LoadMOSScans(num_past=3)(dataset.get_data_info(9))
    raw = read_points(res['lidar_path'])
    np.testing.assert_array_equal(res['points'], raw)
    mp = res['multi_points']
    n = len(raw)
    assert res['num_points'] == n and mp.dtype == np.float32
    np.testing.assert_array_equal(mp[:n, :4], raw)
    assert (mp[:n, 4] == 0).all()
    offset = n
    for age in (1, 2, 3):
        past = read_points(dataset.get_data_info(9 - age)['lidar_path'])
        rows = mp[offset:offset + len(past)]
        assert (rows[:, 4] == age).all()
        want = _ground_truth_move(tiny_kitti_lidar_poses['08'], past, 9,
                                  9 - age)
        np.testing.assert_allclose(rows[:, :3], want, atol=1e-4)
        np.testing.assert_array_equal(rows[:, 3], past[:, 3])
        offset += len(past)
    assert offset == len(mp)
    assert [s['age'] for s in res['sweeps']] == [1, 2, 3]
    assert res['seq_len'] == 16


def test_clamped_at_sequence_start(dataset):
    res = LoadMOSScans(num_past=4)(dataset.get_data_info(2))
    assert [s['index'] for s in res['sweeps']] == [1, 0, 0, 0]
    ages = res['multi_points'][:, 4]
    n0 = len(read_points(dataset.get_data_info(0)['lidar_path']))
    assert [(ages == a).sum() for a in (2, 3, 4)] == [n0] * 3
    a2 = res['multi_points'][ages == 2]
    a4 = res['multi_points'][ages == 4]
    np.testing.assert_array_equal(a2[:, :4], a4[:, :4])


def test_future_scans_not_in_multi_points(dataset):
    res = LoadMOSScans(num_past=2, num_future=7)(dataset.get_data_info(12))
    ages = [s['age'] for s in res['sweeps']]
    assert ages == [1, 2, -1, -2, -3]  # scans 13..15 exist, 16+ do not
    assert set(np.unique(res['multi_points'][:, 4])) == {0, 1, 2}
    fut = res['sweeps'][2]
    np.testing.assert_array_equal(
        fut['points'], read_points(dataset.get_data_info(13)['lidar_path']))


def test_future_scans_in_multi_points_for_a_noncausal_teacher(
        dataset, tiny_kitti_lidar_poses):
    t = 12
    res = LoadMOSScans(num_past=2, num_future=7, future_in_multi_points=True)(
        dataset.get_data_info(t))
    mp = res['multi_points']
    n = res['num_points']
    np.testing.assert_array_equal(mp[:n, :4], res['points'])
    # rows: current, ages 1, 2, then the future scans that exist (13..15)
    offset = n
    for age in (1, 2, -1, -2, -3):
        j = t - age
        other = read_points(dataset.get_data_info(j)['lidar_path'])
        rows = mp[offset:offset + len(other)]
        assert (rows[:, 4] == age).all()
        want = _ground_truth_move(tiny_kitti_lidar_poses['08'], other, t, j)
        np.testing.assert_allclose(rows[:, :3], want, atol=1e-4)
        offset += len(other)
    assert offset == len(mp)
    # the last scan has no future: its cloud is the causal one
    last = dataset.get_data_info(15)
    both = [LoadMOSScans(num_past=2, num_future=3,
                         future_in_multi_points=f)(dict(last))['multi_points']
            for f in (False, True)]
    np.testing.assert_array_equal(both[0], both[1])


def test_future_in_multi_points_needs_future_scans():
    with pytest.raises(ValueError, match='num_future > 0'):
        LoadMOSScans(num_past=2, future_in_multi_points=True)


def test_no_past_no_multi_points(dataset):
    res = LoadMOSScans(num_past=0)(dataset.get_data_info(0))
    assert 'multi_points' not in res and res['sweeps'] == []


def test_needs_poses(tiny_kitti_root):
    ds = SemanticKittiMOSDataset(data_root=tiny_kitti_root, sequences=['08'],
                                 load_poses=False)
    with pytest.raises(ValueError, match=r'000003\.bin.*poses'):
        LoadMOSScans(num_past=1)(ds.get_data_info(3))


def test_point_count_from_info_is_checked(dataset):
    info = dataset.get_data_info(3)
    info['num_points'] = 5
    with pytest.raises(ValueError, match=r'000003\.bin.*info file says 5'):
        LoadMOSScans(num_past=0)(info)

"""MOSMotionFeatures: the three modes and their errors. The maths are
checked against literal loops in tests/datasets/test_bev_residuals.py."""
import numpy as np
import pytest
import torch

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets import SemanticKittiMOSDataset
from kdmos_plugin.datasets.bev_residuals import (causal_residuals,
                                                 reference_residuals)
from kdmos_plugin.datasets.kitti_io import read_points
from kdmos_plugin.datasets.transforms import LoadMOSScans, MOSMotionFeatures


@pytest.fixture(scope='module')
def dataset(tiny_kitti_root):
    return SemanticKittiMOSDataset(data_root=tiny_kitti_root,
                                   sequences=['08'])


def test_reference_mode_matches_function(dataset):
    load = LoadMOSScans(num_past=7, num_future=7)
    motion = MOSMotionFeatures(mode='reference', cache_windows=4)
    table = dataset.sequence_table['08']
    scans = [read_points(p) for p in table['lidar_paths']]
    poses = dict(enumerate(table['lidar_poses']))
    for idx in (3, 8, 9, 15):  # 8 and 9 share windows via the cache
        res = motion(load(dataset.get_data_info(idx)))
        want = reference_residuals(scans.__getitem__, poses, idx, 16).numpy()
        assert res['motion_feats'].dtype == np.float32
        np.testing.assert_array_equal(res['motion_feats'], want)
    assert len(motion._windows) == 4


def test_reference_mode_needs_future_scans(dataset):
    res = LoadMOSScans(num_past=7, num_future=2)(dataset.get_data_info(5))
    with pytest.raises(ValueError, match=r'000005\.bin.*need scans \[8, 9'):
        MOSMotionFeatures(mode='reference')(res)


def test_causal_mode_matches_function(dataset):
    res = LoadMOSScans(num_past=7)(dataset.get_data_info(11))
    out = MOSMotionFeatures(mode='causal')(res)['motion_feats']
    mp = torch.from_numpy(res['multi_points'])
    want = causal_residuals(mp[:, :3], mp[:, 4].long(), len(res['points']))
    np.testing.assert_array_equal(out, want.numpy())
    assert out.shape == (len(res['points']), 8) and (out != 0).any()


def test_causal_mode_is_causal(dataset):
    """Changing a future scan cannot change the causal features."""
    res = LoadMOSScans(num_past=7, num_future=1)(dataset.get_data_info(10))
    a = MOSMotionFeatures(mode='causal')(dict(res))['motion_feats']
    res['sweeps'][-1]['points'] = res['sweeps'][-1]['points'] + 1.0
    b = MOSMotionFeatures(mode='causal')(dict(res))['motion_feats']
    np.testing.assert_array_equal(a, b)


def test_causal_mode_needs_seven_past_scans(dataset):
    res = LoadMOSScans(num_past=3)(dataset.get_data_info(10))
    with pytest.raises(ValueError, match='need 7 past scans'):
        MOSMotionFeatures(mode='causal')(res)


def test_file_mode(dataset, tmp_path):
    res = LoadMOSScans(num_past=0)(dataset.get_data_info(4))
    n = len(res['points'])
    path = tmp_path / '08' / 'residual_images' / '000004.npy'
    path.parent.mkdir(parents=True)
    feats = np.random.default_rng(0).random((n, 8)).astype(np.float32)
    np.save(path, feats)
    out = MOSMotionFeatures(mode='file', residual_root=str(tmp_path))(res)
    np.testing.assert_array_equal(out['motion_feats'], feats)
    np.save(path, feats[:-1])
    with pytest.raises(ValueError, match=r'000004\.npy: residual features '
                       r'of shape \(%d, 8\) but .*000004\.bin has %d points'
                       % (n - 1, n)):
        MOSMotionFeatures(mode='file', residual_root=str(tmp_path))(res)
    np.save(path, feats[:, :6])
    with pytest.raises(ValueError, match=r'000004\.npy: residual features '
                       r'have 6 channels, the config has num_channels=8'):
        MOSMotionFeatures(mode='file', residual_root=str(tmp_path))(res)
    res5 = LoadMOSScans(num_past=0)(dataset.get_data_info(5))
    with pytest.raises(FileNotFoundError, match=r'08/residual_images/'
                       r'000005\.npy'):
        MOSMotionFeatures(mode='file', residual_root=str(tmp_path))(res5)


def test_bad_arguments():
    with pytest.raises(ValueError, match='mode'):
        MOSMotionFeatures(mode='magic')
    with pytest.raises(ValueError, match='residual_root'):
        MOSMotionFeatures(mode='file')
    with pytest.raises(ValueError, match='num_channels'):
        MOSMotionFeatures(mode='causal', num_channels=6)


def test_thread_setting_restored(dataset):
    res = LoadMOSScans(num_past=7)(dataset.get_data_info(9))
    torch.set_num_threads(2)  # the autouse fixture restores it afterwards
    a = MOSMotionFeatures(mode='causal')(dict(res))['motion_feats']
    assert torch.get_num_threads() == 2
    b = MOSMotionFeatures(mode='causal', num_threads=None)(
        dict(res))['motion_feats']
    np.testing.assert_array_equal(a, b)

"""Pose files: KITTI camera poses + calib, LiDAR 3x4 / 4x4, TUM."""
import math

import numpy as np
import pytest

from kdmos_plugin.datasets.kitti_io import (KittiFormatError,
                                            camera_to_lidar_poses,
                                            write_calib, write_poses)
from kdmos_plugin.sources import SourceFormatError, read_pose_file
from kdmos_plugin.sources.poses import quaternion_to_matrix


def _yaw(yaw, x=0.0, y=0.0, z=0.0):
    c, s = math.cos(yaw), math.sin(yaw)
    pose = np.eye(4)
    pose[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    pose[:3, 3] = [x, y, z]
    return pose


POSES = np.stack([_yaw(0.1 * i, i, 0.5 * i, 0.01 * i) for i in range(5)])


def test_lidar_12_numbers(tmp_path):
    write_poses(tmp_path / 'p.txt', POSES)
    np.testing.assert_allclose(read_pose_file(tmp_path / 'p.txt'), POSES)
    np.testing.assert_allclose(
        read_pose_file(tmp_path / 'p.txt', 'lidar', num_scans=3), POSES[:3])


def test_lidar_16_numbers_and_blocks_and_npy(tmp_path):
    (tmp_path / 'a.txt').write_text('\n'.join(
        ' '.join(repr(float(v)) for v in p.reshape(-1)) for p in POSES) + '\n')
    np.testing.assert_allclose(read_pose_file(tmp_path / 'a.txt'), POSES)
    (tmp_path / 'b.txt').write_text('\n\n'.join(
        '\n'.join(' '.join(repr(float(v)) for v in row) for row in p)
        for p in POSES) + '\n')
    np.testing.assert_allclose(read_pose_file(tmp_path / 'b.txt'), POSES)
    np.save(tmp_path / 'c.npy', POSES)
    np.testing.assert_allclose(read_pose_file(tmp_path / 'c.npy'), POSES)


def test_kitti_camera_poses_with_calib(tmp_path):
    tr = _yaw(0.3, 0.2, -0.1, 0.05) @ np.diag([1.0, -1.0, -1.0, 1.0])
    cam = tr[None] @ POSES @ np.linalg.inv(tr)[None]
    write_poses(tmp_path / 'poses.txt', cam)
    write_calib(tmp_path / 'calib.txt', tr)
    got = read_pose_file(tmp_path / 'poses.txt',
                         calib=tmp_path / 'calib.txt')
    np.testing.assert_allclose(got, camera_to_lidar_poses(cam, tr))
    # POSES[0] is the identity, so these are the LiDAR poses themselves
    np.testing.assert_allclose(got, POSES, atol=1e-12)
    with pytest.raises(SourceFormatError, match='need the calib.txt'):
        read_pose_file(tmp_path / 'poses.txt', 'kitti')


def test_quaternion_against_literal_rotations():
    s = math.sqrt(0.5)
    np.testing.assert_allclose(quaternion_to_matrix([0, 0, s, s]),
                               [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix([1, 0, 0, 0]),
                               np.diag([1.0, -1.0, -1.0]), atol=1e-12)
    for yaw in (0.3, -2.0):
        q = [0, 0, math.sin(yaw / 2), math.cos(yaw / 2)]
        np.testing.assert_allclose(quaternion_to_matrix(q),
                                   _yaw(yaw)[:3, :3], atol=1e-12)


def _tum(path, times, poses):
    lines = ['# timestamp tx ty tz qx qy qz qw']
    for t, p in zip(times, poses):
        yaw = math.atan2(p[1, 0], p[0, 0])
        lines.append(f'{t:.6f} {p[0, 3]} {p[1, 3]} {p[2, 3]} 0 0 '
                     f'{math.sin(yaw / 2)} {math.cos(yaw / 2)}')
    path.write_text('\n'.join(lines) + '\n')


def test_tum_matched_by_time(tmp_path):
    times = 100.0 + 0.1 * np.arange(5)
    _tum(tmp_path / 't.txt', times, POSES)
    np.testing.assert_allclose(read_pose_file(tmp_path / 't.txt'), POSES,
                               atol=1e-9)
    # scans at a slight offset pick the nearest pose
    got = read_pose_file(tmp_path / 't.txt', timestamps=[100.301, 100.0,
                                                         100.104])
    np.testing.assert_allclose(got, POSES[[3, 0, 1]], atol=1e-9)
    with pytest.raises(SourceFormatError,
                       match=r'no pose within 0.02 s of scan 1 at '
                       r'100.250000 s'):
        read_pose_file(tmp_path / 't.txt', timestamps=[100.0, 100.25])


def test_tum_on_another_clock_is_taken_in_order(tmp_path, caplog):
    _tum(tmp_path / 't.txt', 100.0 + 0.1 * np.arange(5), POSES)
    got = read_pose_file(tmp_path / 't.txt', timestamps=[0.0, 0.1, 0.2])
    np.testing.assert_allclose(got, POSES[:3], atol=1e-9)


@pytest.mark.parametrize('text,match', [
    ('1 2 3\n', '3 numbers a line is no known pose format'),
    ('1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0\n', 'line 2 holds a different count'),
    ('1 0 0 0 0 1 0 0 0 0 x 0\n', 'line 1 is not a list of numbers'),
    # 12 numbers: the KITTI reader's check (KittiFormatError)
    ('2 0 0 0 0 1 0 0 0 0 1 0\n', 'line 1: not a rigid transform: rotation'),
    ('1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 2\n',
     r'line 1: not a rigid transform: last row is \[0.0, 0.0, 0.0, 2.0\]'),
    ('0.0 1 2 3 0 0 0 2\n', 'line 1: quaternion .* not a unit quaternion'),
    ('0.2 1 2 3 0 0 0 1\n0.1 1 2 3 0 0 0 1\n',
     r'line 2: timestamps out of order'),
    ('# only a comment\n', 'holds no poses'),
    ('1 0 0 0 0 1 0 0 0 0 1 nan\n', 'line 1 holds NaN'),
])
def test_bad_pose_files(tmp_path, text, match):
    path = tmp_path / 'bad.txt'
    path.write_text(text)
    # SourceFormatError, or KittiFormatError from kitti_io: both ValueError
    with pytest.raises(ValueError, match=match) as err:
        read_pose_file(path)
    assert str(path) in str(err.value)


def test_too_few_poses(tmp_path):
    write_poses(tmp_path / 'p.txt', POSES)
    # 12 numbers a line: the KITTI reader and its error
    with pytest.raises(KittiFormatError, match='holds 5 poses but the '
                       'sequence has 6 scans'):
        read_pose_file(tmp_path / 'p.txt', num_scans=6)
    np.save(tmp_path / 'p.npy', POSES)
    with pytest.raises(SourceFormatError, match='holds 5 poses but the '
                       'recording has 6 scans'):
        read_pose_file(tmp_path / 'p.npy', num_scans=6)


def test_format_must_fit(tmp_path):
    write_poses(tmp_path / 'p.txt', POSES)
    with pytest.raises(SourceFormatError, match='format tum has 8'):
        read_pose_file(tmp_path / 'p.txt', 'tum')
    with pytest.raises(ValueError, match='pose format must be one of'):
        read_pose_file(tmp_path / 'p.txt', 'g2o')
    with pytest.raises(FileNotFoundError, match='none.txt'):
        read_pose_file(tmp_path / 'none.txt')

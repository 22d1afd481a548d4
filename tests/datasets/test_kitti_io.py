"""KITTI readers/writers: round trips, every malformed input, pose maths."""
import re
from pathlib import Path

import numpy as np
import pytest

from kdmos_plugin.datasets.kitti_io import (
    KittiFormatError, camera_to_lidar_poses, check_rigid_transform,
    frame_gap_problem, read_calib, read_labels, read_lidar_poses,
    read_points, read_poses, relative_pose, scan_files, transform_points,
    write_calib, write_labels, write_points, write_poses)

SAMPLE = Path(__file__).resolve().parents[1] / 'data' / 'semantickitti_sample'
REAL_SCAN = str(SAMPLE / 'velodyne' / '000000.bin')
REAL_LABEL = str(SAMPLE / 'labels' / '000000.label')


def _rot(yaw, pitch=0.0):
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    return rz @ ry


def _pose(yaw, t, pitch=0.0):
    p = np.eye(4)
    p[:3, :3] = _rot(yaw, pitch)
    p[:3, 3] = t
    return p


def test_points_round_trip(tmp_path):
    pts = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    write_points(tmp_path / 'a' / '000000.bin', pts)
    out = read_points(tmp_path / 'a' / '000000.bin')
    assert out.dtype == np.float32 and out.shape == (100, 4)
    np.testing.assert_array_equal(out, pts)


def test_real_scan_and_labels():
    pts = read_points(REAL_SCAN)
    assert pts.shape == (122626, 4)
    labels = read_labels(REAL_LABEL, num_points=len(pts))
    assert labels.dtype == np.uint32 and 254 in set((labels & 0xFFFF).tolist())


def test_labels_round_trip_keeps_instance_bits(tmp_path):
    labels = np.array([9, 251 | (5 << 16), 0, 0xFFFFFFFF], dtype=np.uint32)
    write_labels(tmp_path / 'x.label', labels)
    out = read_labels(tmp_path / 'x.label', num_points=4)
    np.testing.assert_array_equal(out, labels)
    assert out.dtype == np.uint32


def test_points_size_not_multiple_of_16(tmp_path):
    path = tmp_path / 'bad.bin'
    np.zeros(4 * 3 + 1, np.float32).tofile(path)
    with pytest.raises(KittiFormatError, match=r'bad\.bin.*multiple of 16'):
        read_points(path)


def test_points_empty_and_missing(tmp_path):
    (tmp_path / 'empty.bin').write_bytes(b'')
    with pytest.raises(KittiFormatError, match='empty.bin.*no points'):
        read_points(tmp_path / 'empty.bin')
    with pytest.raises(FileNotFoundError, match='nothere.bin'):
        read_points(tmp_path / 'nothere.bin')


@pytest.mark.parametrize('bad', [np.nan, np.inf, -np.inf])
def test_points_non_finite(tmp_path, bad):
    pts = np.ones((10, 4), np.float32)
    pts[7, 1] = bad
    write_points(tmp_path / 'nan.bin', pts)
    with pytest.raises(KittiFormatError, match=r'nan\.bin.*1 of 10.*point 7'):
        read_points(tmp_path / 'nan.bin')


def test_label_count_mismatch_and_size(tmp_path):
    write_labels(tmp_path / 'l.label', np.zeros(5, np.uint32))
    with pytest.raises(KittiFormatError,
                       match=r'l\.label.*5 labels.*6 points'):
        read_labels(tmp_path / 'l.label', num_points=6)
    (tmp_path / 'odd.label').write_bytes(b'\0' * 7)
    with pytest.raises(KittiFormatError, match=r'odd\.label.*multiple of 4'):
        read_labels(tmp_path / 'odd.label')


def test_poses_round_trip_exact(tmp_path):
    rng = np.random.default_rng(1)
    poses = np.stack([_pose(rng.uniform(-3, 3), rng.normal(size=3) * 100,
                            rng.uniform(-0.1, 0.1)) for _ in range(5)])
    write_poses(tmp_path / 'poses.txt', poses)
    out = read_poses(tmp_path / 'poses.txt', num_scans=5)
    assert out.shape == (5, 4, 4) and out.dtype == np.float64
    np.testing.assert_array_equal(out, poses)
    assert len((tmp_path / 'poses.txt').read_text().split('\n')[0].split()) \
        == 12


def test_poses_errors(tmp_path):
    write_poses(tmp_path / 'p.txt', np.stack([np.eye(4)] * 3))
    with pytest.raises(KittiFormatError, match=r'p\.txt.*3 poses.*5 scans'):
        read_poses(tmp_path / 'p.txt', num_scans=5)
    (tmp_path / 'short.txt').write_text('1 0 0 0 0 1 0 0 0 0 1 0\n1 0 0\n')
    with pytest.raises(KittiFormatError,
                       match=r'short\.txt.*line 2.*3 numbers'):
        read_poses(tmp_path / 'short.txt')
    (tmp_path / 'nan.txt').write_text('1 0 0 nan 0 1 0 0 0 0 1 0\n')
    with pytest.raises(KittiFormatError, match=r'nan\.txt.*line 1.*NaN'):
        read_poses(tmp_path / 'nan.txt')
    (tmp_path / 'word.txt').write_text('1 0 0 x 0 1 0 0 0 0 1 0\n')
    with pytest.raises(KittiFormatError, match=r'word\.txt.*line 1'):
        read_poses(tmp_path / 'word.txt')
    (tmp_path / 'none.txt').write_text('\n')
    with pytest.raises(KittiFormatError, match=r'none\.txt.*no poses'):
        read_poses(tmp_path / 'none.txt')
    with pytest.raises(FileNotFoundError, match='missing.txt'):
        read_poses(tmp_path / 'missing.txt')


def test_calib_round_trip_and_errors(tmp_path):
    Tr = _pose(0.3, [0.1, -0.2, 0.3], 0.05)
    P0 = np.arange(12, dtype=float)
    write_calib(tmp_path / 'calib.txt', Tr, extra={'P0': P0})
    calib = read_calib(tmp_path / 'calib.txt')
    np.testing.assert_array_equal(calib['Tr'], Tr)
    np.testing.assert_array_equal(calib['P0'], P0)
    (tmp_path / 'notr.txt').write_text('P0: ' + ' '.join(['1'] * 12) + '\n')
    with pytest.raises(KittiFormatError, match=r'notr\.txt.*no "Tr".*P0'):
        read_calib(tmp_path / 'notr.txt')
    (tmp_path / 'shorttr.txt').write_text('Tr: 1 0 0\n')
    with pytest.raises(KittiFormatError, match=r'shorttr\.txt.*3 numbers'):
        read_calib(tmp_path / 'shorttr.txt')
    (tmp_path / 'nocolon.txt').write_text('Tr 1 0 0\n')
    with pytest.raises(KittiFormatError, match=r'nocolon\.txt.*line 1'):
        read_calib(tmp_path / 'nocolon.txt')
    with pytest.raises(FileNotFoundError, match='nocalib.txt'):
        read_calib(tmp_path / 'nocalib.txt')


def test_camera_to_lidar_poses_known_transforms():
    # Tr maps LiDAR (x fwd, y left, z up) to camera (x right, y down, z fwd)
    Tr = np.array([[0, -1, 0, 0], [0, 0, -1, -0.1], [1, 0, 0, -0.3],
                   [0, 0, 0, 1]], dtype=float)
    # the vehicle drives 2 m forward (camera z) and turns left by 90 deg
    # (camera yaw about -y): lidar pose of scan 1 = translate x 2, yaw +90
    lidar1 = _pose(np.pi / 2, [2.0, 0.0, 0.0])
    cam0 = _pose(0.4, [5.0, 1.0, -2.0])  # arbitrary first camera pose
    cam = np.stack([cam0, cam0 @ Tr @ lidar1 @ np.linalg.inv(Tr)])
    P = camera_to_lidar_poses(cam, Tr)
    np.testing.assert_allclose(P[0], np.eye(4), atol=1e-12)
    np.testing.assert_allclose(P[1], lidar1, atol=1e-12)
    # a point 1 m ahead of the LiDAR at scan 1 is at (2, 1, 0) in scan 0
    p = transform_points(np.array([[1.0, 0.0, 0.0, 0.5]]), P[1])
    np.testing.assert_allclose(p, [[2.0, 1.0, 0.0, 0.5]], atol=1e-12)
    # and back: relative_pose(P0, P1) maps scan 1 into scan 0, its inverse
    # maps the point back to (1, 0, 0)
    back = transform_points(p, relative_pose(P[1], P[0]))
    np.testing.assert_allclose(back, [[1.0, 0.0, 0.0, 0.5]], atol=1e-12)


def test_camera_to_lidar_matches_formula():
    rng = np.random.default_rng(3)
    Tr = _pose(0.1, [0.2, 0.1, -0.3], 0.2)
    cam = np.stack([_pose(rng.uniform(-3, 3), rng.normal(size=3) * 10,
                          rng.uniform(-.2, .2)) for _ in range(4)])
    P = camera_to_lidar_poses(cam, Tr)
    for i in range(4):
        want = np.linalg.inv(Tr) @ np.linalg.inv(cam[0]) @ cam[i] @ Tr
        np.testing.assert_allclose(P[i], want, atol=1e-10)


def test_read_lidar_poses_of_a_sequence_folder(tmp_path):
    # LiDAR poses L_i (L_0 = I) written as camera poses Tr @ L_i @ inv(Tr)
    Tr = _pose(-0.3, [0.1, -0.2, 0.3], 0.1)
    lidar = np.stack([np.eye(4), _pose(0.2, [1.0, 0.5, 0.0]),
                      _pose(0.5, [2.0, 1.5, 0.1], 0.05)])
    write_poses(tmp_path / 'poses.txt',
                Tr[None] @ lidar @ np.linalg.inv(Tr)[None])
    write_calib(tmp_path / 'calib.txt', Tr)
    np.testing.assert_allclose(read_lidar_poses(tmp_path), lidar,
                               atol=1e-12)
    with pytest.raises(KittiFormatError, match='poses.txt: holds 3 poses'):
        read_lidar_poses(tmp_path, num_scans=4)
    # the files given one by one (a separate poses folder), no seq_dir
    other = tmp_path / 'poses_root'
    other.mkdir()
    (tmp_path / 'poses.txt').rename(other / 'seq08.txt')
    np.testing.assert_allclose(
        read_lidar_poses(poses_path=other / 'seq08.txt',
                         calib_path=tmp_path / 'calib.txt'), lidar,
        atol=1e-12)
    with pytest.raises(ValueError, match='needs seq_dir or both'):
        read_lidar_poses(poses_path=other / 'seq08.txt')
    (tmp_path / 'calib.txt').unlink()
    with pytest.raises(FileNotFoundError, match='calib.txt'):
        read_lidar_poses(tmp_path, poses_path=other / 'seq08.txt')


def test_transform_points_keeps_extra_columns_and_dtype():
    import torch
    pts = np.array([[1.0, 2.0, 3.0, 0.7, 4.0]], np.float32)
    T = _pose(np.pi, [1.0, 0.0, -1.0])
    out = transform_points(pts, T)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, -2.0, 2.0, 0.7, 4.0]], atol=1e-6)
    np.testing.assert_array_equal(pts[0, :3], [1, 2, 3])  # input untouched
    t_out = transform_points(torch.from_numpy(pts), T)
    assert t_out.dtype == torch.float32
    np.testing.assert_allclose(t_out.numpy(), out, atol=1e-6)


def test_real_scans_are_not_taken_for_another_layout(tmp_path):
    """The layout probes (5 columns with a ring index, float64) never fire
    on real KITTI scans, also cut to a point count that fits 5 columns."""
    for path in sorted((SAMPLE / 'velodyne').glob('*.bin')):
        points = read_points(path)
        for n in (len(points) - len(points) % 20, 20, 40):
            write_points(tmp_path / 'cut.bin', points[:n])
            np.testing.assert_array_equal(read_points(tmp_path / 'cut.bin'),
                                          points[:n])
    # ... nor on a scan in millimetres (row 6: a warning, not an error)
    write_points(tmp_path / 'mm.bin', points * [1000, 1000, 1000, 1])
    assert read_points(tmp_path / 'mm.bin').shape == points.shape


def test_rigid_transform_check():
    good = _pose(0.3, [1.0, 2.0, 3.0], 0.1)
    np.testing.assert_array_equal(check_rigid_transform(good, 'p'), good)
    cases = {'shape (3, 4)': good[:3], 'NaN': np.where(np.eye(4) > 0,
                                                      np.nan, 0),
             'last row': good + np.eye(4)[3] * 0.5,
             'not orthonormal': good @ np.diag([2.0, 1, 1, 1]),
             'reflection': good @ np.diag([-1.0, 1, 1, 1])}
    for what, mat in cases.items():
        with pytest.raises(KittiFormatError,
                           match=f'pose 7: .*{re.escape(what)}'):
            check_rigid_transform(mat, 'pose 7')


def test_scan_files_order_and_frame_gaps(tmp_path):
    for name in ('13.bin', '8.bin', '9.bin', '._8.bin', 'a.txt'):
        (tmp_path / name).write_bytes(b'')
    assert [Path(p).name for p in scan_files(tmp_path)] == [
        '8.bin', '9.bin', '13.bin']
    assert frame_gap_problem([8, 9, 10]) is None
    assert frame_gap_problem([0, 1, 5, 6, 8]).startswith(
        'frames are missing: 000002..000004 (between 000001 and 000005), '
        'and 1 more gap;')


def test_writers_replace_files_atomically_and_leave_no_temp_files(tmp_path):
    seq = tmp_path / 'sequences' / '00'
    pts = np.arange(8, dtype=np.float32).reshape(2, 4)
    write_points(seq / 'velodyne' / '000000.bin', pts + 1)
    write_points(seq / 'velodyne' / '000000.bin', pts)  # replaces
    write_labels(seq / 'labels' / '000000.label', np.array([9, 251]))
    write_poses(seq / 'poses.txt', np.eye(4)[None])
    write_calib(seq / 'calib.txt', np.eye(4), {'P0': np.arange(12.0)})
    names = sorted(str(p.relative_to(seq)) for p in seq.rglob('*')
                   if p.is_file())
    assert names == ['calib.txt', 'labels/000000.label', 'poses.txt',
                     'velodyne/000000.bin']
    np.testing.assert_array_equal(
        np.fromfile(seq / 'velodyne' / '000000.bin', np.float32), pts.ravel())
    assert (seq / 'calib.txt').read_text().splitlines()[0] == \
        'P0: ' + ' '.join(repr(float(v)) for v in range(12))

"""Scan-file sources (.bin .pcd .ply .npy .npz) and build_source."""
import numpy as np
import pytest
from plyfile import PlyData, PlyElement

from kdmos_plugin.datasets.kitti_io import (write_calib, write_points,
                                            write_poses)
from kdmos_plugin.sources import (POINT_SOURCES, BinFolderSource,
                                  NumpyFolderSource, PCDFolderSource,
                                  PLYFolderSource, SourceFormatError,
                                  build_source, natural_sorted, write_pcd)
from kdmos_plugin.sources.folder import read_numpy_points, read_ply_points


def _points(seed, n=50):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 10, (n, 3)), rng.random((n, 1))],
                          1).astype(np.float32)


def test_natural_order():
    names = ['scan10.pcd', 'scan2.pcd', 'scan1.pcd', 'Scan3.pcd']
    assert natural_sorted(names) == ['scan1.pcd', 'scan2.pcd', 'Scan3.pcd',
                                     'scan10.pcd']


def test_folder_is_read_in_number_order(tmp_path):
    for i in (0, 2, 10, 1):
        write_points(tmp_path / f'{i}.bin', _points(i))
    src = build_source(str(tmp_path))
    assert isinstance(src, BinFolderSource)
    frames = list(src)
    assert [f.name for f in frames] == ['0', '1', '2', '10']
    for f in frames:
        np.testing.assert_array_equal(f.points, _points(int(f.name)))
        assert f.pose is None
    # no times.txt: index / scan rate
    assert [f.timestamp for f in frames] == pytest.approx([0, .1, .2, .3])
    assert [f.timestamp for f in BinFolderSource(tmp_path, scan_rate=20)
            ] == pytest.approx([0, .05, .1, .15])


def test_times_file_and_out_of_order_times(tmp_path):
    for i in range(3):
        write_points(tmp_path / 'velodyne' / f'{i:06d}.bin', _points(i))
    (tmp_path / 'times.txt').write_text('5.0\n5.1\n5.3\n')
    assert [f.timestamp for f in build_source(tmp_path)] == \
        pytest.approx([5.0, 5.1, 5.3])
    (tmp_path / 'times.txt').write_text('5.0\n5.2\n5.1\n')
    with pytest.raises(SourceFormatError,
                       match=r'times.txt\): timestamps out of order at scan '
                       r'2: 5.100000 s is not after 5.200000 s'):
        build_source(tmp_path)


def test_kitti_sequence_folder_brings_its_poses(tmp_path):
    tr = np.eye(4)
    tr[:3, 3] = [0.1, -0.2, 0.3]
    cam = np.tile(np.eye(4), (3, 1, 1))
    cam[:, 2, 3] = [0.0, 1.0, 2.5]
    write_poses(tmp_path / 'poses.txt', cam)
    write_calib(tmp_path / 'calib.txt', tr)
    for i in range(3):
        write_points(tmp_path / 'velodyne' / f'{i:06d}.bin', _points(i))
    frames = list(build_source(tmp_path))
    expected = np.linalg.inv(tr) @ cam @ tr  # pose_0 is the identity
    np.testing.assert_allclose(np.stack([f.pose for f in frames]), expected)


def test_empty_bin_is_a_scan_of_no_points(tmp_path):
    (tmp_path / '0.bin').write_bytes(b'')
    assert list(build_source(tmp_path))[0].points.shape == (0, 4)


def test_pcd_folder_and_single_file(tmp_path):
    for i in range(3):
        write_pcd(tmp_path / f'{i}.pcd', _points(i),
                  data='ascii' if i % 2 else 'binary')
    src = build_source(tmp_path)
    assert isinstance(src, PCDFolderSource) and len(src) == 3
    for i, frame in enumerate(src):
        np.testing.assert_array_equal(frame.points, _points(i))
    single = build_source(str(tmp_path / '1.pcd'))
    assert len(single) == 1
    np.testing.assert_array_equal(next(iter(single)).points, _points(1))
    files = build_source([str(tmp_path / '2.pcd'), str(tmp_path / '0.pcd')])
    assert [f.name for f in files] == ['2', '0']  # the order given


@pytest.mark.parametrize('text', [True, False])
def test_ply_any_field_order_and_types(tmp_path, text):
    pts = _points(3)
    vertex = np.zeros(len(pts), dtype=[('intensity', 'u2'), ('z', 'f8'),
                                       ('y', 'f4'), ('x', 'f4')])
    vertex['x'], vertex['y'], vertex['z'] = pts[:, 0], pts[:, 1], pts[:, 2]
    vertex['intensity'] = np.arange(len(pts)) * 1000
    path = tmp_path / 'a.ply'
    PlyData([PlyElement.describe(vertex, 'vertex')], text=text).write(
        str(path))
    src = build_source(str(path))
    assert isinstance(src, PLYFolderSource)
    points = next(iter(src)).points
    np.testing.assert_array_equal(points[:, :3], pts[:, :3])
    np.testing.assert_array_equal(points[:, 3], vertex['intensity'])


def test_ply_without_vertex(tmp_path):
    face = np.zeros(2, dtype=[('a', 'i4')])
    path = tmp_path / 'b.ply'
    PlyData([PlyElement.describe(face, 'face')]).write(str(path))
    with pytest.raises(SourceFormatError, match=r'b\.ply: no vertex element'):
        read_ply_points(str(path))
    path.write_text('not a ply file\n')
    with pytest.raises(SourceFormatError, match='not a readable PLY'):
        read_ply_points(str(path))


def test_numpy_scans(tmp_path):
    pts = _points(4)
    np.save(tmp_path / '0.npy', pts[:, :3].astype(np.float64))
    np.savez(tmp_path / '1.npz', points=pts, other=np.zeros(3))
    np.savez(tmp_path / '2.npz', pts)
    cloud = np.zeros(len(pts), dtype=[('z', 'f4'), ('x', 'f4'), ('y', 'f4'),
                                      ('reflectivity', 'u1')])
    cloud['x'], cloud['y'], cloud['z'] = pts[:, 0], pts[:, 1], pts[:, 2]
    cloud['reflectivity'] = 200
    np.save(tmp_path / '3.npy', cloud)
    src = build_source(tmp_path)
    assert isinstance(src, NumpyFolderSource)
    frames = list(src)
    assert np.isnan(frames[0].points[:, 3]).all()  # (N, 3): no intensity
    np.testing.assert_array_equal(frames[0].points[:, :3], pts[:, :3])
    np.testing.assert_array_equal(frames[1].points, pts)
    np.testing.assert_array_equal(frames[2].points, pts)
    np.testing.assert_array_equal(frames[3].points[:, :3], pts[:, :3])
    assert (frames[3].points[:, 3] == 200).all()


@pytest.mark.parametrize('make,match', [
    (lambda p: np.savez(p / 'a.npz', a=np.zeros((3, 4)), b=np.zeros(3)),
     r"holds arrays \['a', 'b'\]; name the scan \"points\""),
    (lambda p: np.save(p / 'a.npy', np.zeros((3, 2))),
     r'expected \(N, 3\) or \(N, >=4\) numbers, got \(3, 2\)'),
    (lambda p: np.save(p / 'a.npy', np.array([{'x': 1}], dtype=object),
                       allow_pickle=True), 'not a plain numpy array'),
])
def test_bad_numpy_scans(tmp_path, make, match):
    make(tmp_path)
    path = next(tmp_path.iterdir())
    with pytest.raises(SourceFormatError, match=match) as err:
        read_numpy_points(str(path))
    assert str(path) in str(err.value)


def test_build_source_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='no recording'):
        build_source(tmp_path / 'missing')
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(SourceFormatError, match='no scans'):
        build_source(tmp_path)
    with pytest.raises(SourceFormatError, match='unknown scan format'):
        build_source(tmp_path / 'notes.txt')
    write_points(tmp_path / '0.bin', _points(0))
    write_pcd(tmp_path / '1.pcd', _points(1))
    with pytest.raises(SourceFormatError,
                       match='several kinds .*BinFolderSource, '
                       'PCDFolderSource'):
        build_source(tmp_path)
    with pytest.raises(SourceFormatError, match='of one kind'):
        build_source([tmp_path / '0.bin', tmp_path / '1.pcd'])
    with pytest.raises(SourceFormatError, match='--topic is for ROS bags'):
        build_source(tmp_path / '0.bin', topic='/points')


def test_sources_are_registered():
    for name in ('BinFolderSource', 'PCDFolderSource', 'PLYFolderSource',
                 'NumpyFolderSource', 'RosbagSource'):
        assert POINT_SOURCES.get(name) is not None

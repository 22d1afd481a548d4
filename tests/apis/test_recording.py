"""tools/infer.py on recordings of every format, sensor profiles and
odometry in the streamer."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from plyfile import PlyData, PlyElement

from kdmos_plugin.apis.inference import MOSStreamer, init_mos_model
from kdmos_plugin.datasets.kitti_io import (read_labels, read_lidar_poses,
                                            read_points, write_points,
                                            write_poses)
from kdmos_plugin.sources import SensorProfile, write_pcd
from kdmos_plugin.sources.rosbag import write_pointcloud2_bag

REPO = Path(__file__).resolve().parents[2]
#: Formats a recording is written in; 'bin' is the reference.
FORMATS = ['bin', 'pcd_ascii', 'pcd_binary', 'ply', 'npy', 'npz', 'ros1',
           'ros2_db3', 'ros2_mcap']


def _infer_tool():
    spec = importlib.util.spec_from_file_location('infer_tool',
                                                  REPO / 'tools' / 'infer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def drive(synthetic_root, tmp_path_factory):
    """The first 6 scans of synthetic sequence 08, their LiDAR poses (also
    as a 12-number pose file) and scan times."""
    seq = Path(synthetic_root, 'sequences', '08')
    paths = sorted((seq / 'velodyne').glob('*.bin'))[:6]
    root = tmp_path_factory.mktemp('drive')
    poses = read_lidar_poses(seq)[:len(paths)]
    write_poses(root / 'lidar_poses.txt', poses)
    return dict(scans=[read_points(p) for p in paths], poses=poses,
                root=root, stamps=[20.0 + 0.1 * i for i in range(len(paths))])


def _cloud(points):
    """Fields in a scrambled order, z as float64."""
    cloud = np.zeros(len(points), dtype=[('intensity', '<f4'), ('z', '<f8'),
                                         ('ring', '<u2'), ('x', '<f4'),
                                         ('y', '<f4')])
    cloud['x'], cloud['y'], cloud['z'] = points[:, 0], points[:, 1], \
        points[:, 2]
    cloud['intensity'] = points[:, 3]
    return cloud


def write_recording(fmt: str, root: Path, scans, stamps) -> Path:
    """``scans`` in format ``fmt`` under ``root``; folder scans are named
    scan_0, scan_5, ..., scan_45 (natural order differs from string
    order)."""
    names = [f'scan_{5 * i}' for i in range(len(scans))]
    out = root / fmt
    if fmt.startswith('ros'):
        bag = {'ros1': root / 'drive.bag', 'ros2_db3': out,
               'ros2_mcap': out}[fmt]
        write_pointcloud2_bag(bag, [(t, _cloud(p)) for t, p in zip(stamps,
                                                                   scans)],
                              topic='/velodyne_points',
                              storage='sqlite3' if fmt == 'ros2_db3'
                              else 'mcap')
        return bag
    out.mkdir()
    for name, points in zip(names, scans):
        if fmt == 'bin':
            write_points(out / f'{name}.bin', points)
        elif fmt.startswith('pcd'):
            write_pcd(out / f'{name}.pcd', _cloud(points),
                      data=fmt.split('_')[1])
        elif fmt == 'ply':
            PlyData([PlyElement.describe(_cloud(points), 'vertex')]).write(
                str(out / f'{name}.ply'))
        elif fmt == 'npy':
            np.save(out / f'{name}.npy', points)
        elif fmt == 'npz':
            np.savez(out / f'{name}.npz', points=_cloud(points))
    return out


def _labels(out: Path, scans, names=None):
    names = names or sorted((p.stem for p in out.glob('*.label')),
                            key=lambda n: int(n.split('_')[-1]))
    assert len(names) == len(scans)
    return [read_labels(out / f'{n}.label', len(s))
            for n, s in zip(names, scans)]


def _run(ckpt, source, out, *extra):
    cfg = ckpt.replace('.pth', '.py')
    return _infer_tool().main([cfg, ckpt, '--source', str(source), '--out',
                               str(out), *extra])


@pytest.fixture(scope='module')
def reference(drive, tiny_student_ckpt):
    """Labels of the .bin recording with its poses."""
    src = write_recording('bin', drive['root'], drive['scans'],
                          drive['stamps'])
    out = drive['root'] / 'out_bin'
    _run(tiny_student_ckpt, src, out, '--poses',
         str(drive['root'] / 'lidar_poses.txt'))
    return _labels(out, drive['scans'])


@pytest.mark.parametrize('fmt', FORMATS[1:])
def test_every_format_gives_the_labels_of_bin(fmt, drive, reference,
                                              tiny_student_ckpt):
    src = write_recording(fmt, drive['root'], drive['scans'],
                          drive['stamps'])
    out = drive['root'] / f'out_{fmt}'
    summary = _run(tiny_student_ckpt, src, out, '--poses',
                   str(drive['root'] / 'lidar_poses.txt'))
    assert summary['scans'] == len(drive['scans'])
    labels = _labels(out, drive['scans'])
    for got, want in zip(labels, reference):
        np.testing.assert_array_equal(got, want)


def test_reference_labels_and_summary(drive, reference):
    out = drive['root'] / 'out_bin'
    summary = json.loads((out / 'summary.json').read_text())
    points = sum(len(s) for s in drive['scans'])
    moving = sum(int((lab == 251).sum()) for lab in reference)
    assert summary['scans'] == len(drive['scans'])
    assert summary['points'] == points
    assert summary['moving_points'] == moving
    assert summary['moving_share'] == pytest.approx(moving / points)
    assert summary['poses'].startswith('file ')
    assert summary['seconds_per_scan'] > 0
    assert all(set(np.unique(lab)) <= {0, 9, 250, 251} for lab in reference)
    # the poses used are written back, relative to the first scan
    used = np.loadtxt(out / 'poses.txt').reshape(-1, 3, 4)
    rel = np.linalg.inv(drive['poses'][0])[None] @ drive['poses']
    np.testing.assert_allclose(used, rel[:, :3], atol=1e-9)


def test_uint8_intensity_with_the_vlp16_profile(drive, tiny_student_ckpt):
    """A bag of 0-255 intensities and --sensor vlp16 gives the labels of
    the same scans with 0-1 intensities as .bin (VLP-16 preset: 10 Hz,
    1.73 m, like the training sensor, so only the intensity differs)."""
    root = drive['root'] / 'u8'
    root.mkdir()
    raw = [np.round(s[:, 3] * 255).astype(np.uint8) for s in drive['scans']]
    scaled = []
    for s, r in zip(drive['scans'], raw):
        pts = s.copy()
        pts[:, 3] = r.astype(np.float32) / np.float32(255)
        scaled.append(pts)
    bin_dir = write_recording('bin', root, scaled, drive['stamps'])
    clouds = []
    for s, r in zip(drive['scans'], raw):
        cloud = np.zeros(len(s), dtype=[('x', '<f4'), ('y', '<f4'),
                                        ('z', '<f4'), ('intensity', 'u1')])
        cloud['x'], cloud['y'], cloud['z'] = s[:, 0], s[:, 1], s[:, 2]
        cloud['intensity'] = r
        clouds.append(cloud)
    bag = write_pointcloud2_bag(root / 'u8.bag',
                                list(zip(drive['stamps'], clouds)))
    poses = str(drive['root'] / 'lidar_poses.txt')
    _run(tiny_student_ckpt, bin_dir, root / 'out_bin', '--poses', poses)
    _run(tiny_student_ckpt, bag, root / 'out_bag', '--poses', poses,
         '--sensor', 'vlp16')
    want = _labels(root / 'out_bin', scaled)
    got = _labels(root / 'out_bag', scaled,
                  [f'{i:06d}' for i in range(len(scaled))])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_nan_points_of_a_bag_are_labelled_unlabeled(drive, tiny_student_ckpt):
    root = drive['root'] / 'nan'
    root.mkdir()
    rng = np.random.default_rng(0)
    holed, clean = [], []
    for s in drive['scans']:
        bad = rng.random(len(s)) < 0.05
        pts = s.copy()
        pts[bad, :3] = np.nan
        holed.append(pts)
        clean.append(s[~bad])
    bag = write_pointcloud2_bag(root / 'holes', [
        (t, _cloud(p)) for t, p in zip(drive['stamps'], holed)])
    bin_dir = write_recording('bin', root, clean, drive['stamps'])
    poses = str(drive['root'] / 'lidar_poses.txt')
    summary = _run(tiny_student_ckpt, bag, root / 'out_bag', '--poses', poses)
    _run(tiny_student_ckpt, bin_dir, root / 'out_bin', '--poses', poses)
    want = _labels(root / 'out_bin', clean)
    got = _labels(root / 'out_bag', holed,
                  [f'{i:06d}' for i in range(len(holed))])
    for g, w, pts in zip(got, want, holed):
        bad = np.isnan(pts[:, 0])
        assert (g[bad] == 0).all()
        np.testing.assert_array_equal(g[~bad], w)
    assert summary['invalid_points'] == sum(int(np.isnan(p[:, 0]).sum())
                                            for p in holed)


def test_a_bag_without_poses_to_labels_and_an_animation(
        drive, tiny_student_ckpt, tmp_path):
    """The README's command: a ROS2 bag, no poses, --odometry --vis."""
    bag = write_pointcloud2_bag(tmp_path / 'drive', [
        (t, _cloud(p)) for t, p in zip(drive['stamps'], drive['scans'])])
    out = tmp_path / 'out'
    cfg = tiny_student_ckpt.replace('.pth', '.py')
    res = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'infer.py'), cfg,
         tiny_student_ckpt, '--source', str(bag), '--odometry', '--vis',
         '--sensor', 'hdl64e', '--out', str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    names = [f'{i:06d}' for i in range(len(drive['scans']))]
    labels = _labels(out, drive['scans'], names)
    assert all(set(np.unique(lab)) <= {0, 9, 250, 251} for lab in labels)
    assert all((out / 'vis' / f'{n}.png').is_file() for n in names)
    import imageio.v2 as imageio
    frames = imageio.mimread(out / 'recording.gif')
    assert len(frames) == len(names)
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['poses'] == 'odometry (KISS-ICP)'
    assert summary['source_type'] == 'RosbagSource'
    assert summary['topic'] == '/points'
    # the estimated trajectory follows the true one
    est = np.loadtxt(out / 'poses.txt').reshape(-1, 3, 4)
    rel = np.linalg.inv(drive['poses'][0])[None] @ drive['poses']
    assert np.abs(est[:, :, 3] - rel[:, :3, 3]).max() < 0.5
    assert 'moving' in res.stdout + res.stderr  # the summary line


# ----------------------------------------------------------- the streamer
def _profile(**kwargs):
    base = dict(name='test', beams=32, vertical_fov=(-25.0, 3.0),
                horizontal_resolution=0.7, max_range=80.0,
                mounting_height=1.73, scan_rate=10.0, intensity_scale=1.0)
    return SensorProfile(**{**base, **kwargs})


@pytest.fixture(scope='module')
def student(tiny_student_ckpt):
    return init_mos_model(tiny_student_ckpt.replace('.pth', '.py'),
                          tiny_student_ckpt)


def test_20hz_profile_takes_every_second_scan(drive, student):
    """At 20 Hz the past scans of scan t are t-2, t-4, ...: the labels of
    the even (odd) scans are those of a 10 Hz stream of the even (odd)
    scans alone."""
    model, pipeline = student
    fast = MOSStreamer(model, pipeline, profile=_profile(scan_rate=20.0))
    assert fast.stride == 2 and fast.buffer.maxlen == 15
    assert len(drive['scans']) >= 4  # both parities see a past scan
    got = [fast.step(s, p) for s, p in zip(drive['scans'], drive['poses'])]
    for parity in (0, 1):
        slow = MOSStreamer(model, pipeline)
        for t in range(parity, len(drive['scans']), 2):
            want = slow.step(drive['scans'][t], drive['poses'][t])
            np.testing.assert_array_equal(got[t], want)


def test_mounting_height_is_compensated(drive, student):
    """Scans of a sensor 0.5 m higher (the road 0.5 m lower in its frame)
    with its profile get the labels of the training sensor's scans."""
    model, pipeline = student
    base = MOSStreamer(model, pipeline)
    high = MOSStreamer(model, pipeline, profile=_profile(
        mounting_height=2.23))
    assert high.height_offset == pytest.approx(0.5)
    shift = np.eye(4)
    shift[2, 3] = 0.5  # the high sensor's frame in the low one's
    same = total = 0
    for s, p in zip(drive['scans'], drive['poses']):
        lowered = s.copy()
        lowered[:, 2] -= np.float32(0.5)
        want = base.step(s, p)
        got = high.step(lowered, p @ shift)
        same += int((got == want).sum())
        total += len(want)
    assert same / total > 0.995  # float32 rounding of z +- 0.5 only


def test_streamer_odometry_gives_the_poses(drive, student):
    from kdmos_plugin.sources import Odometry
    model, pipeline = student
    streamer = MOSStreamer(model, pipeline, odometry=True)
    assert isinstance(streamer.odometry, Odometry)
    reference = Odometry.for_profile(_profile(max_range=120.0,
                                              min_range=0.9))
    for s in drive['scans'][:4]:
        labels = streamer.step(s)  # no pose
        assert len(labels) == len(s)
        np.testing.assert_allclose(streamer.buffer[-1][1],
                                   reference.register(s), atol=1e-9)
    streamer.reset()
    assert streamer.odometry.count == 0


def test_streamer_normalises_raw_intensity(drive, student):
    model, pipeline = student
    plain = MOSStreamer(model, pipeline)
    scaled = MOSStreamer(model, pipeline,
                         profile=_profile(intensity_scale=255.0))
    for s, p in zip(drive['scans'][:3], drive['poses'][:3]):
        raw = s.copy()
        raw[:, 3] = np.round(s[:, 3] * 255)
        norm = s.copy()
        norm[:, 3] = raw[:, 3] / np.float32(255)
        np.testing.assert_array_equal(scaled.step(raw, p),
                                      plain.step(norm, p))
        np.testing.assert_array_equal(scaled.buffer[-1][0][:, 3],
                                      norm[:, 3])

"""tools/benchmark.py: the synthetic source and the report layout (no
timing assertions)."""
import importlib.util
import json
import types
from pathlib import Path

import numpy as np
import pytest

from kdmos_plugin.datasets.kitti_io import (read_labels, read_lidar_poses,
                                            read_points)

REPO = Path(__file__).resolve().parents[2]
REAL_SAMPLE = REPO / 'tests' / 'data' / 'semantickitti_sample'


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load(REPO / 'tools' / 'benchmark.py', 'kdmos_benchmark_tool')


def test_synthetic_source_is_a_sequence_the_topics_accept(tmp_path):
    root = bench.write_synthetic_source(str(tmp_path), num_scans=15, seed=1,
                                        preset='small')
    files = sorted((root / 'velodyne').glob('*.bin'))
    assert len(files) == 15 and (root / 'calib.txt').is_file()
    for f in files:
        points = read_points(f)
        read_labels(root / 'labels' / f'{f.stem}.label', len(points))
    poses = read_lidar_poses(root, 15)
    info = bench.describe_source(root)
    assert info['num_scans'] == 15 and info['poses']
    step = np.linalg.norm(np.diff(poses[:, :3, 3], axis=0), axis=1)
    assert np.isclose(info['ego_speed_mps'], step.sum() / 1.4)

    # data topic: the 15 scans in order with their true poses
    data = bench.load_topic('data')
    scans, labels, seq_poses, seq_files = data.make_sequence(root)
    assert len(scans) == 15 and seq_files == files
    np.testing.assert_array_equal(scans[9], read_points(files[9]))
    np.testing.assert_allclose(seq_poses, poses)

    # teacher topic: scan a placed with inv(P_0) @ P_a, age column a
    teacher = bench.load_topic('teacher')
    merged = teacher.merged_cloud(root)['multi_points'][0].numpy()
    parts = []
    for age in range(8):
        pts = read_points(files[age]).astype(np.float64)
        T = np.linalg.inv(poses[0]) @ poses[age]
        xyz = pts[:, :3] @ T[:3, :3].T + T[:3, 3]
        parts.append(np.column_stack([xyz, pts[:, 3], np.full(len(pts),
                                                              age)]))
    np.testing.assert_allclose(merged, np.concatenate(parts), atol=1e-4)


def test_every_topic_runs_on_every_source(tmp_path, monkeypatch):
    """The driver hands each topic each source's folder and nests the
    results by source, in the JSON and the Markdown."""
    seen = []

    def fake_run(args):
        root = Path(args.sample_root)
        n = len(list((root / 'velodyne').glob('*.bin')))
        seen.append((root, n, (root / 'poses.txt').is_file()))
        return {'num_scans': float(n),
                'causal_plus_voxelize_ms': 50.0 if n == 4 else 150.0,
                **({'only_real': 1.0} if n == 4 else {})}

    monkeypatch.setattr(bench, 'load_topic',
                        lambda name: types.SimpleNamespace(run=fake_run))
    out, md = tmp_path / 'r.json', tmp_path / 'B.md'
    bench.main(['--out', str(out), '--markdown', str(md), '--only', 'data',
                '--sample-root', str(REAL_SAMPLE), '--synthetic-preset',
                'small', '--synthetic-scans', '9', '--synthetic-kitti-poses',
                ''])
    assert [(n, p) for _, n, p in seen] == [(4, False), (9, True)]
    assert not seen[1][0].exists()  # the temporary sequence is removed
    report = json.loads(out.read_text())
    assert list(report['sources']) == ['real', 'synthetic']
    assert report['sources']['synthetic']['trajectory'] == 'procedural'
    assert report['topics']['data']['synthetic']['num_scans'] == 9
    text = md.read_text()
    assert '| measurement | real | synthetic |' in text
    assert '| only_real | 1 | - |' in text
    assert ('| data | causal_plus_voxelize_ms | <= 100 | 50 | yes | 150 | '
            'no |') in text
    # the CPU its figures depend on: the report names it and says whether
    # bf16 is native
    assert set(report['cpu']) == {'model', 'flags', 'bf16_native'}
    assert f"CPU: {report['cpu']['model']}; flags " in text
    assert ('bf16 native' if report['cpu']['bf16_native'] else
            'bf16 emulated') in text


common = _load(REPO / 'tools' / 'benchmarks' / 'common.py',
               'kdmos_benchmark_common')


def test_real_sample_scans_are_placed_by_the_shared_ego_motion():
    """Without poses, the data topic places scan i at ego_pose(i) and the
    teacher topic the scan of age a at ego_pose(-a): one ego motion of
    0.8 m and 0.5 deg a scan."""
    assert common.sample_lidar_poses(REAL_SAMPLE, 4, 15, 'data') is None
    data = bench.load_topic('data')
    _, _, poses, _ = data.make_sequence(REAL_SAMPLE, length=5)
    c, s = np.cos(np.deg2rad(1.5)), np.sin(np.deg2rad(1.5))
    want = np.array([[c, -s, 0, 2.4], [s, c, 0, 0], [0, 0, 1, 0],
                     [0, 0, 0, 1]])
    np.testing.assert_allclose(poses[3], want, atol=1e-12)
    teacher = bench.load_topic('teacher')
    merged = teacher.merged_cloud(REAL_SAMPLE, num_past=2)['multi_points']
    merged = merged[0].numpy()
    files = sorted((REAL_SAMPLE / 'velodyne').glob('*.bin'))
    age2 = read_points(files[2]).astype(np.float64)
    c, s = np.cos(np.deg2rad(-1.0)), np.sin(np.deg2rad(-1.0))
    T = np.array([[c, -s, 0, -1.6], [s, c, 0, 0], [0, 0, 1, 0],
                  [0, 0, 0, 1]])  # 2 scans back: -1 deg, 1.6 m behind
    want_xyz = age2[:, :3] @ T[:3, :3].T + T[:3, 3]
    got = merged[merged[:, 4] == 2]
    np.testing.assert_allclose(got[:, :3], want_xyz, atol=1e-4)


def test_poses_of_a_short_sequence_are_refused_with_the_folder(tmp_path):
    root = bench.write_synthetic_source(str(tmp_path), num_scans=3, seed=2,
                                        preset='small')
    with pytest.raises(ValueError, match='3 scans, the teacher benchmark '
                       'needs 8'):
        common.sample_lidar_poses(root, 3, 8, 'teacher')
    np.testing.assert_allclose(common.sample_lidar_poses(root, 3, 3, 'x'),
                               read_lidar_poses(root, 3))


def test_peak_rss_sees_the_memory_a_call_touches():
    """One way of measuring peak memory for every topic: the peak of a
    call that fills 64 MB and frees it is about 64 MB above the RSS
    before, even after a warm-up that allocated the same."""
    size_mb = 64

    def fill():
        block = np.ones(size_mb * 2 ** 20 // 8)
        return float(block[-1])

    peak = common.peak_rss_mb(fill)
    assert 0.9 * size_mb < peak < 3 * size_mb
    assert common.peak_rss_mb(lambda: None) < 0.5 * size_mb


def test_regenerating_the_markdown_keeps_the_hand_written_part(tmp_path):
    path = tmp_path / 'BENCHMARKS.md'
    path.write_text('# Benchmarks\n\nold tables\n\n' + bench.KEEP_MARKER +
                    '\n\n## Odometry\n\nby hand\n')
    bench.write_markdown(path, '# Benchmarks\n\nnew tables\n')
    text = path.read_text()
    assert 'new tables' in text and 'old tables' not in text
    assert text.endswith(bench.KEEP_MARKER + '\n\n## Odometry\n\nby hand\n')
    # without the marker the file is the new report alone
    path.write_text('# Benchmarks\n\nold\n')
    bench.write_markdown(path, '# Benchmarks\n\nnew\n')
    assert path.read_text() == '# Benchmarks\n\nnew\n'
    assert not list(tmp_path.glob('*.tmp'))

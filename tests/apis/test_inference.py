"""Own-sensor inference (tools/infer.py) and the streaming API."""
import os.path as osp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose

from kdmos_plugin.apis.inference import (MOSStreamer, infer_sequence,
                                         init_mos_model)
from kdmos_plugin.datasets.kitti_io import (camera_to_lidar_poses,
                                            read_calib, read_labels,
                                            read_points, read_poses)

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / 'tests' / 'data' / 'semantickitti_sample'


def _sequence(root, seq):
    seq_dir = osp.join(root, 'sequences', seq)
    paths = sorted(str(p) for p in Path(seq_dir, 'velodyne').glob('*.bin'))
    poses = camera_to_lidar_poses(
        read_poses(osp.join(seq_dir, 'poses.txt')),
        read_calib(osp.join(seq_dir, 'calib.txt'))['Tr'])
    return paths, poses


def test_streaming_equals_batch_inference(synthetic_root, tiny_student_ckpt):
    model, pipeline = init_mos_model(
        tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt)
    paths, poses = _sequence(synthetic_root, '08')
    batch = [pred for _, pred in infer_sequence(model, pipeline, paths,
                                                poses)]
    streamer = MOSStreamer(model, pipeline)
    assert streamer.buffer.maxlen == 8  # K = 7 past scans + current
    for path, pose, expected in zip(paths, poses, batch):
        labels = streamer.step(read_points(path), pose)
        assert len(labels) == len(read_points(path))
        np.testing.assert_array_equal(labels, expected)
    assert len(streamer.buffer) == 8
    # the labels depend on the past: a fresh streamer on the last scan alone
    # sees no motion and need not agree, but must not crash
    streamer.reset()
    assert len(streamer.step(read_points(paths[-1]), poses[-1])) == \
        len(read_points(paths[-1]))


def test_incremental_streaming_equals_batch_inference(synthetic_root,
                                                      tiny_student_ckpt):
    """The incremental path (no multi_points, per-scan tensors) and the
    whole-pipeline path give the batch labels, scan by scan."""
    model, pipeline = init_mos_model(
        tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt)
    paths, poses = _sequence(synthetic_root, '08')
    batch = [pred for _, pred in infer_sequence(model, pipeline, paths,
                                                poses)]
    incremental = MOSStreamer(model, pipeline)
    assert incremental.incremental
    literal = MOSStreamer(model, pipeline, incremental=False)
    packed_inc = []
    original = incremental._incremental_packed

    def spy(*args):
        packed_inc.append(original(*args))
        return packed_inc[-1]

    incremental._incremental_packed = spy
    for t, (path, pose, expected) in enumerate(zip(paths, poses, batch)):
        points = read_points(path)
        np.testing.assert_array_equal(incremental.step(points, pose),
                                      expected)
        if t < 4:  # the whole-pipeline path, on the first scans only
            np.testing.assert_array_equal(literal.step(points, pose),
                                          expected)
    assert len(packed_inc) == len(paths)
    # the motion features are those of the pipeline, exactly, and not all 0
    seq_info = dict(lidar_paths=paths, lidar_poses=poses, sequence='08')
    last = pipeline(dict(lidar_path=paths[-1], scan_index=len(paths) - 1,
                         seq_info=seq_info, sequence='08',
                         frame_id=len(paths) - 1))['inputs']
    mine = packed_inc[-1]['inputs']
    assert torch.equal(mine['point_feats'], last['point_feats'])
    assert torch.equal(mine['grid_ind'], last['grid_ind'])
    assert (last['point_feats'][:, 9:] != 0).any()
    assert 'multi_points' not in mine


def test_incremental_streaming_prepares_and_voxelises_each_scan_once(
        synthetic_root, tiny_student_ckpt):
    """Over N steps the per-scan work (checks + float64 conversion, and the
    polar voxelisation with its point features) runs N times, not once per
    scan of every window (N * 8); only the move of the past scans into the
    new frame is per window scan."""
    model, pipeline = init_mos_model(
        tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt)
    paths, poses = _sequence(synthetic_root, '08')
    streamer = MOSStreamer(model, pipeline)
    calls = dict(prepare=0, voxelize=0, voxelized_points=0)
    prepare, voxelize = streamer.prepare_scan, streamer._voxelize

    def counted_prepare(points):
        calls['prepare'] += 1
        return prepare(points)

    def counted_voxelize(results):
        calls['voxelize'] += 1
        calls['voxelized_points'] += len(results['points'])
        return voxelize(results)

    streamer.prepare_scan = counted_prepare
    streamer._voxelize = counted_voxelize
    scans = [read_points(path) for path in paths]
    for points, pose in zip(scans, poses):
        streamer.step(points, pose)
    assert len(scans) > streamer.buffer.maxlen  # the window filled up
    assert calls['prepare'] == len(scans)
    assert calls['voxelize'] == len(scans)
    assert calls['voxelized_points'] == sum(len(p) for p in scans)


def test_streamer_backends_and_options(synthetic_root, tiny_student_ckpt):
    model, pipeline = init_mos_model(
        tiny_student_ckpt.replace('.pth', '.py'), tiny_student_ckpt)
    paths, poses = _sequence(synthetic_root, '08')
    batch = [pred for _, pred in infer_sequence(model, pipeline, paths[:4],
                                                poses[:4])]
    ort = MOSStreamer(model, pipeline, backend='onnxruntime', threads=1)
    for path, pose, expected in zip(paths, poses, batch):
        np.testing.assert_array_equal(ort.step(read_points(path), pose),
                                      expected)
    with pytest.raises(ValueError, match='unknown backend'):
        MOSStreamer(model, pipeline, backend='tensorrt')
    with pytest.raises(ValueError, match='incremental=False'):
        MOSStreamer(model, Compose(pipeline.transforms[:1] +
                                   pipeline.transforms[2:]),
                    incremental=True)
    with pytest.raises(ValueError, match='finite'):
        MOSStreamer(model, pipeline).step(read_points(paths[0]),
                                          np.full((4, 4), np.nan))


def test_streamer_refuses_reference_motion_features(tiny_student_ckpt,
                                                   tiny_grid_config):
    cfg = tiny_grid_config()
    for step in cfg.test_dataloader.dataset.pipeline:
        if step['type'] == 'LoadMOSScans':
            step['num_future'] = 7
        if step['type'] == 'MOSMotionFeatures':
            step['mode'] = 'reference'
    model, pipeline = init_mos_model(cfg, tiny_student_ckpt)
    with pytest.raises(ValueError, match='causal'):
        MOSStreamer(model, pipeline)


def _run_infer(checkpoint, scans, out, *extra):
    cfg_path = str(Path(checkpoint).with_suffix('.py'))
    cmd = [sys.executable, str(REPO / 'tools/infer.py'), cfg_path,
           checkpoint, '--scans', str(scans), '--out', str(out), *extra]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                         cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_infer_tool_on_a_synthetic_folder(synthetic_root, tiny_student_ckpt,
                                          tmp_path):
    seq_dir = Path(synthetic_root, 'sequences', '00')
    _run_infer(tiny_student_ckpt, seq_dir / 'velodyne', tmp_path,
               '--poses', str(seq_dir / 'poses.txt'),
               '--calib', str(seq_dir / 'calib.txt'), '--vis')
    scans = sorted((seq_dir / 'velodyne').glob('*.bin'))
    for scan in scans:
        n = len(read_points(scan))
        labels = read_labels(tmp_path / f'{scan.stem}.label', n)
        assert len(labels) == n
        assert set(np.unique(labels)) <= {0, 9, 250, 251}
        assert (tmp_path / 'vis' / f'{scan.stem}.png').is_file()


def test_infer_tool_on_the_real_sample_scans(tiny_student_ckpt, tmp_path):
    """Real HDL-64 scans, no poses (a sensor that does not move)."""
    _run_infer(tiny_student_ckpt, SAMPLE / 'velodyne', tmp_path)
    for scan in sorted((SAMPLE / 'velodyne').glob('*.bin')):
        n = len(read_points(scan))
        assert len(read_labels(tmp_path / f'{scan.stem}.label', n)) == n

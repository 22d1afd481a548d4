"""Own-sensor inference (tools/infer.py) and the streaming API."""
import os.path as osp
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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

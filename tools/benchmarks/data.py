"""Benchmark of the data pipeline's online work on real-size scans (CPU).

``run(args) -> dict`` measures, in one run, on the scans of
``args.sample_root`` (default the real SemanticKITTI scans of
``tests/data/semantickitti_sample``, about 122k points each):

* ``causal_ms``: ``MOSMotionFeatures(mode='causal')`` on the current scan
  plus 7 past scans already merged in ``multi_points`` (~1M points);
* ``voxelize_ms``: ``PolarVoxelize`` on the reference grid 480x360x32 with
  labels (9 point features + the 8 motion channels, voxel majority labels);
* ``causal_plus_voxelize_ms``: the sum of the two (target <= 100 ms);
* ``align_ms``: moving the 7 past scans into the current frame and merging
  them (``build_multi_points``, part of loading);
* ``reference_ms``: ``MOSMotionFeatures(mode='reference')`` for one frame
  from scratch (8 windows of 8 scans, each moved into its window's frame);
* ``reference_sequential_ms``: the same on the next frame of a sequential
  loader, where the window cache serves 7 of the 8 windows;
* ``reference_generator_ms``: the sliding-window generator that writes the
  published residual files (``iter_reference_residuals``), per frame: one
  window a frame;
* ``sample_causal_ms`` / ``sample_reference_ms``: one whole training
  sample from ``SemanticKittiMOSDataset`` (read 8 resp. 15 scans, labels,
  motion features, augmentation, voxelisation, packing) on a temporary copy
  of the scans in the SemanticKITTI layout;
* ``*_cpu_ms``: the same timings in CPU time of the calling thread
  (``time.thread_time``), which a loaded shared machine inflates less than
  wall time; the target applies to wall time on an idle core.

The real sample has no poses, so neighbouring scans are the real scans
(cycled) placed with small synthetic ego motions (0.8 m and 0.5 deg a
scan); a sample folder with ``poses.txt`` and ``calib.txt`` (the synthetic
source of ``tools/benchmark.py``: a generated sequence) gives its first 15
consecutive scans with their true poses. Every
timing is the median of ``repeats`` runs after a warm-up, variants
interleaved, with ``torch.set_num_threads(num_threads)`` (default 1: the
pipeline runs in DataLoader workers, which use one thread each).
"""
import os.path as osp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_SAMPLE, GRID, ego_pose,  # noqa: E402
                    sample_lidar_poses, topic_main)


def make_sequence(sample_root: Path, length: int = 15):
    """The benchmark sequence: ``length`` scans, their labels and poses.

    A folder with ``poses.txt`` (and ``calib.txt``), e.g. the synthetic
    source of ``tools/benchmark.py``: its first ``length`` scans with their
    true LiDAR poses. Without poses (the real sample): its scans cycled,
    placed with :func:`common.ego_pose`.
    """
    from kdmos_plugin.datasets.kitti_io import read_labels, read_points
    files = sorted((sample_root / 'velodyne').glob('*.bin'))
    if not files:
        raise FileNotFoundError(f'no .bin scans under {sample_root}')
    poses = sample_lidar_poses(sample_root, len(files), length, 'data')
    if poses is not None:
        poses = poses[:length]
    else:
        poses = np.stack([ego_pose(i) for i in range(length)])
    scans = [read_points(files[i % len(files)]) for i in range(length)]
    labels = [
        read_labels(sample_root / 'labels' / (f.stem + '.label'))
        for f in files
    ]
    return scans, labels, poses, files


def write_layout(root: str, scans, labels, poses) -> None:
    """The fake sequence as ``root/sequences/00`` (identity ``Tr``)."""
    from kdmos_plugin.datasets.kitti_io import (write_calib, write_labels,
                                                write_points, write_poses)
    seq = osp.join(root, 'sequences', '00')
    for i, pts in enumerate(scans):
        write_points(osp.join(seq, 'velodyne', f'{i:06d}.bin'), pts)
        write_labels(osp.join(seq, 'labels', f'{i:06d}.label'),
                     labels[i % len(labels)])
    write_poses(osp.join(seq, 'poses.txt'), poses)
    write_calib(osp.join(seq, 'calib.txt'), np.eye(4))


def sample_times(root: str, repeats: int) -> Dict[str, float]:
    """Median ms of one training sample, causal and reference pipelines."""
    from mmengine.registry import init_default_scope

    from kdmos_plugin.datasets import SemanticKittiMOSDataset
    init_default_scope('mmdet3d')
    out = {}
    for mode, future in (('causal', 0), ('reference', 7)):
        pipeline = [
            dict(type='LoadMOSScans', num_past=7, num_future=future),
            dict(type='LoadMOSLabels'),
            dict(type='MOSMotionFeatures', mode=mode, cache_windows=0),
            dict(type='MOSGlobalAug'),
            dict(type='PolarVoxelize', grid_size=GRID, num_classes=4),
            dict(type='PackMOSInputs'),
        ]
        ds = SemanticKittiMOSDataset(data_root=root, sequences=['00'],
                                     pipeline=pipeline)
        ds[7]  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ds[7]
            times.append(time.perf_counter() - t0)
        out[f'sample_{mode}_ms'] = 1000 * statistics.median(times)
    return out


def _results(scans, poses, t, num_past, num_future, path):
    """The keys LoadMOSScans would produce for scan t."""
    from kdmos_plugin.datasets.kitti_io import relative_pose
    from kdmos_plugin.datasets.transforms.load_mos_scans import \
        build_multi_points
    sweeps = []
    for k in range(1, num_past + 1):
        j = max(t - k, 0)
        sweeps.append(dict(index=j, age=k, points=scans[j], pose=poses[j],
                           to_current=relative_pose(poses[t], poses[j])))
    for f in range(1, num_future + 1):
        j = t + f
        if j < len(scans):
            sweeps.append(dict(index=j, age=-f, points=scans[j],
                               pose=poses[j],
                               to_current=relative_pose(poses[t], poses[j])))
    res = dict(points=scans[t], raw_points=scans[t], sweeps=sweeps,
               lidar_pose=poses[t], scan_index=t, seq_len=len(scans),
               sequence='bench', frame_id=t, lidar_path=str(path))
    t0 = time.perf_counter()
    res['multi_points'] = build_multi_points(scans[t], sweeps)
    return res, time.perf_counter() - t0


def run(args) -> Dict[str, float]:
    """Time the online motion features and the voxelisation side by side.
    ``args`` may carry ``repeats`` (5), ``num_threads`` (1) and
    ``sample_root``."""
    repeats = int(getattr(args, 'repeats', None) or 5)
    threads = int(getattr(args, 'num_threads', None) or 1)
    sample_root = Path(getattr(args, 'sample_root', None) or DEFAULT_SAMPLE)
    torch.set_num_threads(threads)
    from kdmos_plugin.datasets.label_map import MOS_4CLASS, map_labels
    from kdmos_plugin.datasets.transforms import (MOSMotionFeatures,
                                                  PolarVoxelize)
    scans, labels, poses, files = make_sequence(sample_root)
    t = 7
    res, _ = _results(scans, poses, t, 7, 7, files[t % len(files)])
    res['pts_semantic_mask'] = map_labels(labels[t % len(labels)], MOS_4CLASS)
    causal = MOSMotionFeatures(mode='causal')
    voxelize = PolarVoxelize(GRID, num_classes=4)

    def run_causal():
        return causal(dict(res))

    def run_voxelize():
        out = dict(res)
        out['motion_feats'] = motion
        return voxelize(out)

    def run_align():
        return _results(scans, poses, t, 7, 0, files[0])

    def run_reference():
        return MOSMotionFeatures(mode='reference', cache_windows=0)(dict(res))

    seq_ref = MOSMotionFeatures(mode='reference', cache_windows=16)
    nxt, _ = _results(scans, poses, t + 1, 7, 7, files[0])

    def run_reference_sequential():
        seq_ref._windows.clear()
        seq_ref(dict(res))  # frame t fills the cache (not timed)
        t0 = time.perf_counter()
        seq_ref(dict(nxt))
        return time.perf_counter() - t0

    from kdmos_plugin.datasets.bev_residuals import iter_reference_residuals
    pose_map = dict(enumerate(poses))

    def run_generator():
        t0 = time.perf_counter()
        n = sum(1 for _ in iter_reference_residuals(
            scans.__getitem__, pose_map, len(scans)))
        windows = len(scans) - 7
        assert n == len(scans)
        return (time.perf_counter() - t0) / windows

    motion = run_causal()['motion_feats']
    variants = dict(causal=run_causal, voxelize=run_voxelize,
                    reference=run_reference, align=run_align)
    wall: Dict[str, List[float]] = {k: [] for k in variants}
    cpu: Dict[str, List[float]] = {k: [] for k in variants}
    for fn in variants.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in variants.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            fn()
            cpu[name].append(time.thread_time() - c0)
            wall[name].append(time.perf_counter() - t0)
        wall.setdefault('reference_sequential', []).append(
            run_reference_sequential())
        wall.setdefault('reference_generator', []).append(run_generator())
    med = {k: 1000 * statistics.median(v) for k, v in wall.items()}
    cmed = {k: 1000 * statistics.median(v) for k, v in cpu.items()}
    with tempfile.TemporaryDirectory() as root:
        write_layout(root, scans, labels, poses)
        med.update(sample_times(root, max(1, repeats // 2)))
    return {
        'num_points': float(len(res['points'])),
        'multi_points': float(len(res['multi_points'])),
        'causal_ms': med['causal'],
        'voxelize_ms': med['voxelize'],
        'causal_plus_voxelize_ms': med['causal'] + med['voxelize'],
        'align_ms': med['align'],
        'reference_ms': med['reference'],
        'reference_sequential_ms': med['reference_sequential'],
        'reference_generator_ms': med['reference_generator'],
        'reference_over_causal': med['reference'] / med['causal'],
        'sample_causal_ms': med['sample_causal_ms'],
        'sample_reference_ms': med['sample_reference_ms'],
        'causal_cpu_ms': cmed['causal'],
        'voxelize_cpu_ms': cmed['voxelize'],
        'causal_plus_voxelize_cpu_ms': cmed['causal'] + cmed['voxelize'],
        'align_cpu_ms': cmed['align'],
        'reference_cpu_ms': cmed['reference'],
        'num_threads': float(threads),
    }


def main(argv=None) -> None:
    topic_main(argv, __doc__, run, repeats=5, num_threads=1)


if __name__ == '__main__':
    main()

"""Moving-object segmentation of a whole recording: any source in, labels
out.

>>> summary = segment_recording('configs/kdmos/student_bev.py', 'ckpt.pth',
...                             'drive.bag', 'out/', sensor='vlp16',
...                             odometry=True, vis=True)

The recording is read by a :mod:`kdmos_plugin.sources` source (a folder of
scans, single scan files, a ROS1 / ROS2 bag), adapted to the sensor profile
and segmented scan by scan with :class:`~kdmos_plugin.apis.MOSStreamer`
(which gives the labels of :func:`~kdmos_plugin.apis.infer_sequence` for
the same scans and poses). Poses come, in this order, from ``poses``
(a pose file), from the recording itself (a KITTI sequence folder), from
LiDAR odometry (``odometry=True``), or else the sensor is taken to stand
still (logged).

Outputs in ``out_dir`` (each file written to a temporary name and renamed):

- ``<scan name>.label``: uint32 SemanticKITTI ids, one per point in the
  recording's order (0 unlabeled, 9 static, 250 movable, 251 moving);
  points with NaN / inf coordinates (organised ROS clouds) are labelled 0
  and counted in a warning;
- ``poses.txt``: the LiDAR poses used (12 numbers a line, LiDAR-i ->
  LiDAR-0), so that the odometry can be inspected and reused;
- ``summary.json``: scans, points, moving share, time per scan, where the
  poses came from;
- with ``vis``: ``vis/<scan name>.png`` BEV pictures and ``recording.gif``,
  an animated BEV of the whole recording (at most ``max_gif_frames``
  frames, evenly spread).
"""
import json
import logging
import os.path as osp
import sys
import time
from typing import Optional, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from ..datasets.label_map import INV_MAP_4CLASS
from ..sources import build_source, get_profile, read_pose_file
from ..utils.atomic_files import write_bytes_atomic
from ..utils.owned_files import claim_files
from ..visualization import (BEVGrid, add_caption, render_bev, save_gif,
                             save_png)
from .inference import MOSStreamer, init_mos_model

#: Train id -> SemanticKITTI id of the written labels.
LABEL_LUT = np.asarray([INV_MAP_4CLASS[c] for c in range(len(INV_MAP_4CLASS))],
                       dtype=np.uint32)


def segment_recording(config,
                      checkpoint: Optional[str],
                      source: Union[str, Sequence[str]],
                      out_dir: str,
                      sensor=None,
                      poses: Optional[str] = None,
                      pose_format: str = 'auto',
                      calib: Optional[str] = None,
                      odometry: bool = False,
                      topic: Optional[str] = None,
                      vis: bool = False,
                      overwrite: bool = False,
                      device: str = 'cpu',
                      max_gif_frames: int = 300,
                      progress: Optional[bool] = None,
                      backend: str = 'torch',
                      backend_options: Optional[dict] = None) -> dict:
    """Segment a recording and write its labels (see the module doc).

    Args:
        config: A student config (path or Config).
        checkpoint: Its weights.
        source: The recording (see :func:`~kdmos_plugin.sources.build_source`).
        out_dir: Output folder (created).
        sensor: Sensor profile: preset name, file, or
            :class:`~kdmos_plugin.sources.SensorProfile` (None: HDL-64E,
            the training sensor).
        poses: A pose file (:func:`~kdmos_plugin.sources.read_pose_file`).
        pose_format: Its format (``auto``, ``kitti``, ``lidar``, ``tum``).
        calib: KITTI ``calib.txt`` of camera poses.
        odometry: Estimate the poses with KISS-ICP when none are given.
        topic: PointCloud2 topic of a bag.
        vis: Write BEV pictures and the animated BEV.
        overwrite: Replace files in ``out_dir`` that this package did not
            write (:func:`~kdmos_plugin.utils.owned_files.claim_files`);
            without it such files stop the run before anything is written.
        device: ``cpu`` or ``cuda[:i]``.
        max_gif_frames: Most frames of the animation.
        progress: An mmengine progress bar (True) or one ``[infer] i/N
            name: ...`` line a scan (False); None: the bar on a terminal.
        backend: Model backend of the streamer (``torch``,
            ``onnxruntime``, ``openvino``; :mod:`kdmos_plugin.deploy`).
        backend_options: Its options (``precision``, ``onnx``, ...).

    Returns:
        dict: The summary written to ``summary.json``.
    """
    profile = get_profile(sensor)
    recording = build_source(source, topic=topic,
                             scan_rate=profile.scan_rate,
                             intensity_field=profile.intensity_field)
    num = len(recording)
    if poses is not None and odometry:
        raise ValueError('give either a poses file or odometry, not both')
    if poses is not None:
        # scan times (folders); a bag's TUM poses are taken in order
        pose_list = read_pose_file(poses, pose_format, calib, num_scans=num,
                                   timestamps=getattr(recording, 'times',
                                                      None))
        pose_origin = f'file {poses}'
    else:
        pose_list = None
        pose_origin = 'recording' if getattr(recording, 'poses', None) \
            is not None else ('odometry (KISS-ICP)' if odometry
                              else 'none (static sensor)')
    if pose_origin.startswith('none'):
        print_log(f'{recording.path}: no poses given, none in the recording '
                  f'and no --odometry: the sensor is taken to stand still',
                  logger='current', level=logging.WARNING)
    model, pipeline = init_mos_model(config, checkpoint, device)
    streamer = MOSStreamer(model, pipeline, profile=profile,
                           odometry=odometry and pose_list is None
                           and pose_origin != 'recording', backend=backend,
                           **(backend_options or {}))
    names = _output_names(recording)
    claim_files(out_dir, [f'{n}.label' for n in names] +
                ['poses.txt', 'summary.json'] +
                ([f'vis/{n}.png' for n in names] + ['recording.gif']
                 if vis else []),
                overwrite=overwrite, hint='Write to another folder, or pass '
                '--overwrite to replace them.')
    gif_every = max(1, -(-num // max_gif_frames))
    grid = BEVGrid((-40.0, 40.0), (-40.0, 40.0), 0.2)
    gif_frames, used_poses, seconds = [], [], []
    total = moving = invalid_total = 0
    if progress is None:
        progress = sys.stdout.isatty()
    bar = ProgressBar(num) if progress and num else None
    for i, frame in enumerate(recording):
        points = frame.points
        valid = np.isfinite(points[:, :3]).all(axis=1)
        pose = pose_list[i] if pose_list is not None else frame.pose
        if not len(points):
            print_log(f'{recording.describe(i)}: empty scan (0 points); its '
                      f'prediction is empty', logger='current',
                      level=logging.WARNING)
        start = time.perf_counter()
        pred = streamer.step(points[valid], pose)
        seconds.append(time.perf_counter() - start)
        used_poses.append(streamer.buffer[-1][1] if streamer.height_offset
                          == 0 else _unlift(streamer.buffer[-1][1],
                                            streamer.height_offset))
        labels = np.zeros(len(points), dtype=np.int64)
        labels[valid] = pred
        if not valid.all():
            invalid_total += int((~valid).sum())
            print_log(f'{recording.describe(i)}: {int((~valid).sum())} '
                      f'points with NaN / inf coordinates are labelled 0 '
                      f'(unlabeled)',
                      logger='current', level=logging.WARNING)
        write_bytes_atomic(osp.join(out_dir, f'{frame.name}.label'),
                           np.ascontiguousarray(LABEL_LUT[labels]).tobytes())
        total += len(points)
        moving += int((labels == 3).sum())
        if vis:
            shown = points[valid]
            picture = render_bev(shown, pred)
            save_png(osp.join(out_dir, 'vis', f'{frame.name}.png'), picture)
            if i % gif_every == 0:
                small = render_bev(shown, pred, grid=grid, moving_radius=1)
                gif_frames.append(add_caption(
                    small, f'{frame.name}  t={frame.timestamp:.2f}s  '
                    f'moving {int((pred == 3).sum())}'))
        if bar is not None:
            bar.update()
        else:
            print(f'[infer] {i + 1}/{num} {frame.name}: {len(points)} points, '
                  f'{int((labels == 3).sum())} moving', flush=True)
    if bar is not None:
        print()
    poses_arr = np.stack(used_poses) if used_poses else np.zeros((0, 4, 4))
    if len(poses_arr):
        poses_arr = np.linalg.inv(poses_arr[0])[None] @ poses_arr
    lines = [' '.join(repr(float(v)) for v in p[:3].reshape(-1))
             for p in poses_arr]
    write_bytes_atomic(osp.join(out_dir, 'poses.txt'),
                       ('\n'.join(lines) + '\n').encode() if lines else b'')
    if vis and gif_frames:
        save_gif(osp.join(out_dir, 'recording.gif'), gif_frames,
                 fps=min(10.0, profile.scan_rate / gif_every))
    summary = dict(
        source=str(recording.path), source_type=type(recording).__name__,
        topic=getattr(recording, 'topic', None), sensor=profile.name,
        scan_stride=streamer.stride, scans=num, points=total,
        invalid_points=invalid_total, moving_points=moving,
        moving_share=moving / total if total else 0.0,
        seconds_per_scan=float(np.mean(seconds)) if seconds else 0.0,
        poses=pose_origin, out_dir=out_dir)
    write_bytes_atomic(osp.join(out_dir, 'summary.json'),
                       (json.dumps(summary, indent=2) + '\n').encode())
    print_log(f'{summary["scans"]} scans, {summary["points"]} points, '
              f'{100 * summary["moving_share"]:.2f}% moving, '
              f'{1000 * summary["seconds_per_scan"]:.0f} ms a scan '
              f'(poses: {pose_origin}); labels in {out_dir}',
              logger='current')
    return summary


def _output_names(recording) -> list:
    """The output name of every scan, without reading the scans."""
    files = getattr(recording, 'files', None)
    if files is not None:
        return [osp.splitext(osp.basename(f))[0] for f in files]
    return [f'{i:06d}' for i in range(len(recording))]


def _unlift(pose: np.ndarray, dz: float) -> np.ndarray:
    """The pose of the sensor frame from that of its lifted frame."""
    shift = np.eye(4)
    shift[2, 3] = dz
    return pose @ shift

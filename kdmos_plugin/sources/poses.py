"""Pose files of a recording, as LiDAR poses.

Formats (``fmt='auto'`` tells them apart by the numbers a line):

* ``kitti``: KITTI camera poses (12 numbers a line, the top 3x4 rows) and a
  ``calib.txt`` whose ``Tr`` turns them into LiDAR poses
  (:func:`~kdmos_plugin.datasets.kitti_io.camera_to_lidar_poses`);
* ``lidar``: LiDAR poses, one a line as 12 numbers (3x4) or 16 numbers
  (4x4, row-major), or 4x4 blocks of 4 lines of 4 numbers; or an ``.npy``
  file of (S, 4, 4);
* ``tum``: ``timestamp tx ty tz qx qy qz qw`` lines (``#`` comments), the
  TUM RGB-D format most odometry and SLAM tools write. Poses are matched to
  the scans by time: the pose nearest each scan's timestamp, within
  ``max_dt``.

Every pose must be rigid (orthonormal rotation, determinant 1, finite); a
bad line or pose is an error naming the file and the line.
"""
import logging
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.logging import print_log

from ..datasets.kitti_io import (camera_to_lidar_poses, read_calib,
                                 read_poses, rigid_transform_problem)
from .base import SourceFormatError

PathLike = Union[str, os.PathLike]

POSE_FORMATS = ('auto', 'kitti', 'lidar', 'tum')


def _numeric_lines(path: str) -> List[Tuple[int, np.ndarray]]:
    rows = []
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            text = line.split('#', 1)[0].replace(',', ' ').strip()
            if not text:
                continue
            try:
                values = np.array([float(v) for v in text.split()])
            except ValueError:
                raise SourceFormatError(
                    f'{path}: line {lineno} is not a list of numbers: '
                    f'{line.strip()[:60]!r}') from None
            if not np.isfinite(values).all():
                raise SourceFormatError(f'{path}: line {lineno} holds NaN or '
                                        f'inf')
            rows.append((lineno, values))
    if not rows:
        raise SourceFormatError(f'{path}: holds no poses')
    return rows


def quaternion_to_matrix(q: Sequence[float]) -> np.ndarray:
    """(qx, qy, qz, qw) -> (3, 3) rotation matrix (normalised first)."""
    x, y, z, w = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def check_rigid(poses: np.ndarray, path: str,
                lines: Optional[Sequence[int]] = None) -> None:
    """Raise unless every (4, 4) pose is a rigid transform
    (:func:`~kdmos_plugin.datasets.kitti_io.rigid_transform_problem`).

    Raises:
        SourceFormatError: Naming the file and the pose's line (or index).
    """
    for i, pose in enumerate(poses):
        problem = rigid_transform_problem(pose)
        if problem is not None:
            where = f'line {lines[i]}' if lines is not None else f'pose {i}'
            raise SourceFormatError(
                f'{path}: {where}: not a rigid transform: {problem}')


def _matrices(path: str, rows, width: int) -> Tuple[np.ndarray, List[int]]:
    poses, lines = [], []
    if width == 4:  # 4x4 blocks of 4 lines
        if len(rows) % 4:
            raise SourceFormatError(
                f'{path}: {len(rows)} lines of 4 numbers are not whole 4x4 '
                f'blocks')
        for k in range(0, len(rows), 4):
            poses.append(np.stack([v for _, v in rows[k:k + 4]]))
            lines.append(rows[k][0])
    else:
        for lineno, values in rows:
            mat = np.eye(4)
            mat[:width // 4] = values.reshape(-1, 4)
            poses.append(mat)
            lines.append(lineno)
    return np.stack(poses), lines


def read_pose_file(path: PathLike,
                   fmt: str = 'auto',
                   calib: Optional[PathLike] = None,
                   num_scans: Optional[int] = None,
                   timestamps: Optional[Sequence[float]] = None,
                   max_dt: float = 0.02) -> np.ndarray:
    """Read the LiDAR poses of a recording.

    Args:
        path: The pose file.
        fmt: One of :data:`POSE_FORMATS`; ``auto``: ``.npy`` = lidar, 8
            numbers a line = tum, 12 = kitti with ``calib`` else lidar, 16
            or 4 = lidar.
        calib: KITTI ``calib.txt`` (format ``kitti``).
        num_scans: Scans of the recording; fewer poses is an error, extra
            poses at the end are not used.
        timestamps: (S,) scan times [s] (format ``tum``).
        max_dt: Largest time between a scan and its TUM pose [s].

    Returns:
        np.ndarray: (S, 4, 4) float64 LiDAR poses (LiDAR-i -> world).

    Raises:
        FileNotFoundError: The file (or calib) does not exist.
        KittiFormatError: A malformed 12-number pose file or calib.txt
            (read by :mod:`~kdmos_plugin.datasets.kitti_io`), or fewer of
            its poses than scans.
        SourceFormatError: Malformed lines, a wrong number of numbers for
            the format, non-rigid poses, too few poses, or a scan without a
            TUM pose within ``max_dt``.
    """
    path = os.fspath(path)
    if fmt not in POSE_FORMATS:
        raise ValueError(f'pose format must be one of {POSE_FORMATS}, got '
                         f'{fmt!r}')
    if not osp.isfile(path):
        raise FileNotFoundError(f'Poses file not found: {path}')
    lines = None
    if path.lower().endswith('.npy'):
        try:
            poses = np.load(path, allow_pickle=False).astype(np.float64)
        except ValueError as err:
            raise SourceFormatError(f'{path}: not a numpy array ({err})') \
                from None
        if poses.ndim != 3 or poses.shape[1:] not in ((4, 4), (3, 4)):
            raise SourceFormatError(f'{path}: expected (S, 4, 4) poses, got '
                                    f'{poses.shape}')
        if poses.shape[1] == 3:
            poses = np.concatenate(
                [poses, np.tile([[[0, 0, 0, 1.0]]], (len(poses), 1, 1))], 1)
    else:
        rows = _numeric_lines(path)
        widths = {len(v) for _, v in rows}
        if len(widths) != 1:
            bad = next(n for n, v in rows if len(v) != len(rows[0][1]))
            raise SourceFormatError(
                f'{path}: line {bad} holds a different count of numbers than '
                f'line {rows[0][0]} ({len(rows[0][1])})')
        width = widths.pop()
        if fmt == 'auto':
            fmt = {8: 'tum', 12: 'kitti' if calib else 'lidar', 16: 'lidar',
                   4: 'lidar'}.get(width, 'unknown')
            if fmt == 'unknown':
                raise SourceFormatError(
                    f'{path}: {width} numbers a line is no known pose '
                    f'format (12 or 16: a pose matrix, 8: TUM)')
        expected = {'kitti': (12, ), 'lidar': (4, 12, 16), 'tum': (8, )}[fmt]
        if width not in expected:
            raise SourceFormatError(
                f'{path}: line {rows[0][0]} holds {width} numbers, format '
                f'{fmt} has {" or ".join(map(str, expected))}')
        if fmt == 'tum':
            return _tum_poses(path, rows, timestamps, num_scans, max_dt)
        if width == 12:  # the KITTI reader (its errors: KittiFormatError)
            poses = read_poses(path, num_scans)
            lines = [n for n, _ in rows]
        else:
            poses, lines = _matrices(path, rows, width)
        if fmt == 'kitti':
            if calib is None:
                raise SourceFormatError(
                    f'{path}: KITTI camera poses need the calib.txt of the '
                    f'sequence (--calib)')
            poses = camera_to_lidar_poses(poses, read_calib(calib)['Tr'])
    check_rigid(poses, path, lines)
    return _enough(poses, path, num_scans)


def _enough(poses: np.ndarray, path: str,
            num_scans: Optional[int]) -> np.ndarray:
    if num_scans is None:
        return poses
    if len(poses) < num_scans:
        raise SourceFormatError(f'{path}: holds {len(poses)} poses but the '
                                f'recording has {num_scans} scans')
    return poses[:num_scans]


def _tum_poses(path: str, rows, timestamps, num_scans, max_dt) -> np.ndarray:
    table = np.stack([v for _, v in rows])
    lines = [n for n, _ in rows]
    poses = np.tile(np.eye(4), (len(table), 1, 1))
    for k, row in enumerate(table):
        if abs(np.linalg.norm(row[4:]) - 1) > 1e-2:
            raise SourceFormatError(
                f'{path}: line {lines[k]}: quaternion qx qy qz qw of norm '
                f'{np.linalg.norm(row[4:]):.4f}, not a unit quaternion')
        poses[k, :3, :3] = quaternion_to_matrix(row[4:])
        poses[k, :3, 3] = row[1:4]
    times = table[:, 0]
    if np.any(np.diff(times) <= 0):
        k = int(np.flatnonzero(np.diff(times) <= 0)[0]) + 1
        raise SourceFormatError(f'{path}: line {lines[k]}: timestamps out '
                                f'of order ({times[k]} after {times[k - 1]})')
    if timestamps is None:
        return _enough(poses, path, num_scans)
    stamps = np.asarray(timestamps, dtype=np.float64)
    nearest = np.clip(np.searchsorted(times, stamps), 1, len(times) - 1)
    nearest = np.where(
        np.abs(times[nearest - 1] - stamps) <= np.abs(times[nearest] - stamps),
        nearest - 1, nearest) if len(times) > 1 else np.zeros(
            len(stamps), np.int64)
    dt = np.abs(times[nearest] - stamps)
    if (dt > max_dt).any():
        if len(times) >= len(stamps) and (dt > max_dt).all():
            # the two clocks do not meet at all: a pose a scan, in order
            print_log(
                f'{path}: TUM times ({times[0]:.3f} s ..) do not match the '
                f'scan times ({stamps[0]:.3f} s ..); the poses are taken a '
                f'scan each, in order', logger='current',
                level=logging.WARNING)
            return poses[:len(stamps)]
        i = int(np.flatnonzero(dt > max_dt)[0])
        raise SourceFormatError(
            f'{path}: no pose within {max_dt} s of scan {i} at '
            f'{stamps[i]:.6f} s (nearest {dt[i]:.3f} s away)')
    return poses[nearest]

"""Reading and writing the SemanticKITTI / KITTI odometry file formats, and
the LiDAR pose maths.

Formats (one scan ``NNNNNN`` of a sequence ``XX``)::

    sequences/XX/velodyne/NNNNNN.bin   float32 x 4 a point: x, y, z [m],
                                       remission
    sequences/XX/labels/NNNNNN.label   uint32 a point: semantic id in the low
                                       16 bits, instance id in the high 16
    sequences/XX/poses.txt             one camera pose a scan: the first 3 rows
                                       of a 4x4 matrix, 12 numbers a line
    sequences/XX/calib.txt             'KEY: numbers' lines; 'Tr' (12 numbers)
                                       is the LiDAR -> camera transform

Every reader checks its input and raises :class:`KittiFormatError` (a
``ValueError``) naming the file and what is wrong; a missing file raises
``FileNotFoundError`` naming it. Every writer creates the parent folders
and writes atomically (a temporary file beside the target, then a rename).

Pose convention: KITTI poses ``pose_i`` map camera-``i`` coordinates into the
camera frame of scan 0. LiDAR poses are ``P_i = inv(Tr) @ inv(pose_0) @
pose_i @ Tr`` (LiDAR-``i`` -> LiDAR-0); a scan ``j`` is moved into the frame
of scan ``c`` with ``inv(P_c) @ P_j`` (:func:`relative_pose`).
"""
import os
import os.path as osp
from typing import Dict, Optional, Union

import numpy as np

try:  # torch is optional for this module
    import torch
except ImportError:  # pragma: no cover
    torch = None

PathLike = Union[str, os.PathLike]


class KittiFormatError(ValueError):
    """A KITTI / SemanticKITTI file is malformed (the message names it)."""


def _check_exists(path: PathLike, what: str) -> str:
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file not found: {path}')
    return path


def _write_atomic(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: parent folders are created,
    the bytes go to a temporary file beside it, which then replaces
    ``path``, so a reader never sees a partly written file."""
    path = os.fspath(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def _number_line(values) -> str:
    """Numbers at full float64 precision, space-separated, one line."""
    return ' '.join(repr(float(v)) for v in np.ravel(values)) + '\n'


def read_points(path: PathLike) -> np.ndarray:
    """Read a ``.bin`` scan.

    Args:
        path: The ``.bin`` file (float32 x 4 a point).

    Returns:
        np.ndarray: (N, 4) float32 x, y, z [m], remission, in file order.

    Raises:
        FileNotFoundError: The file does not exist.
        KittiFormatError: Size not a multiple of 16 bytes, no points, or
            NaN / inf values.
    """
    path = _check_exists(path, 'Point cloud')
    size = osp.getsize(path)
    if size % 16 != 0:
        raise KittiFormatError(
            f'{path}: size {size} bytes is not a multiple of 16 '
            f'(4 float32 a point); the scan is truncated or not a KITTI .bin')
    if size == 0:
        raise KittiFormatError(f'{path}: the scan holds no points')
    points = np.fromfile(path, dtype=np.float32).reshape(-1, 4)
    bad = ~np.isfinite(points)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise KittiFormatError(
            f'{path}: {len(rows)} of {len(points)} points hold NaN or inf '
            f'values (first at point {rows[0]})')
    return points


def write_points(path: PathLike, points: np.ndarray) -> None:
    """Write a ``.bin`` scan.

    Args:
        path: Output file; parent folders are created.
        points: (N, 4) x, y, z [m], remission; written as float32.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 4:
        raise ValueError(f'{path}: points must be (N, 4), got {points.shape}')
    _write_atomic(path, np.ascontiguousarray(points, np.float32).tobytes())


def read_labels(path: PathLike,
                num_points: Optional[int] = None) -> np.ndarray:
    """Read a ``.label`` file.

    Args:
        path: The ``.label`` file (uint32 a point).
        num_points: If given, the number of points of the matching scan.

    Returns:
        np.ndarray: (N,) uint32 raw labels (semantic id = ``& 0xFFFF``).

    Raises:
        FileNotFoundError: The file does not exist.
        KittiFormatError: Size not a multiple of 4 bytes, or the label count
            differs from ``num_points``.
    """
    path = _check_exists(path, 'Label')
    size = osp.getsize(path)
    if size % 4 != 0:
        raise KittiFormatError(
            f'{path}: size {size} bytes is not a multiple of 4 (uint32 a '
            f'point)')
    labels = np.fromfile(path, dtype=np.uint32)
    if num_points is not None and len(labels) != num_points:
        raise KittiFormatError(
            f'{path}: holds {len(labels)} labels but the scan has '
            f'{num_points} points')
    return labels


def write_labels(path: PathLike, labels: np.ndarray) -> None:
    """Write a ``.label`` file.

    Args:
        path: Output file; parent folders are created.
        labels: (N,) raw labels (semantic id in the low 16 bits); written
            as uint32.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f'{path}: labels must be (N,), got {labels.shape}')
    if labels.size and (labels.min() < 0 or labels.max() > 0xFFFFFFFF):
        raise ValueError(f'{path}: labels outside the uint32 range')
    _write_atomic(path, np.ascontiguousarray(labels, np.uint32).tobytes())


def _parse_numbers(path: str, lineno: int, text: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in text.split()], dtype=np.float64)
    except ValueError as err:
        raise KittiFormatError(f'{path}: line {lineno} is not a list of '
                               f'numbers ({err})') from None
    if not np.isfinite(values).all():
        raise KittiFormatError(f'{path}: line {lineno} holds NaN or inf')
    return values


def _rows_to_matrix(values: np.ndarray) -> np.ndarray:
    mat = np.eye(4, dtype=np.float64)
    mat[:3, :4] = values.reshape(3, 4)
    return mat


def read_poses(path: PathLike, num_scans: Optional[int] = None) -> np.ndarray:
    """Read a KITTI ``poses.txt`` (camera poses, 12 numbers a line).

    Args:
        path: The poses file.
        num_scans: If given, the number of scans of the sequence; fewer
            pose lines than that is an error.

    Returns:
        np.ndarray: (S, 4, 4) float64 camera poses (camera-i -> camera-0).

    Raises:
        FileNotFoundError: The file does not exist.
        KittiFormatError: A line without exactly 12 finite numbers, no
            poses at all, or fewer poses than ``num_scans``.
    """
    path = _check_exists(path, 'Poses')
    poses = []
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            values = _parse_numbers(path, lineno, line)
            if values.size != 12:
                raise KittiFormatError(
                    f'{path}: line {lineno} holds {values.size} numbers, '
                    f'expected 12 (a 3x4 pose matrix)')
            poses.append(_rows_to_matrix(values))
    if not poses:
        raise KittiFormatError(f'{path}: holds no poses')
    if num_scans is not None and len(poses) < num_scans:
        raise KittiFormatError(
            f'{path}: holds {len(poses)} poses but the sequence has '
            f'{num_scans} scans')
    return np.stack(poses)


def write_poses(path: PathLike, poses: np.ndarray) -> None:
    """Write a KITTI ``poses.txt``.

    Args:
        path: Output file; parent folders are created.
        poses: (S, 4, 4) or (S, 3, 4) poses; the first 3 rows are written,
            12 numbers a line, with full float64 precision.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] not in ((4, 4), (3, 4)):
        raise ValueError(f'{path}: poses must be (S, 4, 4), got {poses.shape}')
    text = ''.join(_number_line(pose[:3]) for pose in poses)
    _write_atomic(path, text.encode())


def read_calib(path: PathLike) -> Dict[str, np.ndarray]:
    """Read a KITTI ``calib.txt``.

    Args:
        path: The calibration file ('KEY: numbers' lines).

    Returns:
        dict: ``'Tr'`` as a (4, 4) float64 LiDAR -> camera transform; every
        other key as a 1-D float64 array of its numbers.

    Raises:
        FileNotFoundError: The file does not exist.
        KittiFormatError: A malformed line, or no ``Tr`` with 12 numbers.
    """
    path = _check_exists(path, 'Calibration')
    calib: Dict[str, np.ndarray] = {}
    with open(path) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if ':' not in line:
                raise KittiFormatError(
                    f'{path}: line {lineno} is not "KEY: numbers"')
            key, text = line.split(':', 1)
            calib[key.strip()] = _parse_numbers(path, lineno, text)
    if 'Tr' not in calib:
        raise KittiFormatError(
            f'{path}: no "Tr" (LiDAR -> camera) line; keys present: '
            f'{sorted(calib)}')
    if calib['Tr'].size != 12:
        raise KittiFormatError(
            f'{path}: "Tr" holds {calib["Tr"].size} numbers, expected 12')
    calib['Tr'] = _rows_to_matrix(calib['Tr'])
    return calib


def write_calib(path: PathLike,
                Tr: np.ndarray,
                extra: Optional[Dict[str, np.ndarray]] = None) -> None:
    """Write a KITTI ``calib.txt``.

    Args:
        path: Output file; parent folders are created.
        Tr: (4, 4) or (3, 4) LiDAR -> camera transform.
        extra: Other keys (e.g. ``P0``..``P3``), written before ``Tr``.
    """
    Tr = np.asarray(Tr, dtype=np.float64)
    if Tr.shape not in ((4, 4), (3, 4)):
        raise ValueError(f'{path}: Tr must be (4, 4), got {Tr.shape}')
    lines = [f'{key}: ' + _number_line(np.asarray(value, np.float64))
             for key, value in (extra or {}).items()]
    lines.append('Tr: ' + _number_line(Tr[:3]))
    _write_atomic(path, ''.join(lines).encode())


def camera_to_lidar_poses(cam_poses: np.ndarray, Tr: np.ndarray) -> np.ndarray:
    """Turn KITTI camera poses into LiDAR poses.

    ``P_i = inv(Tr) @ inv(pose_0) @ pose_i @ Tr``: LiDAR-``i`` coordinates
    into the LiDAR frame of scan 0.

    Args:
        cam_poses: (S, 4, 4) camera poses as read by :func:`read_poses`.
        Tr: (4, 4) LiDAR -> camera transform (``read_calib(...)['Tr']``).

    Returns:
        np.ndarray: (S, 4, 4) float64 LiDAR poses; ``P_0`` is the identity.
    """
    cam_poses = np.asarray(cam_poses, dtype=np.float64)
    Tr = np.asarray(Tr, dtype=np.float64)
    left = np.linalg.inv(Tr) @ np.linalg.inv(cam_poses[0])
    return left[None] @ cam_poses @ Tr[None]


def read_lidar_poses(seq_dir: Optional[PathLike] = None,
                     num_scans: Optional[int] = None,
                     *,
                     poses_path: Optional[PathLike] = None,
                     calib_path: Optional[PathLike] = None) -> np.ndarray:
    """LiDAR poses of a sequence folder (``poses.txt`` and ``calib.txt``).

    The one place that turns KITTI camera poses into LiDAR poses: datasets,
    residual files, tools and benchmarks read their poses with it.

    Args:
        seq_dir: ``sequences/XX`` (or any folder holding both files); may
            be None when both paths below are given.
        num_scans: As in :func:`read_poses`.
        poses_path: The poses file, instead of ``<seq_dir>/poses.txt``
            (e.g. from a separate poses folder).
        calib_path: The calibration file, instead of
            ``<seq_dir>/calib.txt``.

    Returns:
        np.ndarray: (S, 4, 4) float64 LiDAR-``i`` -> LiDAR-0 poses
        (:func:`camera_to_lidar_poses` of the camera poses with ``Tr``).

    Raises:
        FileNotFoundError: Either file is missing (named).
        KittiFormatError: Either file is malformed (named).
    """
    if seq_dir is None and (poses_path is None or calib_path is None):
        raise ValueError('read_lidar_poses needs seq_dir or both poses_path '
                         'and calib_path')
    if poses_path is None:
        poses_path = osp.join(os.fspath(seq_dir), 'poses.txt')
    if calib_path is None:
        calib_path = osp.join(os.fspath(seq_dir), 'calib.txt')
    cam = read_poses(poses_path, num_scans)
    Tr = read_calib(calib_path)['Tr']
    return camera_to_lidar_poses(cam, Tr)


def relative_pose(pose_to: np.ndarray, pose_from: np.ndarray) -> np.ndarray:
    """The transform moving points of one scan into the frame of another.

    Args:
        pose_to: (4, 4) LiDAR pose ``P_c`` of the target scan.
        pose_from: (4, 4) LiDAR pose ``P_j`` of the source scan.

    Returns:
        np.ndarray: (4, 4) float64 ``inv(P_c) @ P_j``.
    """
    return np.linalg.inv(np.asarray(pose_to, dtype=np.float64)) @ np.asarray(
        pose_from, dtype=np.float64)


def transform_points(points, T):
    """Apply a rigid 4x4 transform to the xyz columns of points.

    Args:
        points: (N, >=3) numpy array or torch tensor; columns 0-2 are x, y, z
            [m], further columns (intensity, age, ...) are kept unchanged.
        T: (4, 4) homogeneous transform.

    Returns:
        Same type, shape and dtype as ``points``; xyz computed in float64
        (numpy) or in the tensor's dtype promoted to float64 (torch).
    """
    if torch is not None and isinstance(points, torch.Tensor):
        T = torch.as_tensor(T, dtype=torch.float64, device=points.device)
        xyz = points[:, :3].to(torch.float64)
        out = points.clone()
        out[:, :3] = torch.addmm(T[:3, 3], xyz, T[:3, :3].T).to(points.dtype)
        return out
    points = np.asarray(points)
    out = points.copy()
    if torch is not None:  # numpy's (N, 3) @ (3, 3) is ~20x slower
        t_out = torch.from_numpy(out)  # shares memory with out
        T = torch.as_tensor(np.asarray(T), dtype=torch.float64)
        t_out[:, :3] = torch.addmm(T[:3, 3], t_out[:, :3].to(torch.float64),
                                   T[:3, :3].T)
        return out
    T = np.asarray(T, dtype=np.float64)
    out[:, :3] = points[:, :3].astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    return out

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
import re
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from ..utils.atomic_files import write_bytes_atomic

PathLike = Union[str, os.PathLike]


class KittiFormatError(ValueError):
    """A KITTI / SemanticKITTI file is malformed (the message names it)."""


#: Label file element types :func:`read_labels` accepts.
LABEL_DTYPES = ('uint32', 'uint8')


def _warn(message: str) -> None:
    """Log a WARNING through mmengine's current logger."""
    import logging

    from mmengine.logging import print_log
    print_log(message, logger='current', level=logging.WARNING)


def _check_exists(path: PathLike, what: str) -> str:
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file not found: {path}')
    return path


def _number_line(values) -> str:
    """Numbers at full float64 precision, space-separated, one line."""
    return ' '.join(repr(float(v)) for v in np.ravel(values)) + '\n'


def _natural_key(name: str) -> tuple:
    """Sort key comparing digit runs as numbers: ``8.bin < 13.bin``."""
    return tuple(int(part) if part.isdigit() else part
                 for part in re.split(r'(\d+)', name))


def scan_files(folder: PathLike, ext: str = '.bin') -> List[str]:
    """The scans of a folder in time order.

    Names are sorted by their numbers (``8.bin`` before ``13.bin``, as
    for zero-padded names), not as strings. macOS metadata files
    (``._000000.bin``, written beside every file copied from a Mac to a
    non-Mac disk) are not scans: they are left out with a warning.

    Args:
        folder: The folder (not searched recursively).
        ext: File extension of the scans.

    Returns:
        list[str]: The paths; empty if there are none.
    """
    folder = os.fspath(folder)
    names = [n for n in os.listdir(folder) if n.endswith(ext) and
             osp.isfile(osp.join(folder, n))] if osp.isdir(folder) else []
    junk = sorted(n for n in names if n.startswith('._'))
    if junk:
        _warn(f'{folder}: ignoring {len(junk)} macOS metadata files '
              f'({", ".join(junk[:3])}{", ..." if len(junk) > 3 else ""}); '
              f'they are not scans')
    names = sorted((n for n in names if not n.startswith('._')),
                   key=_natural_key)
    return [osp.join(folder, n) for n in names]


def frame_gap_problem(frame_ids: Sequence[int]) -> Optional[str]:
    """What is missing from consecutive frame numbers, or None.

    Args:
        frame_ids: Sorted frame numbers of a sequence.

    Returns:
        str | None: e.g. ``'frames are missing: 000001 (between 000000 and
        000002), and 2 more gaps'``.
    """
    ids = np.asarray(frame_ids, dtype=np.int64)
    gaps = np.flatnonzero(np.diff(ids) != 1)
    if not len(gaps):
        return None
    i = gaps[0]
    a, b = int(ids[i]), int(ids[i + 1])
    missing = (f'{a + 1:06d}' if b == a + 2 else
               f'{a + 1:06d}..{b - 1:06d}') if b > a else f'{b:06d} again'
    more = len(gaps) - 1
    more = f', and {more} more gap{"s" * (more > 1)}' if more else ''
    return (f'frames are missing: {missing} (between {a:06d} and '
            f'{b:06d}){more}; the past-scan window would join scans that '
            f'are not consecutive')


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
        maybe = (' (it is a multiple of 20: 5 float32 a point, x, y, z, '
                 'intensity, ring as in nuScenes?)' if size % 20 == 0 else '')
        raise KittiFormatError(
            f'{path}: size {size} bytes is not a multiple of 16 '
            f'(4 float32 a point); the scan is truncated or not a KITTI '
            f'.bin{maybe}')
    if size == 0:
        raise KittiFormatError(f'{path}: the scan holds no points')
    points = np.fromfile(path, dtype=np.float32).reshape(-1, 4)
    _check_layout(path, points)
    bad = ~np.isfinite(points)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise KittiFormatError(
            f'{path}: {len(rows)} of {len(points)} points hold NaN or inf '
            f'values (first at point {rows[0]})')
    return points


#: No LiDAR we know of measures beyond this [m]; farther points mean the
#: file is not float32 x, y, z, intensity.
MAX_SENSOR_RANGE = 1000.0


#: Largest intensity / extra value of a plausible point.
MAX_EXTRA_VALUE = 1e6


def _implausible_rows(points: np.ndarray) -> np.ndarray:
    """(N,) bool: rows that are not x, y, z [m] of a LiDAR (finite, within
    :data:`MAX_SENSOR_RANGE`) followed by finite extra columns below
    :data:`MAX_EXTRA_VALUE`."""
    with np.errstate(invalid='ignore', over='ignore'):
        return ~(np.isfinite(points).all(axis=1) &
                 (np.abs(points[:, :3]) < MAX_SENSOR_RANGE).all(axis=1) &
                 (np.abs(points[:, 3:]) < MAX_EXTRA_VALUE).all(axis=1))


def _plausible(points: np.ndarray) -> bool:
    """Whether every row of (N, C) values looks like a LiDAR point."""
    return not _implausible_rows(points).any()


def _small_integers(column: np.ndarray) -> bool:
    """Whether every value of a column is an integer in 0..255."""
    with np.errstate(invalid='ignore'):
        return bool(np.isfinite(column).all() and
                    (column == np.round(column)).all() and
                    column.min() >= 0 and column.max() <= 255)


def _looks_like_ring(column: np.ndarray) -> bool:
    """Whether a column holds laser ring indices: small integers 0..255,
    more than one of them (the first 64 are tested first, cheaply)."""
    return (_small_integers(column[:64]) and _small_integers(column) and
            len(np.unique(column)) > 1)


def _check_layout(path: str, points: np.ndarray) -> None:
    """Refuse a ``.bin`` whose bytes are probably not float32 x 4 a point.

    Two layouts are told apart from the values: 5 float32 a point (x, y,
    z, intensity, ring: nuScenes and many ROS exports), whose 5th column
    holds small integers, and float64 x 4, whose float32 view holds
    non-finite or absurd coordinates while the float64 view is a plausible
    scan (a quarter of the float32 points or more are absurd). A KITTI
    scan never matches either.

    Raises:
        KittiFormatError: Naming the file and what it probably holds.
    """
    raw = points.reshape(-1)
    if raw.size % 5 == 0 and raw.size >= 10:
        five = raw.reshape(-1, 5)
        if _looks_like_ring(five[:, 4]) and _plausible(five[:, :4]):
            raise KittiFormatError(
                f'{path}: looks like 5 float32 a point (x, y, z, intensity, '
                f'ring, e.g. nuScenes: its 5th column holds ring indices '
                f'{int(five[:, 4].min())}..{int(five[:, 4].max())}), not the '
                f'4 of a KITTI .bin; keep the first 4 columns '
                f'(np.fromfile(f, np.float32).reshape(-1, 5)[:, :4])')
    # float64 read as float32: the low words are mantissa bits, most of
    # them absurd as float32 (a few bad points are a NaN error, row 4)
    if _implausible_rows(points).mean() < 0.25:
        return
    double = raw.view(np.float64)  # (4 * N) float32 -> (2 * N) float64
    for cols in (4, 5):
        if double.size % cols == 0 and _plausible(double.reshape(-1, cols)):
            raise KittiFormatError(
                f'{path}: looks like float64 x {cols} a point, not float32 '
                f'x 4 (read as float32 its coordinates are NaN or beyond '
                f'{MAX_SENSOR_RANGE:g} m); convert it with '
                f'np.fromfile(f, np.float64).reshape(-1, {cols})[:, :4]'
                f'.astype(np.float32)')


def write_points(path: PathLike, points: np.ndarray) -> None:
    """Write a ``.bin`` scan.

    Args:
        path: Output file; parent folders are created.
        points: (N, 4) x, y, z [m], remission; written as float32.
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 4:
        raise ValueError(f'{path}: points must be (N, 4), got {points.shape}')
    write_bytes_atomic(path,
                       np.ascontiguousarray(points, np.float32).tobytes())


def read_labels(path: PathLike,
                num_points: Optional[int] = None,
                dtype: str = 'uint32') -> np.ndarray:
    """Read a ``.label`` file.

    Args:
        path: The ``.label`` file (one label a point).
        num_points: If given, the number of points of the matching scan.
        dtype: ``'uint32'`` (SemanticKITTI: semantic id in the low 16 bits,
            instance id in the high 16 bits) or ``'uint8'`` (one class id a
            point, as nuScenes-MOS converters write).

    Returns:
        np.ndarray: (N,) raw labels of ``dtype``.

    Raises:
        FileNotFoundError: The file does not exist.
        KittiFormatError: Size not a multiple of the label size, or the
            label count differs from ``num_points``.
    """
    if dtype not in LABEL_DTYPES:
        raise ValueError(f'label dtype must be one of {LABEL_DTYPES}, got '
                         f'{dtype!r}')
    path = _check_exists(path, 'Label')
    size = osp.getsize(path)
    itemsize = np.dtype(dtype).itemsize
    hint = ''
    if num_points is not None and size != itemsize * num_points:
        if dtype == 'uint8' and size == 4 * num_points:
            hint = " (uint32 labels? set label_dtype='uint32')"
        elif dtype == 'uint32' and size == num_points:
            hint = " (uint8 labels? set label_dtype='uint8')"
    if size % itemsize != 0:
        raise KittiFormatError(
            f'{path}: size {size} bytes is not a multiple of {itemsize} '
            f'({dtype} a point){hint}')
    labels = np.fromfile(path, dtype=dtype)
    if num_points is not None and len(labels) != num_points:
        raise KittiFormatError(
            f'{path}: holds {len(labels)} labels but the scan has '
            f'{num_points} points{hint}')
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
    write_bytes_atomic(path, np.ascontiguousarray(labels, np.uint32).tobytes())


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


#: Largest ``|R^T R - I|`` and ``|det R - 1|`` of a rotation we accept
#: (KITTI's poses and calibrations are orthonormal to about 2e-5).
ROTATION_TOL = 1e-3


def rigid_transform_problem(mat: np.ndarray) -> Optional[str]:
    """What keeps ``mat`` from being a rigid (4, 4) transform, or None.

    Args:
        mat: The candidate, any shape and dtype.

    Returns:
        str | None: e.g. ``'shape (3, 4), expected (4, 4)'``, ``'holds NaN
        or inf'``, ``'last row is [0, 0, 1, 1], expected [0, 0, 0, 1]'``,
        ``'rotation is not orthonormal (|R^T R - I| = 3; scaled or
        sheared)'``, ``'rotation is a reflection (det -1)'``.
    """
    mat = np.asarray(mat)
    if mat.shape != (4, 4):
        return f'shape {mat.shape}, expected (4, 4)'
    try:
        mat = mat.astype(np.float64)
    except (TypeError, ValueError):
        return f'is not numeric ({mat.dtype})'
    if not np.isfinite(mat).all():
        return 'holds NaN or inf (not finite)'
    if not np.allclose(mat[3], [0, 0, 0, 1], rtol=0, atol=1e-9):
        return (f'last row is {mat[3].tolist()}, expected [0, 0, 0, 1]')
    rot = mat[:3, :3]
    err = np.abs(rot.T @ rot - np.eye(3)).max()
    if err > ROTATION_TOL:
        return (f'rotation is not orthonormal (|R^T R - I| = {err:.3g}; '
                f'scaled, sheared or singular)')
    det = np.linalg.det(rot)
    if abs(det - 1) > ROTATION_TOL:
        return f'rotation is a reflection or not a rotation (det {det:.3g})'
    return None


def check_rigid_transform(mat: np.ndarray, what: str) -> np.ndarray:
    """``mat`` as a (4, 4) float64 rigid transform, or an error naming it.

    The one check of every pose and calibration this package reads or is
    given (``poses.txt``, ``Tr``, the poses of the inference API and of
    :class:`~kdmos_plugin.apis.inference.MOSStreamer`): the pose maths
    inverts them, so a singular, scaled or NaN pose would end in numpy's
    ``LinAlgError`` or in silently wrong labels.

    Args:
        mat: The candidate transform.
        what: How the error names it, e.g. ``'poses.txt line 3'``.

    Returns:
        np.ndarray: (4, 4) float64.

    Raises:
        KittiFormatError: See :func:`rigid_transform_problem`.
    """
    problem = rigid_transform_problem(mat)
    if problem is not None:
        raise KittiFormatError(f'{what}: not a rigid transform: {problem}')
    return np.asarray(mat, dtype=np.float64)


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
            poses.append(check_rigid_transform(
                _rows_to_matrix(values), f'{path}: line {lineno}'))
    if not poses:
        raise KittiFormatError(f'{path}: holds no poses')
    if num_scans is not None and len(poses) < num_scans:
        raise KittiFormatError(
            f'{path}: holds {len(poses)} poses but the sequence has '
            f'{num_scans} scans')
    if num_scans is not None and len(poses) > num_scans:
        _warn(f'{path}: holds {len(poses)} poses but there are {num_scans} '
              f'scans; the first {num_scans} are used (is a scan missing, '
              f'or is it the poses file of another sequence?)')
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
    write_bytes_atomic(path, text.encode())


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
    calib['Tr'] = check_rigid_transform(_rows_to_matrix(calib['Tr']),
                                        f'{path}: "Tr"')
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
    write_bytes_atomic(path, ''.join(lines).encode())


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
    if isinstance(points, torch.Tensor):
        T = torch.as_tensor(T, dtype=torch.float64, device=points.device)
        xyz = points[:, :3].to(torch.float64)
        out = points.clone()
        out[:, :3] = torch.addmm(T[:3, 3], xyz, T[:3, :3].T).to(points.dtype)
        return out
    points = np.asarray(points)
    out = points.copy()
    # through torch: numpy's (N, 3) @ (3, 3) is ~20x slower
    t_out = torch.from_numpy(out)  # shares memory with out
    T = torch.as_tensor(np.asarray(T), dtype=torch.float64)
    t_out[:, :3] = torch.addmm(T[:3, 3], t_out[:, :3].to(torch.float64),
                               T[:3, :3].T)
    return out

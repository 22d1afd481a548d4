"""Scans stored one file each: KITTI ``.bin``, ``.pcd``, ``.ply``,
``.npy`` / ``.npz``.

A source is a folder of scans (natural order of the file names: ``2.pcd``
before ``10.pcd``), one file, or a list of files. Timestamps come from a
KITTI ``times.txt`` (one number of seconds a scan) in the folder or beside
it, else from the index and the scan rate. A KITTI sequence folder (one
holding ``velodyne/``) is read from its ``velodyne/`` folder and, if it
holds ``poses.txt`` and ``calib.txt``, with its LiDAR poses.

The readers return (N, 4) float32 x, y, z [m], raw intensity (NaN where the
file has no intensity field); fields may come in any order and in any
numeric type.
"""
import logging
import os
import os.path as osp
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np

from mmengine.logging import print_log

from ..datasets.kitti_io import (frame_gap_problem, read_lidar_poses,
                                 read_points, scan_files)
from .base import (POINT_SOURCES, Frame, PointCloudSource, SourceFormatError,
                   check_timestamps, natural_sorted, points_from_fields)
from .pcd import read_pcd

PathLike = Union[str, os.PathLike]


def read_bin(path: str, intensity_field: Optional[str] = None) -> np.ndarray:
    """A KITTI ``.bin`` scan (float32 x 4 a point); a 0-byte file is a scan
    of 0 points (the inference labels it with an empty file and warns).
    Malformed files raise :func:`~kdmos_plugin.datasets.kitti_io.read_points`'
    ``KittiFormatError`` (a ``ValueError``, as ``SourceFormatError``)."""
    if osp.isfile(path) and osp.getsize(path) == 0:
        return np.zeros((0, 4), np.float32)
    return read_points(path)  # its KittiFormatError names the file


def read_pcd_points(path: str,
                    intensity_field: Optional[str] = None) -> np.ndarray:
    """A ``.pcd`` scan (ascii or binary, any field order)."""
    return points_from_fields(read_pcd(path), path, intensity_field)


def read_ply_points(path: str,
                    intensity_field: Optional[str] = None) -> np.ndarray:
    """A ``.ply`` scan: the ``vertex`` element (ascii or binary)."""
    from plyfile import PlyData, PlyParseError
    if not osp.isfile(path):
        raise FileNotFoundError(f'PLY file not found: {path}')
    try:
        ply = PlyData.read(path)
    except (PlyParseError, ValueError, EOFError) as err:
        raise SourceFormatError(f'{path}: not a readable PLY file ({err})') \
            from None
    if 'vertex' not in ply:
        raise SourceFormatError(
            f'{path}: no vertex element (elements: '
            f'{", ".join(e.name for e in ply.elements) or "none"})')
    return points_from_fields(ply['vertex'].data, path, intensity_field)


def read_numpy_points(path: str,
                      intensity_field: Optional[str] = None) -> np.ndarray:
    """A ``.npy`` / ``.npz`` scan: an (N, 3) or (N, >=4) numeric array
    (x, y, z[, intensity, ...]) or a structured array with named fields;
    an ``.npz`` holds it under ``points`` or as its only array. Pickled
    objects are refused (loading them could run code)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'numpy scan not found: {path}')
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise SourceFormatError(f'{path}: not a plain numpy array ({err})') \
            from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.keys())
            if 'points' in keys:
                array = loaded['points']
            elif len(keys) == 1:
                array = loaded[keys[0]]
            else:
                raise SourceFormatError(
                    f'{path}: holds arrays {keys}; name the scan "points"')
    else:
        array = loaded
    if array.dtype.names is not None:
        return points_from_fields(array.reshape(-1), path, intensity_field)
    if array.ndim != 2 or array.shape[1] < 3 or array.dtype.kind not in 'fiu':
        raise SourceFormatError(
            f'{path}: expected (N, 3) or (N, >=4) numbers, got '
            f'{array.shape} {array.dtype}')
    out = np.full((len(array), 4), np.nan, dtype=np.float32)
    out[:, :min(4, array.shape[1])] = array[:, :4]
    return out


#: Reader of each file suffix.
READERS = {'.bin': read_bin, '.pcd': read_pcd_points,
           '.ply': read_ply_points, '.npy': read_numpy_points,
           '.npz': read_numpy_points}


def _read_times(folder: str, num: int) -> Optional[np.ndarray]:
    for path in (osp.join(folder, 'times.txt'),
                 osp.join(osp.dirname(osp.abspath(folder)), 'times.txt')):
        if osp.isfile(path):
            try:
                times = np.loadtxt(path, dtype=np.float64, ndmin=1)
            except ValueError as err:
                raise SourceFormatError(f'{path}: not one number a line '
                                        f'({err})') from None
            if times.ndim != 1 or len(times) < num:
                raise SourceFormatError(
                    f'{path}: holds {times.size} times for {num} scans')
            return times[:num]
    return None


class FolderSource(PointCloudSource):
    """Scans stored one file each (the subclasses fix the suffixes).

    Args:
        path: A folder of scans, one scan file, or a list of scan files.
        scan_rate: Scans a second [Hz], for timestamps when there is no
            ``times.txt``.
        intensity_field: The field to read the intensity from first.
        with_poses: Read ``poses.txt`` + ``calib.txt`` of a KITTI sequence
            folder.
    """

    SUFFIXES: Sequence[str] = ()

    def __init__(self,
                 path: Union[PathLike, Sequence[PathLike]],
                 scan_rate: float = 10.0,
                 intensity_field: Optional[str] = None,
                 with_poses: bool = True) -> None:
        self.intensity_field = intensity_field
        self.poses = None
        self.times = None
        if isinstance(path, (str, os.PathLike)):
            path = os.fspath(path)
            self.path = path
            if osp.isdir(path):
                seq_dir = path
                if osp.isdir(osp.join(path, 'velodyne')):
                    path = osp.join(path, 'velodyne')
                self.files = self._list(path)
                self.times = _read_times(path, len(self.files))
                if with_poses and seq_dir != path and all(
                        osp.isfile(osp.join(seq_dir, f))
                        for f in ('poses.txt', 'calib.txt')):
                    self.poses = read_lidar_poses(seq_dir, len(self.files))
            elif osp.isfile(path):
                self.files = [path]
            else:
                raise FileNotFoundError(f'no scan file or folder: {path}')
        else:
            self.files = [os.fspath(p) for p in path]
            self.path = self.files[0] if self.files else ''
            for f in self.files:
                if not osp.isfile(f):
                    raise FileNotFoundError(f'scan file not found: {f}')
        for f in self.files:
            if osp.splitext(f)[1].lower() not in self.SUFFIXES:
                raise SourceFormatError(
                    f'{f}: {type(self).__name__} reads '
                    f'{"/".join(self.SUFFIXES)} files')
        if not self.files:
            raise SourceFormatError(f'{self.path}: no scans')
        if self.times is None:
            self.times = np.arange(len(self.files)) / float(scan_rate)
        check_timestamps(self.times, f'{self.path} (times.txt)',
                         [f'scan {i}' for i in range(len(self.times))])

    def _list(self, folder: str) -> List[str]:
        # kitti_io.scan_files: by frame number, macOS ._* files skipped
        files = natural_sorted([f for suffix in self.SUFFIXES
                                for f in scan_files(folder, suffix)])
        if not files:
            raise SourceFormatError(
                f'{folder}: no {"/".join(self.SUFFIXES)} scans')
        stems = [osp.splitext(osp.basename(f))[0] for f in files]
        if all(s.isdigit() for s in stems):
            gap = frame_gap_problem([int(s) for s in stems])
            if gap:
                print_log(f'{folder}: {gap}', logger='current',
                          level=logging.WARNING)
        return files

    def __len__(self) -> int:
        return len(self.files)

    def describe(self, index: int) -> str:
        """The file of scan ``index``."""
        return self.files[index]

    def __iter__(self) -> Iterator[Frame]:
        for i, path in enumerate(self.files):
            reader = READERS[osp.splitext(path)[1].lower()]
            points = reader(path, self.intensity_field)
            pose = None if self.poses is None else self.poses[i]
            name = osp.splitext(osp.basename(path))[0]
            yield Frame(float(self.times[i]), points, pose, name)


@POINT_SOURCES.register_module()
class BinFolderSource(FolderSource):
    """KITTI ``.bin`` scans (float32 x, y, z, remission)."""
    SUFFIXES = ('.bin', )


@POINT_SOURCES.register_module()
class PCDFolderSource(FolderSource):
    """PCL ``.pcd`` scans (ascii or binary)."""
    SUFFIXES = ('.pcd', )


@POINT_SOURCES.register_module()
class PLYFolderSource(FolderSource):
    """``.ply`` scans (ascii or binary, the vertex element)."""
    SUFFIXES = ('.ply', )


@POINT_SOURCES.register_module()
class NumpyFolderSource(FolderSource):
    """``.npy`` / ``.npz`` scans."""
    SUFFIXES = ('.npy', '.npz')

"""LiDAR odometry: poses for a recording that has none.

:class:`Odometry` wraps KISS-ICP (the ``kiss-icp`` package: point-to-point
ICP against a voxel-hash local map with an adaptive threshold; C++ core,
Python API). Each scan is registered in turn; the pose of scan ``i`` maps
its LiDAR frame into the frame of the first scan, which is what the MOS
pipeline needs (it only uses poses relative to each other).

KISS-ICP imports pydantic and pydantic-settings for its configuration (both
pinned in requirements.txt); its command-line pipeline's extras (open3d,
polyscope, ...) are not needed. Motion compensation (deskew) needs per-point
times, which most recordings here lack: it is off by default.

>>> odom = Odometry(max_range=100.0)
>>> poses = [odom.register(frame.points) for frame in source]   # (4, 4)
"""
import logging
from typing import Optional

import numpy as np
from mmengine.logging import print_log


class Odometry:
    """Scan-to-map LiDAR odometry (KISS-ICP).

    Args:
        max_range: Points farther than this are not used [m].
        min_range: Points nearer than this (the ego vehicle) are not used
            [m].
        voxel_size: Map voxel [m]; None = ``max_range / 100`` (KISS-ICP's
            rule).
        deskew: Motion compensation (needs per-point times).
        num_threads: Threads of the registration (0 = all cores).
        min_points: Scans with fewer usable points keep the previous
            pose (constant-velocity prediction) and log a warning.

    Raises:
        ImportError: ``kiss-icp`` (or its pydantic dependencies) is not
            installed; the message says what to install.
    """

    def __init__(self,
                 max_range: float = 100.0,
                 min_range: float = 0.5,
                 voxel_size: Optional[float] = None,
                 deskew: bool = False,
                 num_threads: int = 1,
                 min_points: int = 100) -> None:
        try:
            from kiss_icp.config import KISSConfig
            from kiss_icp.kiss_icp import KissICP
        except ImportError as err:
            raise ImportError(
                f'LiDAR odometry needs kiss-icp and its configuration '
                f'packages (pydantic, pydantic-settings), pinned in '
                f'requirements.txt: {err}') from err
        config = KISSConfig()
        config.data.max_range = float(max_range)
        config.data.min_range = float(min_range)
        config.data.deskew = bool(deskew)
        config.mapping.voxel_size = float(
            voxel_size if voxel_size is not None else max_range / 100.0)
        config.registration.max_num_threads = int(num_threads)
        self.config = config
        self._make = lambda: KissICP(config)
        self.min_points = min_points
        self.reset()

    @classmethod
    def for_profile(cls, profile, **kwargs) -> 'Odometry':
        """Odometry with the range limits of a
        :class:`~kdmos_plugin.sources.SensorProfile`."""
        kwargs.setdefault('max_range', profile.max_range)
        kwargs.setdefault('min_range', profile.min_range)
        return cls(**kwargs)

    def reset(self) -> None:
        """Forget the map and the trajectory (a new recording starts)."""
        self.icp = self._make()
        self.count = 0

    @property
    def pose(self) -> np.ndarray:
        """(4, 4) float64 pose of the last registered scan."""
        return np.array(self.icp.last_pose, dtype=np.float64)

    def register(self, points: np.ndarray) -> np.ndarray:
        """Register the next scan.

        Args:
            points: (N, >=3) x, y, z [m] in the sensor frame (further
                columns are ignored; non-finite rows are not used).

        Returns:
            np.ndarray: (4, 4) float64 LiDAR pose of this scan in the frame
            of the first scan.
        """
        xyz = np.asarray(points)[:, :3].astype(np.float64)
        xyz = xyz[np.isfinite(xyz).all(axis=1)]
        rng = np.linalg.norm(xyz, axis=1)
        usable = int(((rng >= self.config.data.min_range)
                      & (rng <= self.config.data.max_range)).sum())
        if usable < self.min_points:
            print_log(
                f'odometry: scan {self.count} has {usable} usable points '
                f'(< {self.min_points}); its pose is predicted from the '
                f'previous motion', logger='current', level=logging.WARNING)
            pose = self.pose @ np.array(self.icp.last_delta)
            self.icp.last_pose = pose
        else:
            self.icp.register_frame(np.ascontiguousarray(xyz),
                                    np.zeros(0, dtype=np.float64))
        self.count += 1
        return self.pose

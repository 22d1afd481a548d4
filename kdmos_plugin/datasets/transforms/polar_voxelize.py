"""Polar voxelisation of the current scan (docs/METHOD.md 1.4 steps 3-7)."""
import logging
import math
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log

from mmdet3d.registry import TRANSFORMS

from ..polar_grid import PolarGrid


@TRANSFORMS.register_module()
class PolarVoxelize(BaseTransform):
    """Grid indices, the 9 point features and the voxel labels.

    Uses :class:`~kdmos_plugin.datasets.polar_grid.PolarGrid`: fixed bounds,
    cells of ``range / (grid - 1)``, out-of-range points clipped into the
    edge cells (never removed). Point features, in order: ``[d_rho, d_phi,
    d_z, rho, phi, z, x, y, intensity]`` followed by the motion channels.
    Voxel labels: majority vote of the point labels of each occupied cell,
    ties to the lowest id (so unlabeled 0 wins ties).

    A scan whose points lie mostly outside the bounds (more than
    ``warn_outside_fraction`` of them with rho or z out of range, e.g. a
    scan in millimetres or of another sensor height) is still voxelised
    the same way, but a warning naming ``lidar_path`` is logged
    (``print_log``, logger ``'current'``), see docs/MALFORMED_INPUT.md.

    Required Keys:

    - points (np.ndarray): (N, 4) x, y, z [m], intensity (after
      augmentation)
    - motion_feats (np.ndarray, optional): (N, R)
    - pts_semantic_mask (np.ndarray, optional): (N,) int64

    Added Keys:

    - point_feats (np.ndarray): (N, 9 + R) float32
    - grid_ind (np.ndarray): (N, 3) int64 (i_rho, i_phi, i_z)
    - voxel_coors (np.ndarray): (V, 3) int64 occupied cells, sorted by
      linear key
    - voxel_semantic_mask (np.ndarray): (V,) int64 (with labels only)
    - grid_size (tuple): the grid size

    Args:
        grid_size: Cells (rho, phi, z).
        min_bound: Lower bounds (rho [m], phi [rad], z [m]).
        max_bound: Upper bounds.
        num_classes: Number of label values (for the vote); defaults to the
            largest label + 1.
        warn_outside_fraction: Log a warning when more than this fraction
            of a scan's points is outside the bounds (in [0, 1]; 1 never
            warns).
    """

    def __init__(self,
                 grid_size: Sequence[int] = (480, 360, 32),
                 min_bound: Sequence[float] = (1.85, -math.pi, -4.0),
                 max_bound: Sequence[float] = (50.15, math.pi, 2.0),
                 num_classes: Optional[int] = None,
                 warn_outside_fraction: float = 0.5) -> None:
        self.grid = PolarGrid(grid_size, min_bound, max_bound)
        self.num_classes = num_classes
        if not 0 <= warn_outside_fraction <= 1:
            raise ValueError(f'warn_outside_fraction must be in [0, 1], got '
                             f'{warn_outside_fraction}')
        self.warn_outside_fraction = warn_outside_fraction

    def transform(self, results: dict) -> dict:
        """Voxelise the current scan (see the class docstring)."""
        points = results['points']
        feats, ind = self.grid.point_features(points)
        self._warn_outside(feats, results.get('lidar_path'))
        motion = results.get('motion_feats')
        if motion is not None:
            if len(motion) != len(points):
                raise ValueError(
                    f'{results.get("lidar_path")}: {len(motion)} motion '
                    f'feature rows for {len(points)} points')
            feats = np.concatenate([feats, motion.astype(np.float32)], axis=1)
        labels = results.get('pts_semantic_mask')
        if labels is not None and self.num_classes is not None and \
                len(labels) and int(labels.max()) >= self.num_classes:
            raise ValueError(
                f'{results.get("label_path")}: label {int(labels.max())} >= '
                f'num_classes {self.num_classes}')
        coors, vlabels = self.grid.occupied_voxels(ind, labels,
                                                   self.num_classes)
        results['point_feats'] = feats
        results['grid_ind'] = ind
        results['voxel_coors'] = coors
        if vlabels is not None:
            results['voxel_semantic_mask'] = vlabels
        results['grid_size'] = self.grid.grid_size
        return results

    def _warn_outside(self, feats: np.ndarray, path: Optional[str]) -> None:
        """Log a warning if too many points are outside the bounds.

        Args:
            feats: (N, 9) point features; columns 3 and 5 are rho and z [m]
                (phi is always in range).
            path: The scan's file, for the message.
        """
        n = len(feats)
        if n == 0 or self.warn_outside_fraction >= 1:
            return
        lo, hi = self.grid.min_bound, self.grid.max_bound
        rho, z = feats[:, 3], feats[:, 5]
        outside = int(np.count_nonzero((rho < lo[0]) | (rho > hi[0])
                                       | (z < lo[2]) | (z > hi[2])))
        if outside > self.warn_outside_fraction * n:
            what = 'all' if outside == n else f'{outside} of'
            print_log(
                f'{path}: {what} {n} points are outside the polar grid '
                f'bounds (rho {lo[0]:g}..{hi[0]:g} m, z {lo[2]:g}..{hi[2]:g} '
                f'm) and are clipped into the edge cells; is the scan in '
                f'metres and in the LiDAR frame?',
                logger='current',
                level=logging.WARNING)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.grid!r})'

"""Voxelise merged multi-scan clouds in space (x, y, z) or space-time
(x, y, z, scan age) with one linearised key per cell.

A cell index is ``floor((coordinate - lower) / size)`` on every axis; the
indices of one sample are packed into a single int64 key (batch index most
significant) and ``torch.unique(return_inverse=True)`` gives the occupied
cells and the cell of every point in one call. That is device agnostic and
about 20x faster than ``unique(dim=0)`` over index rows (docs/METHOD.md 8).
"""
import math
from typing import List, NamedTuple, Optional, Sequence

import torch
from torch import Tensor, nn

from mmdet3d.registry import MODELS


class VoxelizedBatch(NamedTuple):
    """Result of :class:`SpacetimeVoxelizer` for one batch.

    Attributes:
        features (Tensor): (V, F) float voxel features.
        coors (Tensor): (V, 1 + D) int32 ``(batch, i_x, i_y, i_z[, i_t])``,
            sorted by batch then cell (the order spconv and mmdet3d's
            ``MinkUNetBackbone`` expect).
        point2voxel (Tensor): (sum_b M_b,) int64 voxel of every input point,
            samples concatenated in batch order.
        current2voxel (Tensor): (sum_b N_b,) int64 voxel of every
            current-scan point, batch order, file order.
        spatial_shape (List[int]): D cell counts (the grid extent).
        batch_size (int): Number of samples.
    """
    features: Tensor
    coors: Tensor
    point2voxel: Tensor
    current2voxel: Tensor
    spatial_shape: List[int]
    batch_size: int


@MODELS.register_module()
class SpacetimeVoxelizer(nn.Module):
    """Dynamic voxelisation of merged multi-scan clouds.

    Points are ``(x, y, z, intensity, age)`` rows (metres, scan age
    0 = current scan .. K; ``-1 .. min_age`` for the future scans of a
    non-causal teacher). With 4 voxel sizes the cells are 4-D
    ``(x, y, z, age)``; with 3 sizes they are 3-D and the age is only a
    feature. Points outside ``point_cloud_range`` are clamped into the edge
    cells, never dropped, so every current-scan point has a voxel.

    Voxel features (``F = 5``, or ``8`` with ``with_offset``): the mean of
    the point columns ``x, y, z, intensity, age`` and, optionally, the mean
    offset of the points from the cell centre ``(dx, dy, dz)`` in metres.

    Args:
        voxel_size (Sequence[float]): ``(sx, sy, sz[, st])``: metres, and
            scans per age cell.
        point_cloud_range (Sequence[float]): ``(x0, y0, z0, x1, y1, z1)`` in
            metres; ages span ``[min_age, max_age]``.
        max_age (int): Largest age (K); ages beyond it share the last cell.
        min_age (int): Smallest age: 0 (causal, the default) or ``-F`` for
            F future scans; younger ages share the first cell.
        with_offset (bool): Append the offset-from-centre features.

    Example:
        >>> vox = SpacetimeVoxelizer(voxel_size=(0.1, 0.1, 0.1, 1))
        >>> pts = torch.tensor([[1., 2., 0., .5, 0.], [1., 2., 0., .4, 1.]])
        >>> out = vox([pts], [1])
        >>> out.coors.shape, out.current2voxel.tolist()
        (torch.Size([2, 5]), [0])
    """

    def __init__(self,
                 voxel_size: Sequence[float] = (0.1, 0.1, 0.1, 1.0),
                 point_cloud_range: Sequence[float] = (-51.2, -51.2, -4.0,
                                                       51.2, 51.2, 4.0),
                 max_age: int = 7,
                 with_offset: bool = True,
                 min_age: int = 0) -> None:
        super().__init__()
        if len(voxel_size) not in (3, 4):
            raise ValueError('SpacetimeVoxelizer: voxel_size needs 3 (space) '
                             f'or 4 (space-time) entries, got {voxel_size}')
        if any(s <= 0 for s in voxel_size):
            raise ValueError('SpacetimeVoxelizer: voxel sizes must be '
                             f'positive, got {voxel_size}')
        if len(point_cloud_range) != 6:
            raise ValueError('SpacetimeVoxelizer: point_cloud_range needs 6 '
                             f'entries, got {point_cloud_range}')
        if min_age > 0 or min_age > max_age:
            raise ValueError('SpacetimeVoxelizer: min_age must be <= 0 and '
                             f'<= max_age, got {min_age} (max_age {max_age})')
        lower = list(point_cloud_range[:3])
        upper = list(point_cloud_range[3:])
        if len(voxel_size) == 4:
            lower.append(float(min_age))
            upper.append(float(max_age) + 1e-3)
        shape = [
            max(math.ceil((u - l) / s - 1e-6), 1)
            for l, u, s in zip(lower, upper, voxel_size)
        ]
        self.ndim = len(voxel_size)
        self.voxel_size = tuple(float(s) for s in voxel_size)
        self.lower = tuple(float(v) for v in lower)
        self.spatial_shape = shape
        self.with_offset = with_offset
        self.num_features = 8 if with_offset else 5
        volume = 1
        for s in shape:
            volume *= s
        if volume >= 2**62:
            raise ValueError('SpacetimeVoxelizer: grid of '
                             f'{shape} cells does not fit an int64 key')
        self._volume = volume

    def cell_indices(self, points: Tensor) -> Tensor:
        """Cell index of every point.

        Args:
            points (Tensor): (M, 5) x, y, z [m], intensity, age [scans].

        Returns:
            Tensor: (M, D) int64 indices, clamped to the grid.
        """
        cols = [0, 1, 2, 4][:self.ndim]
        coords = points[:, cols].to(torch.float64)
        lower = coords.new_tensor(self.lower)
        size = coords.new_tensor(self.voxel_size)
        idx = torch.floor((coords - lower) / size).long()
        high = torch.tensor(self.spatial_shape, device=idx.device) - 1
        return torch.minimum(idx.clamp_min(0), high)

    def linear_key(self, batch_idx: Tensor, idx: Tensor) -> Tensor:
        """One int64 key per point: batch, then the cell in row-major order.

        Args:
            batch_idx (Tensor): (M,) int64 sample index.
            idx (Tensor): (M, D) int64 cell indices.

        Returns:
            Tensor: (M,) int64 keys.
        """
        key = batch_idx.clone()
        for d, size in enumerate(self.spatial_shape):
            key = key * size + idx[:, d]
        return key

    def decode_key(self, key: Tensor) -> Tensor:
        """Inverse of :meth:`linear_key`: (V,) -> (V, 1 + D) int64."""
        cols = []
        rest = key
        for size in reversed(self.spatial_shape):
            cols.append(rest % size)
            rest = torch.div(rest, size, rounding_mode='floor')
        cols.append(rest)
        return torch.stack(cols[::-1], dim=1)

    def forward(self, multi_points: List[Tensor],
                num_current: Optional[Sequence[int]] = None
                ) -> VoxelizedBatch:
        """Voxelise a batch of merged clouds.

        Args:
            multi_points (List[Tensor]): One (M_b, 5) float tensor per
                sample: x, y, z [m], intensity, age; current scan first.
            num_current (Sequence[int], optional): N_b, the number of
                current-scan points (the first rows) of each sample;
                defaults to all points.

        Returns:
            VoxelizedBatch: voxels, coordinates and point-to-voxel maps.
        """
        if len(multi_points) == 0:
            raise ValueError('SpacetimeVoxelizer: empty batch')
        if num_current is None:
            num_current = [len(p) for p in multi_points]
        device = multi_points[0].device
        for b, (pts, n) in enumerate(zip(multi_points, num_current)):
            if pts.dim() != 2 or pts.shape[1] < 5:
                raise ValueError(
                    f'SpacetimeVoxelizer: sample {b} has points of shape '
                    f'{tuple(pts.shape)}, expected (M, 5) x, y, z, '
                    'intensity, age')
            if n > len(pts):
                raise ValueError(
                    f'SpacetimeVoxelizer: sample {b} claims {n} current '
                    f'points but holds only {len(pts)}')
        points = torch.cat([p[:, :5] for p in multi_points]).float()
        sizes = torch.tensor([len(p) for p in multi_points], device=device)
        batch_idx = torch.repeat_interleave(
            torch.arange(len(multi_points), device=device), sizes)
        idx = self.cell_indices(points)
        key = self.linear_key(batch_idx, idx)
        ukey, inverse = torch.unique(key, return_inverse=True)
        coors = self.decode_key(ukey)
        features = self._voxel_features(points, idx, inverse, len(ukey))

        starts = torch.cumsum(sizes, 0) - sizes
        current = torch.cat([
            torch.arange(int(s), int(s) + int(n), device=device)
            for s, n in zip(starts.tolist(), num_current)
        ])
        return VoxelizedBatch(
            features=features,
            coors=coors.int(),
            point2voxel=inverse,
            current2voxel=inverse[current],
            spatial_shape=list(self.spatial_shape),
            batch_size=len(multi_points))

    def _voxel_features(self, points: Tensor, idx: Tensor, inverse: Tensor,
                        num_voxels: int) -> Tensor:
        """Mean point features (and mean offset from the cell centre)."""
        feats = points
        if self.with_offset:
            size = points.new_tensor(self.voxel_size[:3])
            lower = points.new_tensor(self.lower[:3])
            centre = (idx[:, :3].to(points.dtype) + 0.5) * size + lower
            feats = torch.cat([points, points[:, :3] - centre], dim=1)
        summed = feats.new_zeros(num_voxels, feats.shape[1]).index_add_(
            0, inverse, feats)
        count = feats.new_zeros(num_voxels).index_add_(
            0, inverse, feats.new_ones(len(feats)))
        return summed / count.clamp_min(1).unsqueeze(1)

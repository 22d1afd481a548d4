"""Pack a MOS sample into ``inputs`` + ``Det3DDataSample`` (CONTRACT.md)."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS
from mmdet3d.structures import Det3DDataSample, PointData

#: Input keys packed as tensors when present (dtype of each).
INPUT_KEYS = (('points', torch.float32), ('point_feats', torch.float32),
              ('grid_ind', torch.int64), ('multi_points', torch.float32))


def _tensor(x, dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).to(dtype)


@TRANSFORMS.register_module()
class PackMOSInputs(BaseTransform):
    """Pack into ``dict(inputs=..., data_samples=Det3DDataSample)``.

    mmdet3d's ``Pack3DDetInputs`` refuses keys outside its fixed lists, so
    the layout of ``docs/CONTRACT.md`` is written here::

        inputs: points (N, 4) f32, point_feats (N, 9 + R) f32,
                grid_ind (N, 3) i64, multi_points (M, 5) f32 (if loaded)
        data_sample.metainfo: lidar_path, sequence, frame_id, num_points,
                grid_size (+ extra meta_keys)
        data_sample.gt_pts_seg: pts_semantic_mask (N,) i64 (if labelled),
                pts_instance_mask (N,) i64 (if loaded),
                teacher_logits (N, C) f32 (if loaded)
        data_sample.gt_voxel_seg: coors (V, 3) i64, semantic_mask (V,) i64
                (if labelled)

    Required Keys:

    - points, point_feats, grid_ind (np.ndarray)
    - lidar_path, sequence, frame_id, grid_size

    Optional Keys:

    - multi_points, pts_semantic_mask, pts_instance_mask, teacher_logits,
      voxel_coors,
      voxel_semantic_mask

    Args:
        meta_keys: Keys copied into the metainfo.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('lidar_path', 'sequence',
                                             'frame_id', 'num_points',
                                             'grid_size')) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Pack one sample (see the class docstring)."""
        n = len(results['points'])
        inputs = {}
        for key, dtype in INPUT_KEYS:
            if results.get(key) is not None:
                inputs[key] = _tensor(results[key], dtype)
        for key in ('point_feats', 'grid_ind'):
            if key not in inputs:
                raise KeyError(f'{results.get("lidar_path")}: {key!r} missing '
                               f'(run PolarVoxelize before PackMOSInputs)')
            if len(inputs[key]) != n:
                raise ValueError(f'{results.get("lidar_path")}: {key} has '
                                 f'{len(inputs[key])} rows for {n} points')
        sample = Det3DDataSample()
        meta = {}
        for key in self.meta_keys:
            if key == 'num_points':
                meta[key] = n
            elif key == 'grid_size':
                meta[key] = tuple(int(g) for g in results[key])
            elif key in results:
                meta[key] = results[key]
        sample.set_metainfo(meta)
        gt = {}
        if results.get('pts_semantic_mask') is not None:
            gt['pts_semantic_mask'] = _tensor(results['pts_semantic_mask'],
                                              torch.int64)
        if results.get('pts_instance_mask') is not None:
            gt['pts_instance_mask'] = _tensor(results['pts_instance_mask'],
                                              torch.int64)
        if results.get('teacher_logits') is not None:
            gt['teacher_logits'] = _tensor(results['teacher_logits'],
                                           torch.float32)
        for key, value in gt.items():
            if len(value) != n:
                raise ValueError(f'{results.get("lidar_path")}: {key} has '
                                 f'{len(value)} rows for {n} points')
        sample.gt_pts_seg = PointData(**gt)
        if results.get('voxel_semantic_mask') is not None:
            sample.gt_voxel_seg = PointData(
                coors=_tensor(results['voxel_coors'], torch.int64),
                semantic_mask=_tensor(results['voxel_semantic_mask'],
                                      torch.int64))
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'

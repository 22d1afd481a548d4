"""Keep the points of the merged cloud nearest to a random point of it."""
import numpy as np
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS

from .load_mos_scans import checked_multi_points

#: Per-point arrays of the current scan, cropped with ``points`` when present.
CURRENT_POINT_KEYS = ('pts_semantic_mask', 'pts_instance_mask',
                      'teacher_logits', 'motion_feats', 'raw_points')
#: Keys made by PolarVoxelize: the crop must run before it.
VOXEL_KEYS = ('point_feats', 'grid_ind', 'voxel_coors')


@TRANSFORMS.register_module()
class MOSSphereCrop(BaseTransform):
    """Random sphere crop of the teacher's merged cloud (docs/METHOD.md 3.2,
    MambaMOS ``SphereCrop(sample_rate=0.8, mode='random')``).

    **Drops points.** For training the sparse teacher only: the student
    and offline distillation need every point of the scan (one prediction,
    one teacher-logit row per raw point), and evaluation must see the
    whole scan.

    With a cloud of M points (``multi_points``, or ``points`` when no past
    scans are loaded), a centre is one of its points drawn uniformly
    (``np.random.randint(M)``) and the ``int(sample_rate * M)`` points (at
    least one) nearest to it (Euclidean, x, y, z) are kept; nothing is
    dropped when that is M. Kept points stay in their original relative
    order, so the contract holds: the N' kept current-scan points come first,
    ``multi_points[:N', :4] == points``, past points after them. The
    current scan's per-point arrays (labels, teacher logits, motion
    features, raw points) are indexed the same way; the sweeps'
    ``points`` (raw, own frame) are left whole. MambaMOS crops after its
    0.05-0.09 m grid sampling; here the teacher voxelises inside the model,
    so the crop counts raw points.

    Required Keys:

    - points (np.ndarray): (N, >=3) x, y, z [m], ...
    - multi_points (np.ndarray, optional): (M, 5), rows ``:N`` the
      current scan

    Modified Keys:

    - points (N', ...), multi_points (M', 5), num_points (N'),
      pts_semantic_mask (N',), pts_instance_mask (N',), teacher_logits (N', C), motion_feats
      (N', R), raw_points (N', 4) (those present)

    Added Keys:

    - crop_indices (np.ndarray): (M',) int64 kept rows of the cloud before
      the crop, increasing (those < N are the kept current points)
    - crop_center (np.ndarray): (3,) float64 the centre [m]

    Args:
        sample_rate: Fraction of the cloud kept, in (0, 1].
    """

    def __init__(self, sample_rate: float = 0.8) -> None:
        if not 0 < sample_rate <= 1:
            raise ValueError(f'MOSSphereCrop: sample_rate must be in (0, 1], '
                             f'got {sample_rate}')
        self.sample_rate = sample_rate

    def transform(self, results: dict) -> dict:
        """Crop one sample (see the class docstring)."""
        name = results.get('lidar_path', 'sample')
        done = [k for k in VOXEL_KEYS if results.get(k) is not None]
        if done:
            raise ValueError(f'{name}: MOSSphereCrop must run before '
                             f'PolarVoxelize (found {done})')
        points = results['points']
        n = len(points)
        multi = checked_multi_points(results)
        cloud = points if multi is None else multi
        for key in CURRENT_POINT_KEYS:
            if results.get(key) is not None and len(results[key]) != n:
                raise ValueError(f'{name}: {key} has {len(results[key])} '
                                 f'rows for {n} points')
        m = len(cloud)
        if m == 0:
            raise ValueError(f'{name}: MOSSphereCrop got an empty cloud')
        keep = max(int(self.sample_rate * m), 1)
        xyz = cloud[:, :3].astype(np.float64)
        center = xyz[np.random.randint(m)]
        if keep < m:
            dist2 = ((xyz - center)**2).sum(1)
            kept = np.sort(np.argpartition(dist2, keep - 1)[:keep])
        else:
            kept = np.arange(m)
        current = kept[:np.searchsorted(kept, n)]
        results['points'] = points[current]
        if multi is not None:
            results['multi_points'] = multi[kept]
        for key in CURRENT_POINT_KEYS:
            if results.get(key) is not None:
                results[key] = results[key][current]
        results['num_points'] = len(current)
        results['crop_indices'] = kept.astype(np.int64)
        results['crop_center'] = center
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(sample_rate={self.sample_rate})'

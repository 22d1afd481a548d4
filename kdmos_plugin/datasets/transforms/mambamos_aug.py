"""The MambaMOS teacher's global augmentation: rotate, scale, flip, jitter."""
import math
from typing import Sequence

import numpy as np

from mmdet3d.registry import TRANSFORMS

from .load_mos_scans import checked_multi_points
from .mos_global_aug import MOSGlobalAug


@TRANSFORMS.register_module()
class MambaMOSAug(MOSGlobalAug):
    """Random yaw, isotropic scale, per-axis flips and clipped jitter
    (docs/METHOD.md 3.2, the MambaMOS teacher training recipe).

    One draw a sample, in this order (numpy's global generator, so the
    data-loader worker seeding applies):

    1. ``rand() < rotate_prob``: if so, a yaw ``uniform(-max_yaw, max_yaw)``
       [rad] about z through the sensor origin;
    2. one scale factor ``uniform(*scale_range)`` for x, y and z;
    3. ``rand() < flip_prob``: x -> -x; then ``rand() < flip_prob``:
       y -> -y (independent, so each of the 4 cases has probability 1/4
       at ``flip_prob = 0.5``);
    4. jitter ``clip(normal(0, jitter_std, (M, 3)), -jitter_clip,
       jitter_clip)`` [m], one row per point of the merged cloud.

    Steps 1-3 form one 4x4 matrix ``A = F @ S @ R`` (no translation), applied
    like :class:`MOSGlobalAug` to ``points``, ``multi_points`` and every
    sweep's ``to_current`` (becomes ``A @ to_current``). The jitter is drawn
    once for ``multi_points`` (or for ``points`` when no past scans are
    loaded) and the current scan's rows are copied back into
    ``points[:, :3]``, so ``multi_points[:N, :4] == points`` holds exactly.
    A sweep's ``to_current`` carries ``A`` only: the jitter is per point
    and is not in any matrix. Points are never dropped or reordered; extra
    columns (intensity, age) are kept.

    Required Keys:

    - points (np.ndarray): (N, >=3) float32, x, y, z [m] first

    Modified Keys:

    - points, multi_points ((M, 5), if present), sweeps[*]['to_current']
      (if present)

    Added Keys:

    - aug_matrix (np.ndarray): (4, 4) float64 ``A`` (the jitter, per
      point, is not stored: ``points - A @ points_before`` is it)

    Args:
        rotate_prob: Probability of the yaw rotation (0.5 in MambaMOS).
        max_yaw: Half-width [rad] of the uniform yaw (pi: any heading).
        scale_range: (low, high) of the isotropic scale factor.
        flip_prob: Probability of flipping x, and independently y.
        jitter_std: Standard deviation [m] of the per-coordinate jitter
            (0 = off).
        jitter_clip: The jitter is clipped to [-jitter_clip, jitter_clip]
            [m].

    Example:
        >>> import numpy as np
        >>> aug = MambaMOSAug()
        >>> out = aug(dict(points=np.zeros((10, 4), np.float32)))
        >>> bool(np.abs(out['points'][:, :3]).max() <= 0.02)
        True
    """

    def __init__(self,
                 rotate_prob: float = 0.5,
                 max_yaw: float = math.pi,
                 scale_range: Sequence[float] = (0.9, 1.1),
                 flip_prob: float = 0.5,
                 jitter_std: float = 0.005,
                 jitter_clip: float = 0.02) -> None:
        for name, p in (('rotate_prob', rotate_prob),
                        ('flip_prob', flip_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f'MambaMOSAug: {name} must be in [0, 1], '
                                 f'got {p}')
        lo, hi = (float(s) for s in scale_range)
        if not 0 < lo <= hi:
            raise ValueError(f'MambaMOSAug: scale_range must be (low, high) '
                             f'with 0 < low <= high, got {scale_range}')
        if jitter_std < 0 or jitter_clip < 0:
            raise ValueError('MambaMOSAug: jitter_std and jitter_clip must be '
                             f'>= 0, got {jitter_std}, {jitter_clip}')
        self.rotate_prob = rotate_prob
        self.max_yaw = max_yaw
        self.scale_range = (lo, hi)
        self.flip_prob = flip_prob
        self.jitter_std = jitter_std
        self.jitter_clip = jitter_clip

    def draw(self) -> np.ndarray:
        """One random (4, 4) float64 matrix ``F @ S @ R`` (steps 1-3)."""
        A = np.eye(4)
        if np.random.rand() < self.rotate_prob:
            a = np.random.uniform(-self.max_yaw, self.max_yaw)
            c, s = np.cos(a), np.sin(a)
            A[:2, :2] = [[c, -s], [s, c]]
        A[:3, :3] *= np.random.uniform(*self.scale_range)
        flip = np.ones(4)
        flip[0] = -1.0 if np.random.rand() < self.flip_prob else 1.0
        flip[1] = -1.0 if np.random.rand() < self.flip_prob else 1.0
        return flip[:, None] * A

    def draw_jitter(self, num: int) -> np.ndarray:
        """Clipped Gaussian jitter (num, 3) float32 [m] (step 4)."""
        if self.jitter_std == 0:
            return np.zeros((num, 3), np.float32)
        noise = np.random.normal(0.0, self.jitter_std, (num, 3))
        return np.clip(noise, -self.jitter_clip,
                       self.jitter_clip).astype(np.float32)

    def transform(self, results: dict) -> dict:
        """Apply one draw to every scan (see the class docstring)."""
        checked_multi_points(results)
        results = super().transform(results)
        points = results['points']
        multi = results.get('multi_points')
        if multi is None:
            points[:, :3] += self.draw_jitter(len(points))
        else:
            multi[:, :3] += self.draw_jitter(len(multi))
            points[:, :3] = multi[:len(points), :3]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(rotate_prob={self.rotate_prob}, '
                f'max_yaw={self.max_yaw}, scale_range={self.scale_range}, '
                f'flip_prob={self.flip_prob}, jitter_std={self.jitter_std}, '
                f'jitter_clip={self.jitter_clip})')

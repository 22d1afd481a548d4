"""One global rigid augmentation applied to every scan of a sample."""
import numpy as np
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS

from ..kitti_io import transform_points


@TRANSFORMS.register_module()
class MOSGlobalAug(BaseTransform):
    """Random yaw, 4-way flip and translation (docs/METHOD.md 1.4 step 2).

    One draw a sample, in this order: rotation about z by an angle from
    U[0, 2 pi); one of {none, x -> -x, y -> -y, both} with equal
    probability; a translation with each axis from N(0, ``translate_std``).
    The same 4x4 transform ``A`` moves ``points``, ``multi_points`` and
    every sweep (its ``to_current`` becomes ``A @ to_current``). Points are
    never dropped or reordered; extra columns (intensity, age) are kept.

    Required Keys:

    - points (np.ndarray): (N, >=3)

    Modified Keys:

    - points, multi_points (if present), sweeps[*]['to_current'] (if present)

    Added Keys:

    - aug_matrix (np.ndarray): (4, 4) float64 ``A``

    Args:
        rotate: Draw the yaw rotation.
        flip: Draw the 4-way flip.
        translate_std: Standard deviation [m] of the translation (0 = off).
    """

    def __init__(self,
                 rotate: bool = True,
                 flip: bool = True,
                 translate_std: float = 0.1) -> None:
        self.rotate = rotate
        self.flip = flip
        self.translate_std = translate_std

    def draw(self) -> np.ndarray:
        """One random (4, 4) float64 augmentation matrix."""
        A = np.eye(4)
        if self.rotate:
            a = np.random.uniform(0, 2 * np.pi)
            c, s = np.cos(a), np.sin(a)
            A[:2, :2] = [[c, -s], [s, c]]
        if self.flip:
            case = np.random.randint(4)  # 0 none, 1 x, 2 y, 3 both
            F = np.diag([-1.0 if case in (1, 3) else 1.0,
                         -1.0 if case in (2, 3) else 1.0, 1.0, 1.0])
            A = F @ A
        if self.translate_std > 0:
            A[:3, 3] = np.random.normal(0, self.translate_std, 3)
        return A

    def transform(self, results: dict) -> dict:
        """Apply one draw to every scan (see the class docstring)."""
        A = self.draw()
        results['points'] = transform_points(results['points'], A)
        if results.get('multi_points') is not None:
            results['multi_points'] = transform_points(results['multi_points'],
                                                       A)
        for sw in results.get('sweeps', []):
            sw['to_current'] = A @ sw['to_current']
        results['aug_matrix'] = A
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(rotate={self.rotate}, '
                f'flip={self.flip}, translate_std={self.translate_std})')

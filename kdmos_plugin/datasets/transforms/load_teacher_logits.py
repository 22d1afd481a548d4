"""Load offline teacher logits of the current scan."""
import os.path as osp

import numpy as np
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS

from ..teacher_logits import MANIFEST_NAME, logits_path, read_manifest


@TRANSFORMS.register_module()
class LoadTeacherLogits(BaseTransform):
    """Read the (N, C) teacher logits keyed by (sequence, frame id).

    Rows are the current scan's points in ``.bin`` file order. A missing
    file, a row count different from the point count, a column count
    different from ``num_classes`` or non-finite values are errors naming
    the file. If ``<logits_root>/teacher_logits_manifest.json`` exists, its
    ``num_classes`` must match too.

    Required Keys:

    - sequence (str), frame_id (int)
    - points (np.ndarray): (N, 4)

    Added Keys:

    - teacher_logits (np.ndarray): (N, C) float32 raw logits

    Args:
        logits_root: Root of the logit files.
        num_classes: C, the configured number of classes.
    """

    def __init__(self, logits_root: str, num_classes: int = 4) -> None:
        self.logits_root = logits_root
        self.num_classes = num_classes
        self._manifest_checked = False

    def _check_manifest(self) -> None:
        if self._manifest_checked:
            return
        path = osp.join(self.logits_root, MANIFEST_NAME)
        if osp.isfile(path):
            nc = read_manifest(self.logits_root)['num_classes']
            if int(nc) != self.num_classes:
                raise ValueError(f'{path}: num_classes {nc} but the config '
                                 f'has num_classes={self.num_classes}')
        self._manifest_checked = True

    def transform(self, results: dict) -> dict:
        """Add ``teacher_logits`` (see the class docstring)."""
        self._check_manifest()
        path = logits_path(self.logits_root, results['sequence'],
                           results['frame_id'])
        if not osp.isfile(path):
            raise FileNotFoundError(f'Teacher logits not found: {path}')
        logits = np.load(path)
        n = len(results['points'])
        if logits.ndim != 2 or logits.shape[0] != n:
            raise ValueError(
                f'{path}: teacher logits of shape {logits.shape} but the scan '
                f'{results.get("lidar_path")} has {n} points')
        if logits.shape[1] != self.num_classes:
            raise ValueError(
                f'{path}: teacher logits have {logits.shape[1]} classes, the '
                f'config has num_classes={self.num_classes}')
        logits = logits.astype(np.float32, copy=False)
        if not np.isfinite(logits).all():
            raise ValueError(f'{path}: teacher logits hold NaN or inf')
        results['teacher_logits'] = logits
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(logits_root={self.logits_root!r}, '
                f'num_classes={self.num_classes})')

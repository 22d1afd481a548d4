"""Load offline teacher logits of the current scan."""
import os.path as osp

from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS

from ..point_arrays import load_point_array
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
        results['teacher_logits'] = load_point_array(
            path, len(results['points']), self.num_classes, 'teacher logits',
            'classes', 'num_classes', results.get('lidar_path'))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(logits_root={self.logits_root!r}, '
                f'num_classes={self.num_classes})')

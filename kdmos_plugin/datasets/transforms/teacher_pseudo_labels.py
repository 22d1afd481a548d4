"""Teacher labels in place of the ground truth of unlabelled sequences."""
from typing import Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS
from ..semantickitti_mos_dataset import _sequence_name


@TRANSFORMS.register_module()
class TeacherPseudoLabels(BaseTransform):
    """Replace the labels of scans of ``sequences`` by the teacher's.

    Distillation on unlabelled scans: for a scan of one of ``sequences``
    the student never sees the ground truth; its point labels become the
    teacher's most likely class among ``1..C-1`` (the teacher is trained
    with class 0 ignored, so 0 is never predicted). Both the student's own
    losses (they read the voxelised labels) and the distillation loss (its
    target class) then follow the teacher there. Scans of other sequences
    pass unchanged. Put it after ``LoadTeacherLogits`` and before
    ``PolarVoxelize``.

    Required Keys:

    - sequence (str)
    - teacher_logits (np.ndarray): (N, C) float32
    - pts_semantic_mask (np.ndarray): (N,) int64, for scans of
      ``sequences`` (replaced)

    Modified Keys:

    - pts_semantic_mask (np.ndarray): (N,) int64 teacher argmax over
      classes ``1..C-1``

    Args:
        sequences: Names of the sequences whose labels are hidden
            (``'04'``; ``4`` is read as ``'04'``).
    """

    def __init__(self, sequences: Sequence[str]) -> None:
        if isinstance(sequences, str):
            raise TypeError('TeacherPseudoLabels: sequences must be a list '
                            f'of names, got the string {sequences!r}')
        # '04', or 4 as --cfg-options sequences=[04] delivers it
        self.sequences = frozenset(_sequence_name(s) for s in sequences)

    def transform(self, results: dict) -> dict:
        """Replace ``pts_semantic_mask`` (see the class docstring)."""
        if _sequence_name(results['sequence']) not in self.sequences:
            return results
        logits = results.get('teacher_logits')
        if logits is None:
            raise KeyError(
                f'TeacherPseudoLabels: {results.get("lidar_path")} has no '
                'teacher_logits; put LoadTeacherLogits before it')
        if logits.ndim != 2 or logits.shape[1] < 2:
            raise ValueError(
                f'TeacherPseudoLabels: teacher logits of '
                f'{results.get("lidar_path")} have shape {logits.shape}, '
                'expected (N, C) with C >= 2')
        results['pts_semantic_mask'] = (
            np.argmax(logits[:, 1:], axis=1).astype(np.int64) + 1)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}'
                f'(sequences={sorted(self.sequences)})')

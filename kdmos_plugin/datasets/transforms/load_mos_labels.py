"""Load and map the labels of the current scan."""
from typing import Mapping, Optional, Sequence, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS

from ..kitti_io import read_labels
from ..label_map import build_lut, map_labels, resolve_label_map


@TRANSFORMS.register_module()
class LoadMOSLabels(BaseTransform):
    """Read ``label_path`` and map raw ids to train ids.

    Without a label file (``label_path`` None: the unlabelled test split)
    the sample passes unchanged. An unknown raw id or a label count that
    differs from the point count is an error naming the file.

    Required Keys:

    - label_path (str or None)
    - points (np.ndarray): (N, 4), for the count check
    - label_lut (np.ndarray, optional): the dataset's map, used unless
      ``label_map`` is given
    - label_dtype (str, optional): ``'uint32'`` (default, SemanticKITTI)
      or ``'uint8'`` (nuScenes-MOS), set by the dataset

    Added Keys:

    - pts_semantic_mask (np.ndarray): (N,) int64 train ids
    - pts_instance_mask (np.ndarray): (N,) int64 instance ids, the upper 16
      bits of each uint32 SemanticKITTI label (0 = no instance; for
      ``MOSMetric``'s object-level IoU). Only with ``with_instance`` and
      uint32 labels (uint8 labels hold no instance ids).

    Args:
        label_map: Optional map overriding the dataset's (a name, ``{raw:
            train}`` or ``{class: [raw ids]}`` with ``classes``).
        classes: Class names for the grouped form.
        with_instance: Add ``pts_instance_mask``. Defaults to True.
    """

    def __init__(self,
                 label_map: Optional[Union[str, Mapping]] = None,
                 classes: Optional[Sequence[str]] = None,
                 with_instance: bool = True) -> None:
        self.lut = None if label_map is None else build_lut(
            resolve_label_map(label_map, classes))
        self.with_instance = with_instance

    def transform(self, results: dict) -> dict:
        """Add ``pts_semantic_mask`` (see the class docstring)."""
        path = results.get('label_path')
        if path is None:
            return results
        lut = self.lut if self.lut is not None else results.get('label_lut')
        if lut is None:
            raise ValueError(f'{path}: no label map (give LoadMOSLabels a '
                             f'label_map or use SemanticKittiMOSDataset)')
        dtype = results.get('label_dtype') or 'uint32'
        raw = read_labels(path, num_points=len(results['points']),
                          dtype=dtype)
        results['pts_semantic_mask'] = map_labels(raw, lut, path)
        if self.with_instance and dtype == 'uint32':
            results['pts_instance_mask'] = (raw >> np.uint32(16)).astype(
                np.int64)
        return results

"""Load and map the labels of the current scan."""
from typing import Mapping, Optional, Sequence, Union

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

    Added Keys:

    - pts_semantic_mask (np.ndarray): (N,) int64 train ids

    Args:
        label_map: Optional map overriding the dataset's (a name, ``{raw:
            train}`` or ``{class: [raw ids]}`` with ``classes``).
        classes: Class names for the grouped form.
    """

    def __init__(self,
                 label_map: Optional[Union[str, Mapping]] = None,
                 classes: Optional[Sequence[str]] = None) -> None:
        self.lut = None if label_map is None else build_lut(
            resolve_label_map(label_map, classes))

    def transform(self, results: dict) -> dict:
        """Add ``pts_semantic_mask`` (see the class docstring)."""
        path = results.get('label_path')
        if path is None:
            return results
        lut = self.lut if self.lut is not None else results.get('label_lut')
        if lut is None:
            raise ValueError(f'{path}: no label map (give LoadMOSLabels a '
                             f'label_map or use SemanticKittiMOSDataset)')
        raw = read_labels(path, num_points=len(results['points']))
        results['pts_semantic_mask'] = map_labels(raw, lut, path)
        return results

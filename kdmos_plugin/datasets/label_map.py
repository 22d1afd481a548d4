"""SemanticKITTI raw label ids -> MOS train ids (docs/METHOD.md 1.1).

Raw ``.label`` values are uint32; the low 16 bits are the semantic id. Two
maps are provided:

* :data:`MOS_4CLASS` (default, KDMOS): 0 unlabeled (ignored), 1 static,
  2 movable (a movable object that is not moving), 3 moving.
* :data:`MOS_2CLASS` (MotionBEV): 0 static (unlabeled included), 1 moving.

Other datasets in SemanticKITTI-like layouts (configs in
``configs/_base_/datasets/``) map onto the same 4 train ids:

* Apollo-MOS and HeLiMOS write SemanticKITTI uint32 labels (semantic id in
  the low 16 bits, instance id in the high 16). Their public readers (e.g.
  4DMOS's) treat ids > 250 as moving and 0 / 1 as unlabeled / outlier; the
  files seen in such readers hold 9 (static) and 251 (moving). They use the
  SemanticKITTI map: :data:`APOLLO_MOS_4CLASS`, :data:`HELIMOS_4CLASS`
  (copies of :data:`MOS_4CLASS`; no "movable" class is labelled there, so a
  parked car is "static" in their ground truth).
* nuScenes-MOS as written by public converters: one **uint8** label a point,
  the nuScenes-lidarseg class index 0-31 for non-moving points and 32-39 for
  moving ones (:data:`NUSCENES_MOS_GROUPS`). We could not check which
  converter writes exactly these ids, nor which moving class each of 32-39
  is: all of 32-39 are "moving", and an id outside 0-39 is an error naming
  the file, so a file with another convention is refused rather than
  misread. uint8 labels carry no instance ids.

A raw id missing from the map is an error, never silently mapped.
"""
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

#: Class names of the 4-class map, in train-id order.
MOS_CLASSES = ('unlabeled', 'static', 'movable', 'moving')
#: Class names of MotionBEV's 2-class map, in train-id order.
MOS_2CLASS_CLASSES = ('static', 'moving')

#: Raw semantic ids of each 4-class group (docs/METHOD.md 1.1).
MOS_4CLASS_GROUPS: Dict[str, tuple] = {
    'unlabeled': (0, 1),
    'static': (9, 40, 44, 48, 49, 50, 51, 52, 60, 70, 71, 72, 80, 81, 99),
    'movable': (10, 11, 13, 15, 16, 18, 20, 30, 31, 32, 250),
    'moving': tuple(range(251, 260)),
}
#: Raw semantic ids of moving objects (251..259).
MOVING_RAW_IDS = MOS_4CLASS_GROUPS['moving']


def label_map_from_groups(
        classes: Sequence[str],
        groups: Mapping[str, Sequence[int]]) -> Dict[int, int]:
    """Build a ``{raw id: train id}`` map from ``{class name: raw ids}``.

    Args:
        classes: Class names in train-id order.
        groups: For each class name, the raw semantic ids mapped to it.

    Returns:
        dict: raw semantic id -> train id.

    Raises:
        ValueError: A group names an unknown class or a raw id is listed
            twice.
    """
    out: Dict[int, int] = {}
    for name, ids in groups.items():
        if name not in classes:
            raise ValueError(f'label map group {name!r} is not one of the '
                             f'classes {tuple(classes)}')
        for raw in ids:
            raw = int(raw)
            if raw in out:
                raise ValueError(f'raw label id {raw} is listed twice in the '
                                 f'label map')
            out[raw] = list(classes).index(name)
    return out


#: The 4-class KDMOS map: raw semantic id -> train id.
MOS_4CLASS: Dict[int, int] = label_map_from_groups(MOS_CLASSES,
                                                   MOS_4CLASS_GROUPS)
#: Apollo-MOS: SemanticKITTI ids (9 static, 251 moving, 0/1 unlabeled).
APOLLO_MOS_4CLASS: Dict[int, int] = dict(MOS_4CLASS)
#: HeLiMOS (all four sensors): SemanticKITTI ids, as Apollo-MOS.
HELIMOS_4CLASS: Dict[int, int] = dict(MOS_4CLASS)

#: nuScenes-MOS uint8 ids of each 4-class group: the nuScenes-lidarseg
#: classes (0 noise, 1 animal, 2-8 humans, 9 barrier, 10 debris, 11
#: pushable/pullable, 12 traffic cone, 13 bicycle rack, 14-23 vehicles,
#: 24-27 flat surfaces, 28 man-made, 29 static other, 30 vegetation, 31 the
#: ego vehicle) for non-moving points, 32-39 for moving points. Noise and
#: the ego vehicle's own body are ignored; animals, humans and vehicles are
#: movable; the rest is static.
NUSCENES_MOS_GROUPS: Dict[str, tuple] = {
    'unlabeled': (0, 31),
    'static': (9, 10, 11, 12, 13, 24, 25, 26, 27, 28, 29, 30),
    'movable': (1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 19, 20, 21,
                22, 23),
    'moving': tuple(range(32, 40)),
}
#: nuScenes-MOS: uint8 id -> train id.
NUSCENES_MOS_4CLASS: Dict[int, int] = label_map_from_groups(
    MOS_CLASSES, NUSCENES_MOS_GROUPS)
#: MotionBEV's 2-class map over the same raw ids: 251..259 -> 1, else 0.
MOS_2CLASS: Dict[int, int] = {
    raw: int(train == MOS_CLASSES.index('moving'))
    for raw, train in MOS_4CLASS.items()
}
#: Train id -> raw id used when writing 4-class predictions.
INV_MAP_4CLASS: Dict[int, int] = {0: 0, 1: 9, 2: 250, 3: 251}
#: Train id -> raw id used when writing 2-class predictions.
INV_MAP_2CLASS: Dict[int, int] = {0: 9, 1: 251}

#: Named maps a config may refer to: name -> (classes, map, inverse map).
NAMED_LABEL_MAPS = {
    'mos_4class': (MOS_CLASSES, MOS_4CLASS, INV_MAP_4CLASS),
    'mos_2class': (MOS_2CLASS_CLASSES, MOS_2CLASS, INV_MAP_2CLASS),
    'apollo_mos': (MOS_CLASSES, APOLLO_MOS_4CLASS, INV_MAP_4CLASS),
    'helimos': (MOS_CLASSES, HELIMOS_4CLASS, INV_MAP_4CLASS),
    'nuscenes_mos': (MOS_CLASSES, NUSCENES_MOS_4CLASS, INV_MAP_4CLASS),
}


def resolve_label_map(label_map: Union[str, Mapping],
                      classes: Optional[Sequence[str]] = None
                      ) -> Dict[int, int]:
    """Turn a config's label map into a ``{raw id: train id}`` dict.

    Args:
        label_map: A name of :data:`NAMED_LABEL_MAPS`, a ``{raw id: train
            id}`` dict, or a ``{class name: [raw ids]}`` dict (then
            ``classes`` gives the train-id order).
        classes: Class names in train-id order (for the grouped form).

    Returns:
        dict: raw semantic id -> train id.
    """
    if isinstance(label_map, str):
        if label_map not in NAMED_LABEL_MAPS:
            raise ValueError(f'unknown label map {label_map!r}; choose one of '
                             f'{sorted(NAMED_LABEL_MAPS)} or give a dict')
        return dict(NAMED_LABEL_MAPS[label_map][1])
    if not label_map:
        raise ValueError('the label map is empty')
    if all(isinstance(k, str) for k in label_map):
        if classes is None:
            raise ValueError('a label map given as {class: [raw ids]} needs '
                             'the class names')
        return label_map_from_groups(classes, label_map)
    return {int(k): int(v) for k, v in label_map.items()}


def build_lut(label_map: Mapping[int, int]) -> np.ndarray:
    """A (65536,) int64 look-up table; unmapped ids hold -1."""
    lut = np.full(1 << 16, -1, dtype=np.int64)
    for raw, train in label_map.items():
        if not 0 <= int(raw) < (1 << 16):
            raise ValueError(f'raw label id {raw} is not a 16-bit id')
        if int(train) < 0:
            raise ValueError(f'train id {train} of raw id {raw} is negative')
        lut[int(raw)] = int(train)
    return lut


def map_labels(raw: np.ndarray,
               label_map: Union[Mapping[int, int], np.ndarray],
               path: Optional[str] = None) -> np.ndarray:
    """Map raw ``.label`` values to train ids.

    Args:
        raw: (N,) uint32 raw labels (instance id in the high 16 bits).
        label_map: ``{raw semantic id: train id}`` or a LUT from
            :func:`build_lut`.
        path: The label file, named in the error message.

    Returns:
        np.ndarray: (N,) int64 train ids.

    Raises:
        ValueError: Some raw semantic ids are not in the map (names the
            file and the ids).
    """
    lut = label_map if isinstance(label_map, np.ndarray) else build_lut(
        label_map)
    sem = np.asarray(raw).astype(np.uint32) & 0xFFFF
    out = lut[sem]
    if (out < 0).any():
        unknown = np.unique(sem[out < 0]).tolist()
        raise ValueError(
            f'{path or "labels"}: raw semantic ids {unknown} are not in the '
            f'label map ({int((out < 0).sum())} points)')
    return out

"""HeLiMOS: moving-object labels for four LiDARs of one HeLiPR sequence.

HeLiMOS (Lim et al., IROS 2024) labels the HeLiPR sequence KAIST05 as seen by
four sensors mounted on one vehicle: an Ouster OS2-128, a Velodyne VLP-16,
a Livox Avia (solid state, non-repetitive pattern) and an Aeva Aeries II
(FMCW). Its public release and readers (the HeLiMOS visualizer, 4DMOS's
``helimos`` loader) use this layout, one folder a sensor, frames deskewed
and in SemanticKITTI files::

    <data_root>/            e.g. HeLiMOS/KAIST05/Deskewed_LiDAR
        train.txt val.txt test.txt   frame numbers, one a line, shared by
                                     the four sensors
        Aeva/ Avia/ Ouster/ Velodyne/
            velodyne/NNNNNN.bin      float32 x, y, z, intensity
            labels/NNNNNN.label      uint32 SemanticKITTI ids (9 static,
                                     251 moving, 0/1 unlabeled/outlier)
            calib.txt                Tr (LiDAR -> reference frame)
            poses.txt                KITTI-style poses (12 numbers a line)

What we could not confirm and therefore check instead of assume: whether
every sensor folder ships ``poses.txt`` (without it, set ``load_poses=False``
and give poses another way: multi-scan loading needs them), whether frames
outside the split files have label files (frames without one are loaded as
past scans only; a split frame without labels is an error), and the
zero-padding of the frame numbers (frames are matched by number).
"""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from mmdet3d.registry import DATASETS

from .mos_infos import list_sequence
from .semantickitti_mos_dataset import SemanticKittiMOSDataset

#: The four sensor folders of HeLiMOS.
HELIMOS_SENSORS = ('Aeva', 'Avia', 'Ouster', 'Velodyne')
#: Split names with a split file ``<data_root>/<split>.txt``.
HELIMOS_SPLITS = ('train', 'val', 'test')


def read_split_file(path: str) -> List[int]:
    """Frame numbers of a HeLiMOS split file (one integer a line).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: A line is not an integer (file and line named), or the
            file lists no frame.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'HeLiMOS split file not found: {path}')
    frames = []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            text = line.strip()
            if not text:
                continue
            stem = osp.splitext(osp.basename(text))[0]
            if not stem.isdigit():
                raise ValueError(f'{path}:{lineno}: {text!r} is not a frame '
                                 'number')
            frames.append(int(stem))
    if not frames:
        raise ValueError(f'{path}: lists no frames')
    return frames


@DATASETS.register_module()
class HeLiMOSDataset(SemanticKittiMOSDataset):
    """HeLiMOS (see the module docstring for the layout).

    Each sensor is one "sequence" of :class:`SemanticKittiMOSDataset` (its
    ``sequence`` meta key is the sensor name, so ``MOSMetric`` reports
    ``IoU_moving_seq<sensor>`` per sensor). Every scan of a sensor is in the
    sequence table (past scans of a split frame may lie outside the split);
    the samples are the frames listed in the split file.

    Args:
        data_root: The folder holding the split files and sensor folders.
        split: ``'train'``, ``'val'`` or ``'test'``: reads
            ``<data_root>/<split>.txt``.
        sensors: Sensor folders to use; defaults to all four.
        split_file: A split file to use instead of ``<split>.txt``
            (relative to ``data_root`` or absolute).
        label_map: Defaults to ``'helimos'`` (SemanticKITTI ids).
        **kwargs: Other :class:`SemanticKittiMOSDataset` arguments
            (``sequences`` is not accepted: use ``sensors``).
    """

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 sensors: Optional[Sequence[str]] = None,
                 split_file: Optional[str] = None,
                 label_map='helimos',
                 **kwargs) -> None:
        if kwargs.get('filter_static_frames'):
            raise ValueError('HeLiMOSDataset: filter_static_frames is not '
                             'supported (the split files choose the frames)')
        if 'sequences' in kwargs:
            raise ValueError('HeLiMOSDataset: choose sensors with sensors=, '
                             'not sequences=')
        sensors = list(HELIMOS_SENSORS if sensors is None else sensors)
        if not sensors:
            raise ValueError('HeLiMOSDataset: sensors is empty')
        if split_file is None:
            if split not in HELIMOS_SPLITS:
                raise ValueError(f'HeLiMOSDataset: unknown split {split!r}; '
                                 f'choose one of {HELIMOS_SPLITS} or give a '
                                 'split_file')
            split_file = f'{split}.txt'
        self.split_file = split_file if osp.isabs(split_file) or \
            not data_root else osp.join(data_root, split_file)
        self.split_frames = set(read_split_file(self.split_file))
        super().__init__(data_root=data_root, split=split, sequences=sensors,
                         label_map=label_map, **kwargs)

    def _list_sequence(self, seq: str) -> dict:
        """The files of one sensor folder (labels may be missing outside
        the split)."""
        seq_dir = osp.join(self.data_root, seq)
        if not osp.isdir(seq_dir):
            raise FileNotFoundError(
                f'HeLiMOS: no folder {seq_dir} for sensor {seq!r} (sensors '
                f'are {HELIMOS_SENSORS})')
        info = list_sequence(self.data_root, seq, seq_dir=seq_dir,
                             allow_missing_labels=True)
        poses = osp.join(seq_dir, 'poses.txt')
        info['poses_path'] = poses if osp.isfile(poses) else None
        return info

    def _lidar_poses(self, info: dict) -> np.ndarray:
        if info.get('poses_path') is None:
            raise FileNotFoundError(
                'HeLiMOS: poses file not found: ' + osp.join(
                    self.data_root, info['sequence'], 'poses.txt') +
                ' (multi-scan loading needs poses; or set load_poses=False)')
        return super()._lidar_poses(info)

    def _select_frames(self, seq: str, info: dict,
                       keep: List[bool]) -> List[bool]:
        """The frames of the split file (each needs its scan and, unless
        the split is the test split of an unlabelled copy, its labels)."""
        frame_ids = [int(f) for f in info['frame_ids']]
        present = set(frame_ids)
        missing = sorted(self.split_frames - present)
        if missing:
            raise FileNotFoundError(
                f'{self.split_file}: frames {missing[:5]}'
                f'{" ..." if len(missing) > 5 else ""} ({len(missing)} in '
                f'all) have no scan in {osp.join(self.data_root, seq)}'
                '/velodyne')
        labels = info['label_paths']
        selected = []
        for i, fid in enumerate(frame_ids):
            chosen = keep[i] and fid in self.split_frames
            if chosen and labels is not None and labels[i] is None:
                raise FileNotFoundError(
                    f'{self.split_file} lists frame {fid} but sensor {seq} '
                    f'has no label file for it in '
                    f'{osp.join(self.data_root, seq, "labels")}')
            selected.append(chosen)
        return selected

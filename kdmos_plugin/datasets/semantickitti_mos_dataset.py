"""SemanticKITTI moving-object segmentation dataset."""
import os.path as osp
from collections import OrderedDict
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from mmdet3d.registry import DATASETS

from .frame_filter import keep_dynamic_frames, moving_point_counts
from .kitti_io import (LABEL_DTYPES, KittiFormatError, frame_gap_problem,
                       read_lidar_poses)
from .label_map import (INV_MAP_2CLASS, INV_MAP_4CLASS,
                        MOS_2CLASS_CLASSES, MOS_CLASSES, build_lut,
                        resolve_label_map)
from .mos_infos import SPLITS, all_sequences, list_sequence, load_info_file

#: BGR-free RGB palette of the 4 classes (unlabeled, static, movable, moving).
MOS_PALETTE = [[0, 0, 0], [180, 180, 180], [30, 144, 255], [255, 40, 40]]


@DATASETS.register_module()
class SemanticKittiMOSDataset(BaseDataset):
    """SemanticKITTI-MOS: one sample per (sequence, frame).

    Builds either from the folder layout (``data_root/sequences/XX/...``,
    see :mod:`kdmos_plugin.datasets.mos_infos`) or from an info file written
    by ``tools/create_data.py`` (``ann_file``). The pipeline receives, per
    sample::

        sequence (str), frame_id (int), scan_index (int, position in the
        sequence), lidar_path (str), label_path (str or None: unlabelled
        test split), num_points (int or None), sample_idx (int),
        label_lut ((65536,) int64 raw semantic id -> train id, -1 unknown),
        label_dtype (str: 'uint32' or 'uint8', the label files' type),
        seq_info (dict shared by the sequence's samples: lidar_paths,
            frame_ids (S,) int64, lidar_poses (S, 4, 4) float64 or None,
            sensor (SensorProfile or None, see ``sensor``))

    Args:
        data_root: Dataset root.
        ann_file: Optional info file; empty means scan the folders.
        split: ``'train'``, ``'val'``, ``'test'``, ``'road_train'`` or
            ``'road_val'``: the default sequences (docs/METHOD.md 1.2).
        sequences: Explicit sequences (override ``split``'s defaults), or
            ``'all'``: every folder under ``data_root/sequences`` (sorted;
            for datasets whose sequence names vary between copies).
        label_map: A name of ``label_map.NAMED_LABEL_MAPS``
            (``'mos_4class'``, the default, ``'mos_2class'``,
            ``'apollo_mos'``, ``'helimos'``, ``'nuscenes_mos'``) or a dict
            (``{raw id: train id}`` or ``{class name: [raw ids]}``).
        label_dtype: Element type of the ``.label`` files: ``'uint32'``
            (SemanticKITTI, default) or ``'uint8'`` (nuScenes-MOS).
        sensor: The sensor profile of the scans, for
            ``MOSNormalizeIntensity`` and the past-scan stride of
            ``LoadMOSScans`` (every 2nd scan at 20 Hz): None (default:
            unknown, intensities pass as they are, every scan a past scan), a preset name or profile file for every
            sequence, ``{sequence: name or file}``, or ``'auto'``: each
            sequence's ``sensor.json`` (as ``tools/make_synthetic_data.py
            --sensor`` writes it; missing is an error).
        filter_static_frames: Keep only frames with moving points plus every
            ``filter_every_n``-th frame (docs/METHOD.md 1.3; meant for train).
        filter_every_n: See ``filter_static_frames``.
        filter_exempt_sequences: Sequences never filtered; defaults to the
            KITTI-road sequences 30-41, which the published whitelist keeps
            in full.
        cache_dir: Folder of the filter cache; defaults to
            ``<data_root>/.kdmos_cache``.
        load_poses: Read ``poses.txt`` + ``calib.txt`` (needed by multi-scan
            loading).
        poses_root: Optional ``<poses_root>/<seq>/poses.txt`` folder.
        metainfo: Overrides of :attr:`METAINFO` (e.g. ``classes``).
        pipeline: Transforms.
        test_mode: Test mode flag of mmengine.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """
    METAINFO = dict(
        classes=MOS_CLASSES,
        palette=MOS_PALETTE,
        ignore_index=0,
        label_inv_map=INV_MAP_4CLASS)

    def __init__(self,
                 data_root: str = '',
                 ann_file: str = '',
                 split: str = 'train',
                 sequences: Optional[Sequence[str]] = None,
                 label_map: Union[str, Mapping] = 'mos_4class',
                 label_dtype: str = 'uint32',
                 sensor: Union[None, str, Mapping[str, str]] = None,
                 filter_static_frames: bool = False,
                 filter_every_n: int = 10,
                 filter_exempt_sequences: Optional[Sequence[str]] = None,
                 cache_dir: Optional[str] = None,
                 load_poses: bool = True,
                 poses_root: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 pipeline: List[Union[dict, Callable]] = [],
                 test_mode: bool = False,
                 **kwargs) -> None:
        if sequences is None:
            if split not in SPLITS:
                raise ValueError(f'unknown split {split!r}; choose one of '
                                 f'{sorted(SPLITS)} or give sequences')
            sequences = SPLITS[split]
        elif isinstance(sequences, str):
            if sequences != 'all':
                raise ValueError(f"sequences must be a list or 'all', got "
                                 f'{sequences!r}')
            sequences = all_sequences(data_root)
        if label_dtype not in LABEL_DTYPES:
            raise ValueError(f'label_dtype must be one of {LABEL_DTYPES}, '
                             f'got {label_dtype!r}')
        if filter_static_frames and label_dtype != 'uint32':
            raise ValueError('filter_static_frames counts SemanticKITTI '
                             'moving ids in uint32 labels; it does not read '
                             f'{label_dtype} labels')
        self.label_dtype = label_dtype
        self.sensor = sensor
        self.split = split
        self.sequences = [_sequence_name(s) for s in sequences]
        self.filter_static_frames = filter_static_frames
        self.filter_every_n = filter_every_n
        if filter_exempt_sequences is None:
            filter_exempt_sequences = SPLITS['road_train'] + SPLITS['road_val']
        self.filter_exempt_sequences = {
            _sequence_name(s)
            for s in filter_exempt_sequences
        }
        self.cache_dir = cache_dir
        self.load_poses = load_poses
        self.poses_root = poses_root
        metainfo = dict(metainfo or {})
        if label_map == 'mos_2class':
            metainfo.setdefault('classes', MOS_2CLASS_CLASSES)
            metainfo.setdefault('label_inv_map', INV_MAP_2CLASS)
            metainfo.setdefault('palette', [MOS_PALETTE[1], MOS_PALETTE[3]])
            metainfo.setdefault('ignore_index', -1)
        classes = metainfo.get('classes', self.METAINFO['classes'])
        self.label_map = resolve_label_map(label_map, classes)
        num_classes = len(classes)
        if max(self.label_map.values()) >= num_classes:
            raise ValueError(
                f'label map yields train id {max(self.label_map.values())} '
                f'but there are only {num_classes} classes {tuple(classes)}')
        metainfo['label_map'] = dict(self.label_map)
        self.label_lut = build_lut(self.label_map)
        self.sequence_table: Dict[str, dict] = OrderedDict()
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=dict(),
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    # ---------------------------------------------------------- loading
    def _abs(self, path: Optional[str]) -> Optional[str]:
        if path is None or osp.isabs(path) or not self.data_root:
            return path
        return osp.join(self.data_root, path)

    def _sequences_from_infos(self) -> Dict[str, dict]:
        infos = load_info_file(self.ann_file)
        if not isinstance(infos, dict) or 'data_list' not in infos:
            raise ValueError(f'{self.ann_file}: not a MOS info file (no '
                             f'data_list); write it with tools/create_data.py')
        seq_infos = infos.get('sequence_infos', {})
        wanted = set(self.sequences)
        out: Dict[str, dict] = OrderedDict()
        for entry in infos['data_list']:
            seq = str(entry['sequence'])
            if seq not in wanted:
                continue
            if seq not in out:
                sinfo = seq_infos.get(seq, {})
                out[seq] = dict(
                    sequence=seq, frame_ids=[], lidar_paths=[],
                    label_paths=[], num_points=[],
                    poses_path=self._abs(sinfo.get('poses_path')),
                    calib_path=self._abs(sinfo.get('calib_path')))
            out[seq]['frame_ids'].append(int(entry['frame_id']))
            out[seq]['lidar_paths'].append(self._abs(entry['lidar_path']))
            out[seq]['label_paths'].append(self._abs(entry.get('label_path')))
            out[seq]['num_points'].append(entry.get('num_points'))
        missing = [s for s in self.sequences if s not in out]
        if missing:
            raise ValueError(f'{self.ann_file}: holds no scans of sequences '
                             f'{missing}')
        for seq, info in out.items():
            labels = info['label_paths']
            if all(p is None for p in labels):
                info['label_paths'] = None
            elif any(p is None for p in labels):
                raise ValueError(f'{self.ann_file}: sequence {seq} has label '
                                 f'paths for only some scans')
            order = np.argsort(info['frame_ids'], kind='stable')
            for key in ('frame_ids', 'lidar_paths', 'num_points'):
                info[key] = [info[key][i] for i in order]
            if info['label_paths'] is not None:
                info['label_paths'] = [info['label_paths'][i] for i in order]
            gap = frame_gap_problem(info['frame_ids'])
            if gap:
                raise KittiFormatError(
                    f'{self.ann_file}: sequence {seq}: {gap}')
        return out

    def _lidar_poses(self, info: dict) -> np.ndarray:
        seq = info['sequence']
        if info.get('poses_path') is None:
            where = (osp.join(self.poses_root, seq, 'poses.txt')
                     if self.poses_root else osp.join(
                         self.data_root, 'sequences', seq, 'poses.txt'))
            raise FileNotFoundError(
                f'Poses file not found: {where} (sequence {seq}; or set '
                f'load_poses=False)')
        if info.get('calib_path') is None:
            raise FileNotFoundError(
                'Calibration file not found: ' +
                osp.join(self.data_root, 'sequences', seq, 'calib.txt'))
        frame_ids = info['frame_ids']
        poses = read_lidar_poses(num_scans=len(frame_ids),
                                 poses_path=info['poses_path'],
                                 calib_path=info['calib_path'])
        if max(frame_ids) >= len(poses):
            raise ValueError(
                f'{info["poses_path"]}: holds {len(poses)} poses but the '
                f'sequence has frame id {max(frame_ids)}')
        return poses[np.asarray(frame_ids)]

    def load_data_list(self) -> List[dict]:
        """Scan the folders (or read the info file), load the poses and
        apply the optional static-frame filter.

        Returns:
            list[dict]: One entry a sample (see the class docstring).
        """
        if self.ann_file:
            seqs = self._sequences_from_infos()
        else:
            seqs = OrderedDict(
                (s, self._list_sequence(s)) for s in self.sequences)
        data_list = []
        for seq, info in seqs.items():
            frame_ids = np.asarray(info['frame_ids'], dtype=np.int64)
            table = dict(
                sequence=seq,
                lidar_paths=list(info['lidar_paths']),
                label_paths=info['label_paths'],
                frame_ids=frame_ids,
                lidar_poses=self._lidar_poses(info)
                if self.load_poses else None,
                sensor=self._sensor_profile(seq, info))
            self.sequence_table[seq] = table
            keep = [True] * len(frame_ids)
            if self.filter_static_frames and \
                    seq not in self.filter_exempt_sequences:
                if info['label_paths'] is None:
                    raise ValueError(
                        f'filter_static_frames needs labels but sequence '
                        f'{seq} has none ({self.data_root})')
                cache_dir = self.cache_dir or osp.join(
                    self.data_root or '.', '.kdmos_cache')
                counts = moving_point_counts(info['label_paths'], cache_dir)
                keep = keep_dynamic_frames(counts, frame_ids,
                                           self.filter_every_n)
            keep = self._select_frames(seq, info, keep)
            num_points = info.get('num_points') or [None] * len(frame_ids)
            for i, fid in enumerate(frame_ids):
                if not keep[i]:
                    continue
                data_list.append(
                    dict(
                        sequence=seq,
                        frame_id=int(fid),
                        scan_index=i,
                        lidar_path=info['lidar_paths'][i],
                        label_path=info['label_paths'][i]
                        if info['label_paths'] is not None else None,
                        num_points=num_points[i]))
        return data_list

    def _sensor_profile(self, seq: str, info: dict):
        """The sensor profile of one sequence (see ``sensor``), or None."""
        if self.sensor is None:
            return None
        from ..sources.sensor_profile import get_profile
        if isinstance(self.sensor, Mapping):
            if seq not in self.sensor:
                raise ValueError(f'sensor names no profile for sequence '
                                 f'{seq} (it has {sorted(self.sensor)})')
            return get_profile(self.sensor[seq])
        if self.sensor == 'auto':
            path = osp.join(osp.dirname(osp.dirname(info['lidar_paths'][0])),
                            'sensor.json')
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f"sensor='auto': no sensor profile {path} for sequence "
                    f'{seq} (tools/make_synthetic_data.py --sensor writes '
                    'one)')
            return get_profile(path)
        return get_profile(self.sensor)

    def _list_sequence(self, seq: str) -> dict:
        """The files of one sequence (see ``mos_infos.list_sequence``);
        layouts other than SemanticKITTI's override this."""
        return list_sequence(self.data_root, seq, self.poses_root)

    def _select_frames(self, seq: str, info: dict,
                       keep: List[bool]) -> List[bool]:
        """Which frames of a sequence become samples (all scans stay in the
        sequence table as past scans); datasets with split files override
        this.

        Args:
            seq: The sequence.
            info: What :meth:`_list_sequence` returned.
            keep: (S,) bool, after the optional static-frame filter.

        Returns:
            list[bool]: (S,) the frames kept.
        """
        return keep

    def get_data_info(self, idx: int) -> dict:
        """The sample's info plus the shared ``seq_info`` and ``label_lut``
        (attached by reference, not copied) and the ``label_dtype``."""
        info = super().get_data_info(idx)
        info['seq_info'] = self.sequence_table[info['sequence']]
        info['label_lut'] = self.label_lut
        info['label_dtype'] = self.label_dtype
        return info

    def sample_key(self, idx: int) -> tuple:
        """``(sequence, frame_id)`` of sample ``idx``."""
        info = super().get_data_info(idx)
        return info['sequence'], info['frame_id']


def _sequence_name(seq) -> str:
    """``'08'`` for ``'08'``, ``8`` or ``'8'`` (``--cfg-options
    sequences=[08]`` arrives as the integer 8)."""
    text = str(seq)
    return f'{int(text):02d}' if text.isdigit() and len(text) < 2 else text

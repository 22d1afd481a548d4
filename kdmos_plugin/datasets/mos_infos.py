"""The SemanticKITTI folder layout, splits and info files.

Layout (``data_root``)::

    sequences/XX/velodyne/NNNNNN.bin
    sequences/XX/labels/NNNNNN.label      (absent for the hidden test split)
    sequences/XX/poses.txt                (or <poses_root>/XX/poses.txt)
    sequences/XX/calib.txt

An info file (written by ``tools/create_data.py`` with ``mmengine.dump``,
pickle or JSON) holds::

    dict(metainfo=dict(dataset='SemanticKittiMOS', info_version=1,
                       split=str, sequences=[str]),
         data_list=[dict(sequence='08', frame_id=0,
                         lidar_path='sequences/08/velodyne/000000.bin',
                         label_path='sequences/08/labels/000000.label' | None,
                         num_points=int | None), ...],   # every scan
         sequence_infos={'08': dict(poses_path=str | None,
                                    calib_path=str | None,
                                    num_scans=int)})

Paths are relative to ``data_root`` (absolute paths are kept as they are).
"""
import glob
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

INFO_VERSION = 1

#: Sequence splits (docs/METHOD.md 1.2); ``road_*`` are the KITTI-road extras.
SPLITS: Dict[str, List[str]] = {
    'train': ['00', '01', '02', '03', '04', '05', '06', '07', '09', '10'],
    'val': ['08'],
    'test': [f'{i:02d}' for i in range(11, 22)],
    'road_train': ['30', '31', '32', '33', '34', '40'],
    'road_val': ['35', '36', '37', '38', '39', '41'],
}


def sequence_dir(data_root: str, seq: str) -> str:
    """``<data_root>/sequences/<seq>``."""
    return osp.join(data_root, 'sequences', seq)


def list_sequence(data_root: str,
                  seq: str,
                  poses_root: Optional[str] = None) -> dict:
    """The scans of one sequence in the SemanticKITTI layout.

    Args:
        data_root: Dataset root holding ``sequences/``.
        seq: Sequence name, e.g. ``'08'``.
        poses_root: Optional folder with ``<seq>/poses.txt`` used instead of
            ``sequences/<seq>/poses.txt``.

    Returns:
        dict: ``frame_ids`` (sorted list of int), ``lidar_paths``,
        ``label_paths`` (list, or None if the sequence has no ``labels``
        folder), ``poses_path``, ``calib_path`` (None if absent).

    Raises:
        FileNotFoundError: No velodyne folder or scans, or a scan without
            its label file while the labels folder exists.
    """
    root = sequence_dir(data_root, seq)
    vel_dir = osp.join(root, 'velodyne')
    if not osp.isdir(vel_dir):
        raise FileNotFoundError(
            f'sequence {seq}: no velodyne folder {vel_dir}')
    lidar_paths = sorted(glob.glob(osp.join(vel_dir, '*.bin')))
    if not lidar_paths:
        raise FileNotFoundError(f'sequence {seq}: no .bin scans in {vel_dir}')
    frame_ids = []
    for path in lidar_paths:
        stem = osp.splitext(osp.basename(path))[0]
        if not stem.isdigit():
            raise ValueError(f'{path}: scan file name is not a frame number')
        frame_ids.append(int(stem))
    label_dir = osp.join(root, 'labels')
    label_paths = None
    if osp.isdir(label_dir):
        label_paths = [
            osp.join(label_dir, osp.splitext(osp.basename(p))[0] + '.label')
            for p in lidar_paths
        ]
        for path in label_paths:
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'sequence {seq}: label file missing: {path}')
    poses_path = (osp.join(poses_root, seq, 'poses.txt')
                  if poses_root else osp.join(root, 'poses.txt'))
    calib_path = osp.join(root, 'calib.txt')
    return dict(
        sequence=seq,
        frame_ids=frame_ids,
        lidar_paths=lidar_paths,
        label_paths=label_paths,
        poses_path=poses_path if osp.isfile(poses_path) else None,
        calib_path=calib_path if osp.isfile(calib_path) else None)


def _rel(path: Optional[str], root: str) -> Optional[str]:
    if path is None:
        return None
    return osp.relpath(path, root) if root else path


def collect_infos(data_root: str,
                  sequences: Sequence[str],
                  split: str = '',
                  poses_root: Optional[str] = None,
                  with_num_points: bool = True) -> dict:
    """The info dict of a list of sequences (module docstring format).

    Args:
        data_root: Dataset root.
        sequences: Sequence names.
        split: Split name recorded in the metainfo.
        poses_root: Optional alternative poses folder.
        with_num_points: Record each scan's point count (file size / 16).

    Returns:
        dict: ``metainfo``, ``data_list`` and ``sequence_infos``.
    """
    data_list, seq_infos = [], {}
    for seq in sequences:
        info = list_sequence(data_root, seq, poses_root)
        for i, (fid, lp) in enumerate(zip(info['frame_ids'],
                                          info['lidar_paths'])):
            data_list.append(
                dict(
                    sequence=seq,
                    frame_id=fid,
                    lidar_path=_rel(lp, data_root),
                    label_path=_rel(info['label_paths'][i], data_root)
                    if info['label_paths'] else None,
                    num_points=osp.getsize(lp) // 16
                    if with_num_points else None))
        seq_infos[seq] = dict(
            poses_path=_rel(info['poses_path'], data_root),
            calib_path=_rel(info['calib_path'], data_root),
            num_scans=len(info['frame_ids']))
    return dict(
        metainfo=dict(
            dataset='SemanticKittiMOS',
            info_version=INFO_VERSION,
            split=split,
            sequences=list(sequences)),
        data_list=data_list,
        sequence_infos=seq_infos)


def create_info_files(data_root: str,
                      out_dir: Optional[str] = None,
                      splits: Optional[Dict[str, Sequence[str]]] = None,
                      prefix: str = 'semantickitti_mos',
                      file_format: str = 'pkl',
                      poses_root: Optional[str] = None,
                      with_num_points: bool = True) -> Dict[str, str]:
    """Write one info file a split: ``<out_dir>/<prefix>_infos_<split>.<fmt>``.

    Args:
        data_root: Dataset root.
        out_dir: Output folder; defaults to ``data_root``.
        splits: ``{split name: [sequences]}``; defaults to the train, val
            and test splits of :data:`SPLITS` whose sequences exist.
        prefix: File name prefix.
        file_format: ``'pkl'`` or ``'json'``.
        poses_root: Optional alternative poses folder.
        with_num_points: Record point counts.

    Returns:
        dict: split name -> written file.
    """
    import mmengine
    if file_format not in ('pkl', 'json'):
        raise ValueError(f'file_format must be pkl or json, got {file_format}')
    out_dir = out_dir or data_root
    if splits is None:
        splits = {}
        for name in ('train', 'val', 'test'):
            seqs = [s for s in SPLITS[name]
                    if osp.isdir(sequence_dir(data_root, s))]
            if seqs:
                splits[name] = seqs
        if not splits:
            raise FileNotFoundError(
                f'no sequence of the default splits under {data_root}')
    os.makedirs(out_dir, exist_ok=True)
    written = {}
    for name, seqs in splits.items():
        infos = collect_infos(data_root, seqs, name, poses_root,
                              with_num_points)
        path = osp.join(out_dir, f'{prefix}_infos_{name}.{file_format}')
        mmengine.dump(infos, path)
        written[name] = path
    return written

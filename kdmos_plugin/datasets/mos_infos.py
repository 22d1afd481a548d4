"""The SemanticKITTI folder layout, splits and info files.

Layout (``data_root``)::

    sequences/XX/velodyne/NNNNNN.bin
    sequences/XX/labels/NNNNNN.label      (absent for the hidden test split)
    sequences/XX/poses.txt                (or <poses_root>/XX/poses.txt)
    sequences/XX/calib.txt

An info file (written by ``tools/create_data.py`` as JSON; a ``.pkl`` of the
same content is read too, admitting plain data only, never code: see
:func:`load_info_file`) holds::

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
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from ..utils.atomic_files import write_bytes_atomic, write_text_atomic
from .kitti_io import KittiFormatError, frame_gap_problem, scan_files

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


def all_sequences(data_root: str) -> List[str]:
    """Every sequence folder under ``<data_root>/sequences``, sorted.

    Raises:
        FileNotFoundError: No ``sequences`` folder or no sequence in it.
    """
    root = osp.join(data_root, 'sequences')
    if not osp.isdir(root):
        raise FileNotFoundError(f'no sequences folder {root}')
    found = sorted(d for d in os.listdir(root)
                   if osp.isdir(osp.join(root, d)) and not d.startswith('.'))
    if not found:
        raise FileNotFoundError(f'no sequence folders in {root}')
    return found


def list_sequence(data_root: str,
                  seq: str,
                  poses_root: Optional[str] = None,
                  seq_dir: Optional[str] = None,
                  allow_missing_labels: bool = False) -> dict:
    """The scans of one sequence in the SemanticKITTI layout.

    Args:
        data_root: Dataset root holding ``sequences/``.
        seq: Sequence name, e.g. ``'08'``.
        poses_root: Optional folder with ``<seq>/poses.txt`` used instead of
            ``sequences/<seq>/poses.txt``.
        seq_dir: The sequence folder (holding ``velodyne/``), when it is not
            ``<data_root>/sequences/<seq>`` (e.g. HeLiMOS's
            ``<data_root>/<sensor>``).
        allow_missing_labels: A scan without a label file gets ``None`` in
            ``label_paths`` instead of an error (datasets that label only
            the frames of their split files).

    Returns:
        dict: ``frame_ids`` (sorted list of int), ``lidar_paths``,
        ``label_paths`` (list, or None if the sequence has no ``labels``
        folder), ``poses_path``, ``calib_path`` (None if absent).

    Raises:
        FileNotFoundError: No velodyne folder or scans, or a scan without
            its label file while the labels folder exists.
    """
    root = seq_dir or sequence_dir(data_root, seq)
    vel_dir = osp.join(root, 'velodyne')
    if not osp.isdir(vel_dir):
        raise FileNotFoundError(
            f'sequence {seq}: no velodyne folder {vel_dir}')
    lidar_paths = scan_files(vel_dir)
    if not lidar_paths:
        raise FileNotFoundError(f'sequence {seq}: no .bin scans in {vel_dir}')
    frame_ids = []
    for path in lidar_paths:
        stem = osp.splitext(osp.basename(path))[0]
        if not stem.isdigit():
            raise ValueError(f'{path}: scan file name is not a frame number')
        frame_ids.append(int(stem))
    gap = frame_gap_problem(frame_ids)
    if gap:
        raise KittiFormatError(f'{vel_dir}: {gap}')
    label_dir = osp.join(root, 'labels')
    label_paths = None
    if osp.isdir(label_dir):
        label_paths = [
            osp.join(label_dir, osp.splitext(osp.basename(p))[0] + '.label')
            for p in lidar_paths
        ]
        for i, path in enumerate(label_paths):
            if not osp.isfile(path):
                if allow_missing_labels:
                    label_paths[i] = None
                    continue
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


def load_info_file(path: str) -> dict:
    """Read an info file as data.

    ``.json`` is parsed as JSON; ``.pkl`` / ``.pickle`` with
    :func:`~kdmos_plugin.utils.safe_load.load_data_pickle`, which refuses
    any object other than plain containers, numbers and numpy arrays (a
    pickle can otherwise run code of its author when it is loaded).

    Args:
        path (str): The info file.

    Returns:
        dict: Its content (module docstring format), not yet checked.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not JSON / not a data-only pickle / another extension
            (the message names the file).
    """
    import pickle

    from ..utils.safe_load import load_data_pickle
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'info file not found: {path}')
    ext = osp.splitext(path)[1].lower()
    if ext == '.json':
        with open(path, 'rb') as f:
            raw = f.read()
        try:
            return json.loads(raw.decode('utf-8'))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f'{path}: not a JSON info file ({err}); write '
                             f'it with tools/create_data.py') from None
    if ext in ('.pkl', '.pickle'):
        try:
            return load_data_pickle(path)
        except pickle.UnpicklingError as err:
            raise ValueError(str(err)) from err
    raise ValueError(f'{path}: info files are .json (or data-only .pkl), not '
                     f'{ext or "extensionless"}')


def create_info_files(data_root: str,
                      out_dir: Optional[str] = None,
                      splits: Optional[Dict[str, Sequence[str]]] = None,
                      prefix: str = 'semantickitti_mos',
                      file_format: str = 'json',
                      poses_root: Optional[str] = None,
                      with_num_points: bool = True) -> Dict[str, str]:
    """Write one info file a split: ``<out_dir>/<prefix>_infos_<split>.<fmt>``.

    Files are written atomically. A file of that name that this package did
    not write is never replaced (:func:`~kdmos_plugin.utils.owned_files.
    claim_files`): the call stops before writing anything.

    Args:
        data_root: Dataset root.
        out_dir: Output folder; defaults to ``data_root``.
        splits: ``{split name: [sequences]}``; defaults to the train, val
            and test splits of :data:`SPLITS` whose sequences exist.
        prefix: File name prefix.
        file_format: ``'json'`` (default) or ``'pkl'`` (plain data in a
            pickle; read back admitting data only).
        poses_root: Optional alternative poses folder.
        with_num_points: Record point counts.

    Returns:
        dict: split name -> written file.
    """
    import pickle

    from ..utils.owned_files import claim_files
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
    names = {name: f'{prefix}_infos_{name}.{file_format}' for name in splits}
    infos = {name: collect_infos(data_root, seqs, name, poses_root,
                                 with_num_points)
             for name, seqs in splits.items()}
    claim_files(out_dir, list(names.values()),
                hint='Remove them yourself, or use --out-dir / --prefix.')
    written = {}
    for name, info in infos.items():
        path = osp.join(out_dir, names[name])
        if file_format == 'json':
            write_text_atomic(path, json.dumps(info, indent=1))
        else:
            write_bytes_atomic(path, pickle.dumps(info, protocol=4))
        written[name] = path
    return written

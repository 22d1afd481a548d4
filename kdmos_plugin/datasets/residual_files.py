"""Precomputed motion-feature files in the published layout.

``<root>/<seq>/residual_images/<frame:06d>.npy``: (N, 8) float32, rows in
``.bin`` point order (docs/METHOD.md 1.5). Written by
:func:`write_reference_residuals` (``tools/create_data.py --residual-root``)
and read by ``MOSMotionFeatures(mode='file')``.
"""
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

from ..utils.atomic_files import atomic_path
from .bev_residuals import iter_reference_residuals
from .kitti_io import read_lidar_poses, read_points
from .mos_infos import list_sequence


def residual_file_path(root: str, sequence: str, frame_id: int) -> str:
    """``<root>/<seq>/residual_images/<frame:06d>.npy``."""
    return osp.join(root, str(sequence), 'residual_images',
                    f'{int(frame_id):06d}.npy')


def write_reference_residuals(data_root: str,
                              sequences: Sequence[str],
                              out_root: str,
                              poses_root: Optional[str] = None) -> Dict[str,
                                                                        int]:
    """Write the published (reference-mode) motion channels of whole
    sequences, each window computed once.

    Args:
        data_root: Dataset root (SemanticKITTI layout).
        sequences: Sequences to process.
        out_root: Output root of the residual files.
        poses_root: Optional ``<poses_root>/<seq>/poses.txt`` folder.

    Returns:
        dict: sequence -> number of files written.

    Raises:
        ForeignFilesError: A residual file to be written exists and was
            not written by this package (nothing is written then).
    """
    from ..utils.owned_files import claim_files
    infos = [list_sequence(data_root, seq, poses_root) for seq in sequences]
    claim_files(out_root, [
        osp.relpath(residual_file_path(out_root, info['sequence'], fid),
                    out_root)
        for info in infos for fid in info['frame_ids']
    ], hint='Use another residual root.')
    written = {}
    for seq, info in zip(sequences, infos):
        for what in ('poses_path', 'calib_path'):
            if info[what] is None:
                raise FileNotFoundError(
                    f'sequence {seq}: no {what[:-5]} file under {data_root}')
        frame_ids = info['frame_ids']
        poses = read_lidar_poses(num_scans=len(frame_ids),
                                 poses_path=info['poses_path'],
                                 calib_path=info['calib_path'])
        poses = dict(enumerate(poses[np.asarray(frame_ids)]))
        paths = info['lidar_paths']
        count = 0
        for j, feats in iter_reference_residuals(
                lambda i: read_points(paths[i]), poses, len(paths)):
            out = residual_file_path(out_root, seq, frame_ids[j])
            with atomic_path(out, suffix='.npy') as tmp:
                np.save(tmp, feats.numpy())
            count += 1
        written[seq] = count
    return written

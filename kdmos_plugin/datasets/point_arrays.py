"""Per-point array files: one ``.npy`` row per point of a scan.

Teacher logits (``teacher_logits/<frame>.npy``, (N, C)) and precomputed
motion features (``residual_images/<frame>.npy``, (N, 8)) are both such
files; :func:`load_point_array` reads either with the same checks.
"""
import os.path as osp
from typing import Optional

import numpy as np

from ..utils.safe_load import load_npy


def load_point_array(path: str, num_points: int, num_columns: int,
                     what: str, columns: str, config_key: str,
                     scan: Optional[str] = None) -> np.ndarray:
    """Read a per-point ``.npy`` file and check it against its scan.

    Args:
        path: The ``.npy`` file (read with ``allow_pickle=False``).
        num_points: N, the points of the scan.
        num_columns: C, the columns the config expects.
        what: What the file holds, for messages (``'teacher logits'``).
        columns: What a column is, for messages (``'classes'``).
        config_key: The config key that sets C (``'num_classes'``).
        scan: The scan's file, for messages.

    Returns:
        np.ndarray: (N, C) float32.

    Raises:
        FileNotFoundError: No file (named).
        ValueError: Not (N, C), or NaN/inf values; ``NpyFormatError``: not
            a plain numeric .npy (a pickle, truncated, garbage); the file
            named.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what[0].upper()}{what[1:]} not found: '
                                f'{path}')
    arr = load_npy(path)  # data only; a pickle, truncated or garbage
    #                      file is an NpyFormatError naming it
    if arr.ndim != 2 or arr.shape[0] != num_points:
        raise ValueError(f'{path}: {what} of shape {arr.shape} but the scan '
                         f'{scan} has {num_points} points')
    if arr.shape[1] != num_columns:
        raise ValueError(f'{path}: {what} have {arr.shape[1]} {columns}, the '
                         f'config has {config_key}={num_columns}')
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f'{path}: {what} hold NaN or inf')
    return arr

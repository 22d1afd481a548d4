"""Filtering of mostly-static training frames (docs/METHOD.md 1.3).

The published training keeps every frame that holds moving points plus every
10th frame (frame id divisible by 10), through a shipped whitelist. Here the
moving-point counts are computed from the labels once and cached in a JSON
file whose name is a hash of the inputs (label paths, sizes, modification
times and the moving ids), so a changed label file invalidates the cache.
"""
import hashlib
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from ..utils.atomic_files import write_text_atomic
from .kitti_io import read_labels
from .label_map import MOVING_RAW_IDS

_CACHE_VERSION = 1


def count_moving_points(label_path: str,
                        moving_ids: Sequence[int] = MOVING_RAW_IDS) -> int:
    """Number of points of a ``.label`` file whose semantic id is moving."""
    sem = read_labels(label_path) & 0xFFFF
    return int(np.isin(sem, np.asarray(moving_ids, dtype=np.uint32)).sum())


def _cache_key(label_paths: Sequence[str], moving_ids: Sequence[int]) -> str:
    h = hashlib.sha1()
    h.update(json.dumps([_CACHE_VERSION, sorted(int(i) for i in moving_ids)
                         ]).encode())
    for path in label_paths:
        path = osp.abspath(path)
        st = os.stat(path)
        h.update(f'{path}\0{st.st_size}\0{st.st_mtime_ns}\n'.encode())
    return h.hexdigest()[:20]


def moving_point_counts(label_paths: Sequence[str],
                        cache_dir: Optional[str] = None,
                        moving_ids: Sequence[int] = MOVING_RAW_IDS
                        ) -> np.ndarray:
    """Moving-point count of every label file, cached on disk.

    Args:
        label_paths: ``.label`` files.
        cache_dir: Folder of the cache file ``moving_counts_<hash>.json``;
            ``None`` disables caching. An unwritable folder only skips
            writing.
        moving_ids: Raw semantic ids counted as moving.

    Returns:
        np.ndarray: (len(label_paths),) int64 counts.
    """
    label_paths = [os.fspath(p) for p in label_paths]
    cache_file = None
    if cache_dir is not None:
        cache_file = osp.join(
            cache_dir, f'moving_counts_{_cache_key(label_paths, moving_ids)}'
            '.json')
        if osp.isfile(cache_file):
            with open(cache_file) as f:
                cached = json.load(f)
            if cached.get('paths') == [osp.abspath(p) for p in label_paths]:
                return np.asarray(cached['counts'], dtype=np.int64)
    counts = np.asarray(
        [count_moving_points(p, moving_ids) for p in label_paths],
        dtype=np.int64)
    if cache_file is not None:
        try:
            write_text_atomic(cache_file, json.dumps(
                dict(paths=[osp.abspath(p) for p in label_paths],
                     counts=counts.tolist())))
        except OSError:
            pass
    return counts


def keep_dynamic_frames(counts: Sequence[int], frame_ids: Sequence[int],
                        every_n: int = 10) -> List[bool]:
    """Which frames the published filter keeps.

    Args:
        counts: Moving-point count of each frame.
        frame_ids: KITTI frame id of each frame.
        every_n: Frames with ``frame_id % every_n == 0`` are always kept.

    Returns:
        list[bool]: True for frames with moving points or every n-th frame.
    """
    return [
        int(c) > 0 or int(f) % every_n == 0
        for c, f in zip(counts, frame_ids)
    ]

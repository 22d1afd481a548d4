"""The 8 motion channels of the current scan (BEV height residuals)."""
import os.path as osp
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS

from ..bev_residuals import (CAUSAL_CHANNELS, CAUSAL_NUM_SCANS, NUM_LAST,
                             NUM_PREV, causal_residuals, reference_window_dz,
                             reference_residuals)
from ..point_arrays import load_point_array
from ..residual_files import residual_file_path
from .load_mos_scans import build_multi_points


@TRANSFORMS.register_module()
class MOSMotionFeatures(BaseTransform):
    """Per-point motion channels, computed online or read from files.

    Modes (see :mod:`kdmos_plugin.datasets.bev_residuals` for the maths):

    - ``'reference'``: the published 8 channels, exactly; column ``k`` uses
      the window ending at scan ``t + k``, so it needs 7 past and 7 future
      scans (``LoadMOSScans(num_past=7, num_future=7)``). Not causal.
    - ``'causal'``: 8 appearance channels from scans ``t-7..t`` only
      (``LoadMOSScans(num_past=7)``), for online use.
    - ``'file'``: read
      ``<residual_root>/<seq>/residual_images/<frame:06d>.npy`` ((N, 8)
      float32, the published layout); the row count must equal the
      point count.

    Run it before augmentation (as published: residuals are computed on the
    un-augmented scans). The reference mode reads the raw scans and poses
    only, so it gives the same values after augmentation; the causal mode
    bins ``multi_points`` and so depends on the frame it is given. The
    reference mode keeps the dz images of the last ``cache_windows``
    windows, which serves consecutive frames of a
    sequential loader.

    Required Keys:

    - points (np.ndarray): (N, 4)
    - sequence (str), frame_id (int), scan_index (int), seq_len (int)
    - multi_points (np.ndarray, causal; or sweeps with ages 1..7)
    - sweeps (list[dict], reference), lidar_pose (np.ndarray, reference),
      raw_points (np.ndarray, reference; else ``points``)
    - lidar_path (str, for messages)

    Added Keys:

    - motion_feats (np.ndarray): (N, 8) float32 residuals [m]

    Args:
        mode: ``'reference'``, ``'causal'`` or ``'file'``.
        residual_root: Root of the residual files (mode ``'file'``).
        num_channels: Expected channel count (8).
        cache_windows: Reference-mode windows kept in memory (0 disables).
        num_threads: torch threads while computing (restored after); 1 by
            default, as in a DataLoader worker: with ``num_workers=0`` the
            main process' intra-op threads only add overhead on these
            tensors (seen 4x slower on a busy 2-core machine). None keeps
            the current setting.
    """

    MODES = ('reference', 'causal', 'file')

    def __init__(self,
                 mode: str = 'causal',
                 residual_root: Optional[str] = None,
                 num_channels: int = 8,
                 cache_windows: int = 16,
                 num_threads: Optional[int] = 1) -> None:
        if mode not in self.MODES:
            raise ValueError(f'mode must be one of {self.MODES}, got {mode!r}')
        if mode == 'file' and not residual_root:
            raise ValueError("mode='file' needs residual_root")
        expected = (len(CAUSAL_CHANNELS) if mode == 'causal' else
                    NUM_PREV + NUM_LAST)
        if mode != 'file' and num_channels != expected:
            raise ValueError(f'mode {mode!r} makes {expected} channels, '
                             f'num_channels is {num_channels}')
        self.mode = mode
        self.residual_root = residual_root
        self.num_channels = num_channels
        self.cache_windows = cache_windows
        self.num_threads = num_threads
        self._windows: 'OrderedDict[tuple, torch.Tensor]' = OrderedDict()

    def transform(self, results: dict) -> dict:
        """Add ``motion_feats`` (see the class docstring)."""
        fn = dict(reference=self._reference, causal=self._causal,
                  file=self._file)[self.mode]
        with _torch_threads(self.num_threads):
            feats = fn(results)
        results['motion_feats'] = np.ascontiguousarray(feats,
                                                       dtype=np.float32)
        return results

    # ---------------------------------------------------------------- modes
    def _file(self, results: dict) -> np.ndarray:
        path = residual_file_path(self.residual_root, results['sequence'],
                                  results['frame_id'])
        return load_point_array(path, len(results['points']),
                                self.num_channels, 'residual features',
                                'channels', 'num_channels',
                                results.get('lidar_path'))

    def _causal(self, results: dict) -> np.ndarray:
        points = results['points']
        sweeps = results.get('sweeps')
        merged = results.get('multi_points')
        if merged is None:
            merged = build_multi_points(points, sweeps or [])
        if sweeps is not None:  # LoadMOSScans: ages 1..K, clamped, exist
            past = sorted({int(sw['age']) for sw in sweeps if sw['age'] > 0})
            if not set(range(1, CAUSAL_NUM_SCANS)).issubset(past):
                raise ValueError(
                    f'{results.get("lidar_path")}: causal motion features '
                    f'need {CAUSAL_NUM_SCANS - 1} past scans, got ages '
                    f'{past} (LoadMOSScans(num_past=7))')
        merged = torch.from_numpy(np.ascontiguousarray(merged))
        return causal_residuals(merged[:, :3], merged[:, 4].long(),
                                len(points),
                                check_ages=sweeps is None).numpy()

    def _reference(self, results: dict) -> np.ndarray:
        t = int(results['scan_index'])
        seq_len = int(results['seq_len'])
        size = NUM_PREV + NUM_LAST
        scans = {t: results.get('raw_points', results['points'])}
        poses = {t: results['lidar_pose']}
        for sw in results.get('sweeps', []):
            if sw['index'] == t - sw['age']:  # skip clamped duplicates
                scans[sw['index']] = sw['points']
                poses[sw['index']] = sw['pose']
        needed = set()
        for k in range(size):
            e = t + k
            if size - 1 <= e < seq_len:
                needed.update(range(e - size + 1, e + 1))
        missing = sorted(needed - set(scans))
        if missing:
            raise ValueError(
                f'{results.get("lidar_path")}: reference motion features '
                f'need scans {missing} of the sequence; load them with '
                f'LoadMOSScans(num_past={size - 1}, num_future={size - 1})')
        seq_key = (str(results.get('sequence')),
                   osp.dirname(str(results.get('lidar_path'))))

        def window_dz(e: int) -> torch.Tensor:
            key = seq_key + (e, )
            if key in self._windows:
                self._windows.move_to_end(key)
                return self._windows[key]
            dz = reference_window_dz(scans.__getitem__, poses, e, NUM_PREV,
                                     NUM_LAST)
            if self.cache_windows > 0:
                self._windows[key] = dz
                while len(self._windows) > self.cache_windows:
                    self._windows.popitem(last=False)
            return dz

        return reference_residuals(scans.__getitem__, poses, t, seq_len,
                                   NUM_PREV, NUM_LAST, window_dz).numpy()

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mode={self.mode!r}, '
                f'num_channels={self.num_channels})')


@contextmanager
def _torch_threads(num: Optional[int]) -> Iterator[None]:
    """Temporarily run torch with ``num`` intra-op threads."""
    before = torch.get_num_threads()
    if num is None or num == before:
        yield
        return
    torch.set_num_threads(num)
    try:
        yield
    finally:
        torch.set_num_threads(before)

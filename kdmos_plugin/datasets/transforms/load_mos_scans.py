"""Load the current scan and its neighbours in the current LiDAR frame."""
from typing import Dict, List, Optional, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmdet3d.registry import TRANSFORMS

from ..kitti_io import read_points, relative_pose, transform_points


@TRANSFORMS.register_module()
class LoadMOSScans(BaseTransform):
    """Load scan ``t`` and ``num_past`` past (and ``num_future`` future)
    scans of its sequence.

    Past scan ``t - k * stride`` (age ``k``, k = 1..num_past) is clamped to
    scan 0 at the sequence start; future scan ``t + f * stride`` beyond the
    sequence end is not loaded. ``stride`` is the sequence's sensor's
    :meth:`~kdmos_plugin.sources.sensor_profile.SensorProfile.scan_stride`
    (``seq_info['sensor']``, set by the dataset's ``sensor`` argument): 2 for
    a 20 Hz sensor, so that its K past scans span the 0.7 s of the 10 Hz
    training window; 1 without a profile (every scan a past scan, as
    SemanticKITTI) and for sensors at 10 Hz or slower. The ages stay
    ``1..K`` (the model's time axis counts past scans, not sensor frames).
    Past and current scans are merged into ``multi_points`` in the current
    LiDAR frame with ``inv(P_t) @ P_j``, the current scan first and in file
    order. Future scans serve the reference motion features; they enter
    ``multi_points`` (ages ``-1..-F``) only with ``future_in_multi_points``,
    for a non-causal teacher that is run offline (its logits are dumped
    once); the default teacher is causal.

    Required Keys:

    - lidar_path (str)
    - scan_index (int): position ``t`` of the scan in its sequence
    - seq_info (dict): ``lidar_paths`` (list[str]), ``lidar_poses``
      ((S, 4, 4) float64 or None), optional ``scan_cache`` ({index:
      (N, 4) float32}) of scans already in memory, optional ``sensor``
      (SensorProfile or None: the past-scan stride)

    Added Keys:

    - points (np.ndarray): (N, 4) float32 x, y, z [m], intensity of scan
      ``t``, file order
    - raw_points (np.ndarray): the same (N, 4) array, never augmented
      (the reference motion features use it)
    - num_points (int): N
    - multi_points (np.ndarray): (M, 5) float32 x, y, z, intensity, age in
      the frame of scan ``t``; only with ``num_past > 0`` and
      ``with_multi_points``; past scans by age, then (with
      ``future_in_multi_points``) the future scans that exist, nearest
      first, with negative ages
    - sweeps (list[dict]): past then future scans, each with ``index``
      (int, position in the sequence), ``age`` (int, ``t - index``;
      negative for future scans), ``points`` ((N_j, 4) float32 raw, own
      frame), ``pose`` ((4, 4) LiDAR pose), ``to_current`` ((4, 4) float64
      own frame -> current frame, updated by augmentation)
    - lidar_pose (np.ndarray): (4, 4) float64 LiDAR pose of scan ``t``
      (identity when no poses are loaded)
    - seq_len (int): number of scans of the sequence

    Args:
        num_past: Past scans K (7 for the teacher and the causal motion
            features).
        num_future: Future scans (7 for the reference motion features).
        with_multi_points: Build ``multi_points``.
        stride: Every how many scans a past scan is taken: ``'sensor'``
            (default: the sequence's profile's ``scan_stride()``, 1 without
            one) or a fixed int >= 1.
        future_in_multi_points: Merge the future scans into
            ``multi_points`` too (a non-causal teacher); needs
            ``num_future > 0``. Near the sequence end fewer future scans
            exist, and ``multi_points`` holds the ones that do.
    """

    def __init__(self,
                 num_past: int = 7,
                 num_future: int = 0,
                 with_multi_points: bool = True,
                 stride: Union[str, int] = 'sensor',
                 future_in_multi_points: bool = False) -> None:
        if num_past < 0 or num_future < 0:
            raise ValueError('num_past and num_future must be >= 0')
        if future_in_multi_points and num_future == 0:
            raise ValueError('LoadMOSScans: future_in_multi_points needs '
                             'num_future > 0')
        if stride != 'sensor' and (isinstance(stride, bool) or
                                   not isinstance(stride, int) or stride < 1):
            raise ValueError(f"stride must be 'sensor' or an int >= 1, got "
                             f'{stride!r}')
        self.stride = stride
        self.num_past = num_past
        self.num_future = num_future
        self.with_multi_points = with_multi_points
        self.future_in_multi_points = future_in_multi_points

    def transform(self, results: dict) -> dict:
        """Load the scans (see the class docstring for the keys)."""
        seq_info = results['seq_info']
        paths: List[str] = seq_info['lidar_paths']
        poses: Optional[np.ndarray] = seq_info.get('lidar_poses')
        t = int(results['scan_index'])
        seq_len = len(paths)
        # In-memory scans (``seq_info['scan_cache']``: {index: (N, 4)}) are
        # used instead of the files; the streaming inference passes them.
        cache: Dict[int, np.ndarray] = dict(seq_info.get('scan_cache') or {})
        if t not in cache:
            cache[t] = read_points(results['lidar_path'])
        points = cache[t]
        if results.get('num_points') is not None and \
                int(results['num_points']) != len(points):
            raise ValueError(
                f'{results["lidar_path"]}: holds {len(points)} points but the '
                f'info file says {results["num_points"]}')
        results['points'] = points
        results['raw_points'] = points
        results['num_points'] = len(points)
        results['seq_len'] = seq_len
        needs_poses = self.num_past > 0 or self.num_future > 0
        if needs_poses and poses is None:
            raise ValueError(
                f'{results["lidar_path"]}: loading neighbouring scans needs '
                f'the sequence poses (dataset load_poses=True)')
        cur_pose = poses[t] if poses is not None else np.eye(4)
        results['lidar_pose'] = cur_pose

        def load(j: int) -> np.ndarray:
            if j not in cache:
                cache[j] = read_points(paths[j])
            return cache[j]

        stride = self.stride
        if stride == 'sensor':
            sensor = seq_info.get('sensor')
            stride = 1 if sensor is None else sensor.scan_stride()
        sweeps = []
        for k in range(1, self.num_past + 1):
            j = max(t - k * stride, 0)
            sweeps.append(dict(index=j, age=k, points=load(j), pose=poses[j],
                               to_current=relative_pose(cur_pose, poses[j])))
        for f in range(1, self.num_future + 1):
            j = t + f * stride
            if j >= seq_len:
                break
            sweeps.append(dict(index=j, age=-f, points=load(j), pose=poses[j],
                               to_current=relative_pose(cur_pose, poses[j])))
        results['sweeps'] = sweeps
        if self.num_past > 0 and self.with_multi_points:
            results['multi_points'] = build_multi_points(
                points, sweeps, with_future=self.future_in_multi_points)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_past={self.num_past}, '
                f'num_future={self.num_future}, '
                f'with_multi_points={self.with_multi_points}, '
                f'stride={self.stride!r}, '
                f'future_in_multi_points={self.future_in_multi_points})')


def build_multi_points(points: np.ndarray, sweeps: List[dict],
                       with_future: bool = False) -> np.ndarray:
    """Merge the current scan and the past (and future) sweeps.

    Args:
        points: (N, 4) current scan (current frame).
        sweeps: Sweeps as made by :class:`LoadMOSScans`; those with
            ``age > 0`` are moved with their ``to_current`` and appended in
            age order.
        with_future: Append the future sweeps (``age < 0``) too, after the
            past ones, nearest first.

    Returns:
        np.ndarray: (M, 5) float32 x, y, z, intensity, age; rows ``:N`` are
        ``points`` unchanged.
    """
    parts = [np.concatenate(
        [points[:, :4], np.zeros((len(points), 1), np.float32)], axis=1)]
    chosen = [s for s in sweeps if s['age'] > 0 or
              (with_future and s['age'] < 0)]
    # past 1..K, then future -1..-F
    for sw in sorted(chosen, key=lambda s: (s['age'] < 0, abs(s['age']))):
        moved = transform_points(sw['points'][:, :4], sw['to_current'])
        parts.append(np.concatenate(
            [moved, np.full((len(moved), 1), sw['age'], np.float32)], axis=1))
    return np.concatenate(parts, axis=0).astype(np.float32, copy=False)


def checked_multi_points(results: dict) -> Optional[np.ndarray]:
    """``results['multi_points']`` (M, 5), or None if absent, after checking
    it can hold the N current points first (``M >= N``).

    Raises:
        ValueError: ``M < N``, naming the scan (``lidar_path``).
    """
    multi = results.get('multi_points')
    n = len(results['points'])
    if multi is not None and len(multi) < n:
        raise ValueError(
            f'{results.get("lidar_path", "sample")}: multi_points has '
            f'{len(multi)} rows, fewer than the {n} current points')
    return multi

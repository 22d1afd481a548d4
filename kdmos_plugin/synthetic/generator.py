"""Synthetic SemanticKITTI-MOS sequences: simulate a scene, scan it, write it.

Written layout (exactly SemanticKITTI's)::

    OUT/sequences/XX/velodyne/NNNNNN.bin   float32 x, y, z [m], remission
    OUT/sequences/XX/labels/NNNNNN.label   uint32: semantic id | instance << 16
    OUT/sequences/XX/poses.txt             KITTI camera poses (12 numbers)
    OUT/sequences/XX/calib.txt             P0..P3 and Tr (velodyne -> camera)
    OUT/sequences/XX/times.txt             scan times [s]
    OUT/sequences/XX/sensor.json           the sensor profile (only when
                                           a ``sensor`` is given)

A ``sensor`` (a :class:`~kdmos_plugin.sources.sensor_profile.SensorProfile`,
preset name or profile file) makes the scans look like that sensor: its
beams and elevations, horizontal resolution, range, mounting height, noise,
intensity scale and scan rate (:mod:`.sensors`), and the part of its own
vehicle it sees (the profile's ``ego_body``: points labelled
:data:`~.semantic_ids.EGO_BODY`, a static class). Without one, the
``preset`` LiDAR (HDL-64E-like beams, 10 Hz) writes what it always wrote.
``scene_detail='rich'`` builds a richer street (:mod:`.scene`: roads with a
grade and a camber, facades that are not straight, trees and hedges of
several lobes, buses, trucks, motorcycles, slow and fast pedestrians,
agents that start and stop); the default ``'plain'`` scene is the one the
seeds always gave, byte for byte.

Poses: the simulation runs in a world frame with LiDAR poses ``L_i``; the
written camera poses are ``pose_i = Tr @ inv(L_0) @ L_i @ inv(Tr)``, so that
``kitti_io.camera_to_lidar_poses(read_poses(...), Tr)`` gives back
``inv(L_0) @ L_i``. The same seed gives byte-identical files.

Example:
    >>> from kdmos_plugin.synthetic import write_dataset
    >>> write_dataset('data/synthetic_mos', ['00', '08'], num_scans=20,
    ...               seed=0, preset='small')
"""
import os
import os.path as osp
import time
import zlib
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple)

import numpy as np

from ..datasets import kitti_io
from .ego_path import SCAN_PERIOD
from .geometry import intersect_box
from .lidar import LIDAR_PRESETS, LidarModel
from .scene import SCENE_DETAILS, Scene, SceneBuilder
from .semantic_ids import EGO_BODY

#: KITTI-like velodyne -> camera transform (the values of KITTI odometry
#: sequence 00's calib.txt: x right, y down, z forward camera axes).
KITTI_TR = np.array([
    [4.276802385584e-04, -9.999672484946e-01, -8.084491683471e-03,
     -1.198459927713e-02],
    [-7.210626507497e-03, 8.081198471645e-03, -9.999413164504e-01,
     -5.403984729748e-02],
    [9.999738645903e-01, 4.859485810390e-04, -7.206933692422e-03,
     -2.921968648686e-01],
    [0.0, 0.0, 0.0, 1.0]])

#: KITTI odometry camera projection matrices (written to calib.txt).
KITTI_P = {
    'P0': [718.856, 0.0, 607.1928, 0.0, 0.0, 718.856, 185.2157, 0.0,
           0.0, 0.0, 1.0, 0.0],
    'P1': [718.856, 0.0, 607.1928, -386.1448, 0.0, 718.856, 185.2157, 0.0,
           0.0, 0.0, 1.0, 0.0],
    'P2': [718.856, 0.0, 607.1928, 45.38225, 0.0, 718.856, 185.2157,
           -0.1130887, 0.0, 0.0, 1.0, 0.003779761],
    'P3': [718.856, 0.0, 607.1928, -337.2877, 0.0, 718.856, 185.2157,
           2.369057, 0.0, 0.0, 1.0, 0.004915215],
}

PRESETS = tuple(LIDAR_PRESETS)


def sequence_seed(seed: int, sequence: str) -> np.random.SeedSequence:
    """The seed of one sequence: the global seed and the sequence name."""
    key = int(sequence) if str(sequence).isdigit() else \
        zlib.crc32(str(sequence).encode())
    return np.random.SeedSequence([int(seed), key])


def kitti_trajectory(poses_root: str, sequence: str, num_scans: int,
                     rng: np.random.Generator,
                     start: Optional[int] = None,
                     scan_period: float = SCAN_PERIOD) -> np.ndarray:
    """A window of a real KITTI trajectory as planar ego motion.

    Args:
        poses_root: Folder holding ``XX/poses.txt`` (KITTI camera poses).
        sequence: Sequence name ``XX``.
        num_scans: Window length.
        rng: Picks the window start when ``start`` is None.
        start: First scan of the window.
        scan_period: Time between the scans [s]. KITTI's poses are 0.1 s
            apart; another period takes a window of the same duration and
            interpolates x, y and the (unwrapped) yaw at the scan times.

    Returns:
        np.ndarray: (num_scans, 3) LiDAR ``x, y, yaw`` [m, rad] in the
        LiDAR frame of the window's first scan (roll, pitch and height
        dropped: the synthetic road is flat).

    Raises:
        FileNotFoundError: No poses file for the sequence.
        ValueError: The trajectory is shorter than ``num_scans``.
    """
    path = osp.join(poses_root, sequence, 'poses.txt')
    cam = kitti_io.read_poses(path)
    if scan_period != SCAN_PERIOD:
        times = np.arange(num_scans) * float(scan_period)
        num_kitti = int(np.ceil(times[-1] / SCAN_PERIOD - 1e-9)) + 1
        xy_yaw = kitti_trajectory(poses_root, sequence, num_kitti, rng,
                                  start)
        t_kitti = np.arange(num_kitti) * SCAN_PERIOD
        yaw = np.unwrap(xy_yaw[:, 2])
        return np.stack([np.interp(times, t_kitti, xy_yaw[:, 0]),
                         np.interp(times, t_kitti, xy_yaw[:, 1]),
                         np.interp(times, t_kitti, yaw)], axis=1)
    if len(cam) < num_scans:
        raise ValueError(f'{path}: holds {len(cam)} poses, fewer than the '
                         f'{num_scans} scans asked for')
    if start is None:
        start = int(rng.integers(0, len(cam) - num_scans + 1))
    if not 0 <= start <= len(cam) - num_scans:
        raise ValueError(f'{path}: window start {start} + {num_scans} scans '
                         f'exceeds the {len(cam)} poses')
    lidar = kitti_io.camera_to_lidar_poses(cam[start:start + num_scans],
                                           KITTI_TR)
    yaw = np.arctan2(lidar[:, 1, 0], lidar[:, 0, 0])
    return np.stack([lidar[:, 0, 3], lidar[:, 1, 3], yaw], axis=1)


class SyntheticSequence:
    """One simulated sequence: the scene, the sensor and its scans.

    Args:
        num_scans: N, number of scans.
        seed: Global seed.
        sequence: Sequence name (``'00'``); part of the seed.
        preset: ``'small'`` (32 beams x 512 azimuths) or ``'full'``
            (HDL-64E-like, 64 x 2048), both at 10 Hz; not used with a
            ``sensor``.
        sensor: A sensor profile (object, preset name or file) to imitate,
            scan rate included; None: the ``preset``.
        ego_xy_yaw: Optional (N, 3) ego trajectory (e.g. from
            :func:`kitti_trajectory`); default a procedural curved path
            with varying speed and a stop.
        outlier_rate: Fraction of returns replaced by spurious short
            returns (labelled unlabeled, 0).
        scene_detail: ``'plain'`` (default) or ``'rich'`` (see
            :class:`~.scene.SceneBuilder`).

    Attributes:
        scene: The :class:`Scene`.
        lidar: The :class:`LidarModel`.
        profile: The sensor profile, or None (a ``preset``).
        scan_period: Time between two scans [s].
        lidar_poses: (N, 4, 4) world poses ``L_i`` of the sensor.
    """

    def __init__(self, num_scans: int, seed: int = 0, sequence: str = '00',
                 preset: str = 'small',
                 ego_xy_yaw: Optional[np.ndarray] = None,
                 outlier_rate: float = 5e-4,
                 sensor=None, scene_detail: str = 'plain'):
        if num_scans < 1:
            raise ValueError(f'num_scans must be >= 1, got {num_scans}')
        self.num_scans = int(num_scans)
        self.sequence = str(sequence)
        self.profile = None
        self.scan_period = SCAN_PERIOD
        if sensor is None:
            self.lidar = LidarModel.from_preset(preset)
        else:
            from .sensors import get_profile, lidar_from_profile, scan_period
            self.profile = get_profile(sensor)
            self.lidar = lidar_from_profile(self.profile)
            self.scan_period = scan_period(self.profile)
        self.outlier_rate = outlier_rate
        ss = sequence_seed(seed, self.sequence)
        self._entropy = ss.entropy  # scans draw from spawn keys (1, i)
        layout_rng = np.random.default_rng(ss)
        # the rich scene's own draws come from another stream, so that the
        # plain part of a rich scene is laid out as the plain scene
        rich_rng = np.random.default_rng(
            np.random.SeedSequence(ss.entropy, spawn_key=(2, )))
        self.scene: Scene = SceneBuilder(
            self.num_scans, layout_rng, ego_xy_yaw,
            sensor_height=self.lidar.height,
            scan_period=self.scan_period, detail=scene_detail,
            detail_rng=rich_rng).build()
        self.lidar_poses = self.scene.poses
        self.ego_body = None if self.profile is None else \
            self.profile.ego_body

    def scan(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """Simulate scan ``i``.

        Args:
            i: Scan index in ``[0, N)``.

        Returns:
            tuple: (M, 4) float32 points ``x, y, z`` [m] in the sensor
            frame and remission in [0, 0.99], in KITTI order (beam by beam
            from the top, azimuth increasing from the x axis); (M,) uint32
            labels, semantic id in the low 16 bits and instance id in the
            high 16 bits.
        """
        if not 0 <= i < self.num_scans:
            raise IndexError(f'scan {i} outside [0, {self.num_scans})')
        rng = np.random.default_rng(
            np.random.SeedSequence(self._entropy, spawn_key=(1, i)))
        prims = self.scene.primitives(i)
        cast = self.lidar.cast(prims, self.lidar_poses[i], self.scene.ground,
                               rng)
        if self.ego_body is not None:
            self._cast_ego_body(cast)
        points, idx, _ = self.lidar.returns(cast, rng)
        sem = cast['sem'].reshape(-1)[idx].astype(np.uint32)
        prim = cast['prim'].reshape(-1)[idx]
        inst = np.where(prim >= 0, prims.inst[np.maximum(prim, 0)], 0)
        labels = sem | (inst.astype(np.uint32) << np.uint32(16))
        # a few spurious short returns (dust, multipath): unlabeled
        out = np.flatnonzero(rng.random(len(points)) < self.outlier_rate)
        if len(out):
            r = np.linalg.norm(points[out, :3], axis=1)
            r_new = np.maximum(r * rng.uniform(0.1, 0.9, len(out)),
                               self.lidar.min_range * 1.01)
            points[out, :3] *= (r_new / r)[:, None].astype(np.float32)
            labels[out] = 0
        return points, labels

    def _cast_ego_body(self, cast: Dict[str, np.ndarray]) -> None:
        """Put the ego vehicle's body (the profile's ``ego_body`` box,
        rigid in the sensor frame) into a cast, in place: rays that hit it
        before anything else return from it, labelled
        :data:`~.semantic_ids.EGO_BODY` (static) with instance 0."""
        x0, x1, y0, y1, z0, z1 = self.ego_body
        box = np.array([(x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2,
                        (x1 - x0) / 2, (y1 - y0) / 2, (z1 - z0) / 2, 0.0])
        dirs = self.lidar.dirs.reshape(-1, 3)
        t_ego, normal = intersect_box(dirs, box)
        hit = t_ego < cast['t'].reshape(-1)
        cast['t'].reshape(-1)[hit] = t_ego[hit]
        cast['prim'].reshape(-1)[hit] = -3
        cast['sem'].reshape(-1)[hit] = EGO_BODY
        cast['refl'].reshape(-1)[hit] = np.float32(0.2)
        cast['cos_inc'].reshape(-1)[hit] = np.abs(
            (normal[hit] * dirs[hit]).sum(axis=1))

    def camera_poses(self, Tr: np.ndarray = KITTI_TR) -> np.ndarray:
        """(N, 4, 4) KITTI camera poses ``Tr @ inv(L_0) @ L_i @ inv(Tr)``."""
        rel = np.linalg.inv(self.lidar_poses[0])[None] @ self.lidar_poses
        cam = Tr[None] @ rel @ np.linalg.inv(Tr)[None]
        cam[0] = np.eye(4)  # exactly, as in KITTI (not up to rounding)
        return cam

    def stats(self) -> Dict[str, object]:
        """Counts of the agents (what kinds, how many ever move)."""
        kinds: Dict[str, int] = {}
        for ag in self.scene.agents:
            kinds[ag.kind] = kinds.get(ag.kind, 0) + 1
        return dict(agents=kinds, moving_agents=sum(
            bool((ag.speed > 0.2).any()) for ag in self.scene.agents),
            stops=list(self.scene.stops))


def write_sequence(out_root: str, sequence: str, num_scans: int,
                   seed: int = 0, preset: str = 'small',
                   kitti_poses_root: Optional[str] = None,
                   kitti_start: Optional[int] = None,
                   sensor=None, scene_detail: str = 'plain') -> str:
    """Simulate one sequence and write it in the SemanticKITTI layout.

    Args:
        out_root: Data root; ``sequences/XX`` is created under it.
        sequence: Sequence name ``XX``.
        num_scans: Number of scans.
        seed: Global seed (with the sequence name it fixes every byte).
        preset: ``'small'`` or ``'full'`` sensor.
        kitti_poses_root: Optional folder with ``XX/poses.txt`` real KITTI
            trajectories to drive along; ``None``: procedural trajectory.
        kitti_start: First pose of the KITTI window (default: from seed).
        sensor: A sensor profile (object, preset name or file) to imitate
            instead of the ``preset``; its profile is written to
            ``sensor.json`` beside the scans.
        scene_detail: ``'plain'`` or ``'rich'`` (see
            :class:`~.scene.SceneBuilder`).

    Returns:
        str: The sequence folder.
    """
    period = SCAN_PERIOD
    if sensor is not None:
        from .sensors import get_profile, scan_period
        sensor = get_profile(sensor)
        period = scan_period(sensor)
    ego = None
    if kitti_poses_root is not None:
        rng = np.random.default_rng(
            np.random.SeedSequence(sequence_seed(seed, sequence).entropy,
                                   spawn_key=(7,)))
        ego = kitti_trajectory(kitti_poses_root, sequence, num_scans, rng,
                               kitti_start, scan_period=period)
    sim = SyntheticSequence(num_scans, seed, sequence, preset, ego,
                            sensor=sensor, scene_detail=scene_detail)
    seq_dir = osp.join(out_root, 'sequences', sequence)
    os.makedirs(osp.join(seq_dir, 'velodyne'), exist_ok=True)
    os.makedirs(osp.join(seq_dir, 'labels'), exist_ok=True)
    for i in range(num_scans):
        points, labels = sim.scan(i)
        kitti_io.write_points(osp.join(seq_dir, 'velodyne', f'{i:06d}.bin'),
                              points)
        kitti_io.write_labels(osp.join(seq_dir, 'labels', f'{i:06d}.label'),
                              labels)
    kitti_io.write_poses(osp.join(seq_dir, 'poses.txt'), sim.camera_poses())
    kitti_io.write_calib(osp.join(seq_dir, 'calib.txt'), KITTI_TR,
                         extra={k: np.array(v) for k, v in KITTI_P.items()})
    with open(osp.join(seq_dir, 'times.txt'), 'w') as f:
        for i in range(num_scans):
            f.write(f'{i * sim.scan_period:.6e}\n')
    if sim.profile is not None:
        sim.profile.save(osp.join(seq_dir, 'sensor.json'))
    return seq_dir


def write_dataset(out_root: str, sequences: Iterable[str], num_scans: int,
                  seed: int = 0, preset: str = 'small',
                  kitti_poses_root: Optional[str] = None,
                  sensor=None, scene_detail: str = 'plain') -> List[str]:
    """Write several sequences (see :func:`write_sequence`).

    Args:
        sensor: One profile for every sequence, or a list with one profile
            (object, name or file) a sequence (sensor randomisation).
        scene_detail: ``'plain'`` or ``'rich'``.

    Returns:
        list: The sequence folders.
    """
    if preset not in PRESETS:
        raise ValueError(f'unknown preset {preset!r}; choose one of '
                         f'{PRESETS}')
    if scene_detail not in SCENE_DETAILS:
        raise ValueError(f'unknown scene detail {scene_detail!r}; choose '
                         f'one of {SCENE_DETAILS}')
    sequences = [str(seq) for seq in sequences]
    sensors = sensor if isinstance(sensor, (list, tuple)) else \
        [sensor] * len(sequences)
    if len(sensors) != len(sequences):
        raise ValueError(f'{len(sensors)} sensors for {len(sequences)} '
                         'sequences')
    return [write_sequence(out_root, seq, num_scans, seed, preset,
                           kitti_poses_root, sensor=sen,
                           scene_detail=scene_detail)
            for seq, sen in zip(sequences, sensors)]


def make_synthetic_data(out_root: str, sequences: Sequence[str],
                        num_scans: int, seed: int = 0,
                        preset: Optional[str] = None,
                        sensors: Optional[Sequence] = None,
                        scan_rate: Optional[float] = None,
                        kitti_poses_root: Optional[str] = None,
                        scene_detail: str = 'plain',
                        horizontal_resolution: Optional[float] = None,
                        log: Callable[[str], None] = print) -> List[str]:
    """What ``tools/make_synthetic_data.py`` does: check every sensor, claim
    the output files, write the sequences and log a line for each.

    Args:
        out_root: Data root.
        sequences: Sequence names.
        num_scans: Scans a sequence.
        seed: Global seed.
        preset: ``'small'`` (default) or ``'full'``; excludes ``sensors``.
        sensors: Presets, profile files or profiles given to the sequences
            in turn, or ``['random']`` (see
            :func:`~.sensors.resolve_sensors`); None: the ``preset``.
        scan_rate: Replaces the sensors' scan rate [Hz].
        kitti_poses_root: Optional real KITTI trajectories to drive along.
        scene_detail: ``'plain'`` or ``'rich'``.
        horizontal_resolution: Replaces the sensors' azimuth step [deg]
            (coarse scans for smoke runs).
        log: Where the progress lines go.

    Returns:
        list: The sequence folders.

    Raises:
        ValueError: Bad options, an unknown preset, an invalid profile.
        FileNotFoundError: A profile file that does not exist.
        ForeignFilesError: ``out_root`` holds files of those names that
            this package did not write (nothing is replaced).
    """
    from ..utils.owned_files import claim_files
    from .sensors import resolve_sensors
    if sensors and preset:
        raise ValueError('a preset and sensors exclude each other')
    if (scan_rate is not None or horizontal_resolution is not None) and \
            not sensors:
        raise ValueError('a scan rate or horizontal resolution needs sensors')
    if scene_detail not in SCENE_DETAILS:
        raise ValueError(f'unknown scene detail {scene_detail!r}; choose '
                         f'one of {SCENE_DETAILS}')
    preset = preset or 'small'
    sequences = [str(s) for s in sequences]
    # every profile is checked before anything is written
    profiles = resolve_sensors(sensors, scan_rate, len(sequences), seed,
                               horizontal_resolution)
    names = ['poses.txt', 'calib.txt', 'times.txt'] + (
        ['sensor.json'] if sensors else [])
    claim_files(out_root, [
        f'sequences/{seq}/{name}' for seq in sequences
        for name in names + [
            f'{folder}/{i:06d}.{ext}' for i in range(num_scans)
            for folder, ext in (('velodyne', 'bin'), ('labels', 'label'))]
    ], hint='Write the synthetic data to another folder.')
    paths = []
    for seq, sensor in zip(sequences, profiles):
        start = time.perf_counter()
        paths.append(write_sequence(out_root, seq, num_scans, seed, preset,
                                    kitti_poses_root, sensor=sensor,
                                    scene_detail=scene_detail))
        took = time.perf_counter() - start
        what = preset if sensor is None else \
            f'{sensor.name}, {sensor.scan_rate:g} Hz'
        if scene_detail != 'plain':
            what += f', {scene_detail} scene'
        log(f'{paths[-1]}: {num_scans} scans ({what}) in {took:.1f} s, '
            f'{took / num_scans:.3f} s a scan')
    return paths

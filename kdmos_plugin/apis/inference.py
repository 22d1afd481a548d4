"""Run a trained MOS model on scans: a whole folder, or one scan at a time.

>>> model, pipeline = init_mos_model('configs/kdmos/student_bev.py', 'ckpt.pth')
>>> for path, labels in infer_sequence(model, pipeline, paths, poses):
...     write_labels(out_dir / Path(path).with_suffix('.label').name, labels)

>>> streamer = MOSStreamer(model, pipeline)
>>> labels = streamer.step(points, pose)       # (N,) train ids of this scan

Both run the model through a backend of :mod:`kdmos_plugin.deploy`
(``torch`` by default; ``onnxruntime`` / ``openvino`` on the exported file,
``precision='bf16'`` for the fast PyTorch graph).

Sensor settings (grid, bounds, number of past scans, motion mode) come from
the config's ``test_dataloader`` pipeline; ground-truth loading steps
(``LoadMOSLabels``, ``LoadTeacherLogits``) are dropped.

An empty scan (0 points, e.g. a dropped sensor frame) gets an empty
prediction and a logged warning naming it; it counts as a past scan with no
points for the scans after it. (The dataset pipeline of training and
evaluation refuses empty scans instead; see docs/MALFORMED_INPUT.md.)
"""
import copy
import logging
import os
import os.path as osp
from collections import deque
from typing import Deque, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from torch import nn

from mmdet3d.registry import MODELS
from ..datasets.bev_residuals import causal_residuals
from ..datasets.kitti_io import check_rigid_transform, relative_pose
from ..deploy.backends import BaseBackend, build_backend
from ..engine.setup_check import check_data_model
from ..models.segmentors import KDMOSStudent
from ..sources import Odometry, get_profile
from .checkpoint import load_matching_checkpoint

#: Pipeline steps that need ground truth; inference drops them.
GT_STEPS = ('LoadMOSLabels', 'LoadTeacherLogits')


def init_mos_model(config: Union[str, Config],
                   checkpoint: Optional[str] = None,
                   device: str = 'cpu') -> Tuple[nn.Module, Compose]:
    """Build the model and the inference pipeline of a config.

    Args:
        config (str | Config): A student or teacher config (a distiller
            config gives its student).
        checkpoint (str, optional): Weights (loaded with weights_only=True
            through the plugin's checkpoint loader).
        device (str): ``cpu`` or ``cuda[:i]``.

    Returns:
        tuple: the model in eval mode on ``device``, and the pipeline.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    model_cfg = copy.deepcopy(cfg.model)
    if model_cfg.get('type') == 'MOSDistiller':
        model_cfg = model_cfg['student']
    model = MODELS.build(model_cfg)
    check_data_model(cfg, model)
    if checkpoint is not None:
        load_matching_checkpoint(model, checkpoint)
    model.to(device).eval()
    return model, build_inference_pipeline(cfg)


def build_inference_pipeline(cfg: Config) -> Compose:
    """The config's test pipeline without its ground-truth steps."""
    steps = [
        copy.deepcopy(step) for step in cfg.test_dataloader.dataset.pipeline
        if step['type'] not in GT_STEPS
    ]
    return Compose(steps)


def _pipeline_step(pipeline: Compose, type_name: str):
    for step in pipeline.transforms:
        if type(step).__name__ == type_name:
            return step
    return None


@torch.inference_mode()
def predict_packed(model: nn.Module, packed: List[dict],
                   backend: Optional[BaseBackend] = None) -> List[np.ndarray]:
    """Predicted train ids of packed samples.

    Args:
        model: A :class:`BaseMOSSegmentor`.
        packed: Outputs of the pipeline (``PackMOSInputs``).
        backend: A :mod:`kdmos_plugin.deploy` backend; None runs ``model``.

    Returns:
        list[np.ndarray]: (N_b,) int64 train ids per sample, file order.
    """
    if backend is not None:
        return backend.predict_packed(packed)
    data = model.data_preprocessor(pseudo_collate(packed), False)
    samples = model.predict(data['inputs'], data['data_samples'])
    return [s.pred_pts_seg.pts_semantic_mask.cpu().numpy() for s in samples]


def _resolve_backend(model: nn.Module,
                     backend: Union[None, str, BaseBackend],
                     options: dict) -> BaseBackend:
    if isinstance(backend, BaseBackend):
        if options:
            raise ValueError(f'backend options {sorted(options)} given with '
                             f'a built backend')
        return backend
    return build_backend(backend or 'torch', model, **options)


def infer_sequence(model: nn.Module,
                   pipeline: Compose,
                   lidar_paths: Sequence[str],
                   lidar_poses: Optional[np.ndarray] = None,
                   sequence: str = '00',
                   backend: Optional[BaseBackend] = None
                   ) -> Iterator[Tuple[str, np.ndarray]]:
    """Predict every scan of one sequence.

    Args:
        model: A MOS segmentor in eval mode.
        pipeline: From :func:`init_mos_model`.
        lidar_paths: The ``.bin`` scans in time order.
        lidar_poses: (S, 4, 4) LiDAR poses in a common frame; ``None``
            means a sensor that does not move (identity poses).
        sequence: Name used in the data samples.
        backend: A :mod:`kdmos_plugin.deploy` backend (default: the model
            itself).

    Yields:
        tuple: (path, (N,) int64 train ids) for each scan, in order; an
        empty scan yields a (0,) prediction and logs a warning.
    """
    poses = _check_poses(lidar_poses, len(lidar_paths))
    # empty scans enter as in-memory (0, 4) scans: their neighbours still
    # load, and LoadMOSScans never reads (and refuses) the empty file
    empty = {t: np.zeros((0, 4), np.float32)
             for t, path in enumerate(lidar_paths) if _is_empty_file(path)}
    seq_info = dict(lidar_paths=list(lidar_paths), lidar_poses=poses,
                    sequence=sequence, scan_cache=empty)
    for t, path in enumerate(lidar_paths):
        if t in empty:
            _warn_empty(path)
            yield path, np.zeros(0, dtype=np.int64)
            continue
        results = dict(lidar_path=path, scan_index=t, seq_info=seq_info,
                       sequence=sequence, frame_id=t)
        yield path, predict_packed(model, [pipeline(results)], backend)[0]


def _is_empty_file(path: str) -> bool:
    """Whether ``path`` is an existing file of 0 bytes (a scan of 0
    points); a missing file is left to the reader's error."""
    return osp.isfile(path) and os.path.getsize(path) == 0


def _warn_empty(name: str) -> None:
    print_log(f'{name}: empty scan (0 points); its prediction is empty',
              logger='current', level=logging.WARNING)


def _check_poses(poses: Optional[np.ndarray], num: int) -> np.ndarray:
    if poses is None:
        return np.tile(np.eye(4), (num, 1, 1))
    poses = np.asarray(poses)
    if poses.shape != (num, 4, 4):
        raise ValueError(f'expected ({num}, 4, 4) poses for {num} scans, '
                         f'got {poses.shape}')
    return np.stack([check_rigid_transform(p, f'pose {i}')
                     for i, p in enumerate(poses)])


#: Steps of an inference pipeline the incremental streamer reproduces.
INCREMENTAL_STEPS = ('LoadMOSScans', 'MOSMotionFeatures', 'PolarVoxelize',
                     'PackMOSInputs')


class MOSStreamer:
    """Online moving-object segmentation, one scan at a time.

    Keeps the last ``K`` scans (``K`` = ``num_past`` of the pipeline's
    ``LoadMOSScans``) and their poses in a bounded buffer and runs the same
    pipeline and model as :func:`infer_sequence`, so it returns the same
    labels as the batch inference of the same scans. The motion features
    must be causal (``MOSMotionFeatures(mode='causal')``): the reference
    features look 7 scans ahead.

    With a sensor ``profile`` (:class:`~kdmos_plugin.sources.SensorProfile`
    or a preset name / file) the stream adapts to the sensor: the raw
    intensity is normalised (:meth:`SensorProfile.normalize_points`; NaN =
    none, filled), the points are lifted by
    :meth:`SensorProfile.height_offset` so that the road lies where the
    training sensor saw it (the poses are conjugated to match), and the
    past scans are taken every :meth:`SensorProfile.scan_stride` scans (every
    2nd at 20 Hz) so that they span the training window. With ``odometry``
    a scan given without a pose gets one from LiDAR odometry
    (:class:`~kdmos_plugin.sources.Odometry`, KISS-ICP), so a live stream
    needs no poses.

    Incremental path (``incremental=True``, the default for the BEV
    student and the standard inference pipeline ``LoadMOSScans ->
    MOSMotionFeatures(causal) -> PolarVoxelize -> PackMOSInputs``): each
    scan is checked and converted once, when it arrives
    (:meth:`prepare_scan`: its float64 coordinates are kept beside it), and
    only the new scan is voxelised (``PolarVoxelize``: its polar cells and
    point features). Per step, the window's past scans are moved into the
    new frame with the pipeline's own formula (``inv(P_t) @ P_j``, float64,
    rounded to float32) straight into the (3, M) table that the causal
    channels bin, with no merged ``multi_points`` array, no packing, no NaN
    check and no ground-truth voxel lists. That move and the binning of
    the past points stay per step: the height images are polar images
    around the *current* sensor, so a past point's cell and height change
    with every new pose, and images kept from an older frame (or re-used
    polar indices) would change the features; the labels would no longer
    equal the batch inference. ``incremental=False`` runs the whole
    pipeline.

    Args:
        model: A MOS segmentor in eval mode.
        pipeline: From :func:`init_mos_model`.
        profile: The sensor (None: the scans are fed as given, every scan a
            past scan: the training sensor).
        odometry: ``True`` (KISS-ICP with the profile's ranges), an
            :class:`~kdmos_plugin.sources.Odometry`, or None / False.
        backend: ``'torch'`` (default), ``'onnxruntime'``, ``'openvino'``
            or a built :mod:`kdmos_plugin.deploy` backend.
        incremental: Use the incremental path (None: for a BEV student
            with the standard pipeline).
        **backend_options: Passed to :func:`~kdmos_plugin.deploy.
            build_backend` (``precision``, ``onnx``, ``threads``, ...).
    """

    def __init__(self,
                 model: nn.Module,
                 pipeline: Compose,
                 profile=None,
                 odometry=None,
                 backend: Union[None, str, BaseBackend] = None,
                 incremental: Optional[bool] = None,
                 **backend_options) -> None:
        loader = _pipeline_step(pipeline, 'LoadMOSScans')
        if loader is None:
            raise ValueError('the pipeline has no LoadMOSScans step')
        if loader.num_future > 0:
            raise ValueError(
                'MOSStreamer needs causal features; the pipeline loads '
                f'{loader.num_future} future scans (reference motion mode)')
        motion = _pipeline_step(pipeline, 'MOSMotionFeatures')
        if motion is not None and motion.mode != 'causal':
            raise ValueError(f'MOSStreamer needs MOSMotionFeatures(mode='
                             f"'causal'), the pipeline has {motion.mode!r}")
        steps = [type(t).__name__ for t in pipeline.transforms]
        # the BEV student reads point features only; a teacher also needs
        # the merged past scans that the incremental path does not build
        supported = steps == list(INCREMENTAL_STEPS) and \
            loader.num_past > 0 and isinstance(model, KDMOSStudent)
        if incremental and not supported:
            raise ValueError(
                f'MOSStreamer(incremental=True) reproduces the pipeline '
                f'{list(INCREMENTAL_STEPS)} with past scans for the BEV '
                f'student; this one is {steps} for '
                f'{type(model).__name__}: use incremental=False')
        self.incremental = supported if incremental is None else incremental
        self.model = model
        self.pipeline = pipeline
        self.backend = _resolve_backend(model, backend, backend_options)
        self._voxelize = _pipeline_step(pipeline, 'PolarVoxelize')
        self._pack = _pipeline_step(pipeline, 'PackMOSInputs')
        self.num_past = loader.num_past
        self.profile = None if profile is None else get_profile(profile)
        self.stride = 1 if self.profile is None else \
            self.profile.scan_stride()
        self.height_offset = 0.0 if self.profile is None else \
            self.profile.height_offset()
        if odometry is True:
            odometry = Odometry.for_profile(self.profile or get_profile())
        self.odometry = odometry or None
        self.buffer: Deque[Tuple[np.ndarray, np.ndarray]] = deque(
            maxlen=self.num_past * self.stride + 1)
        self._xyz64: Deque[torch.Tensor] = deque(
            maxlen=self.num_past * self.stride + 1)
        self.count = 0

    def reset(self) -> None:
        """Forget the past scans (a new sequence starts)."""
        self.buffer.clear()
        self._xyz64.clear()
        self.count = 0
        if self.odometry is not None:
            self.odometry.reset()

    @staticmethod
    def prepare_scan(points: np.ndarray) -> torch.Tensor:
        """The once-per-scan state of the incremental path: the (N, 3)
        float64 coordinates [m] of a checked scan, in its own frame."""
        return torch.from_numpy(points[:, :3]).to(torch.float64)

    def step(self,
             points: np.ndarray,
             pose: Optional[np.ndarray] = None) -> np.ndarray:
        """Segment one scan.

        Args:
            points (np.ndarray): (N, 4) float32 x, y, z [m], intensity (as
                the sensor reports it when the streamer has a profile).
            pose (np.ndarray, optional): (4, 4) LiDAR pose in the frame of
                the previous poses; ``None`` = from the odometry, or the
                identity (static sensor) without one.

        Returns:
            np.ndarray: (N,) int64 train ids (0 unlabeled, 1 static,
            2 movable, 3 moving); (0,) with a logged warning for an empty
            scan, which still enters the buffer as a past scan.

        Raises:
            ValueError: Points not (N, 4), or holding NaN or inf; a pose
                that is not a rigid (4, 4) transform (NaN, singular,
                scaled, (3, 4), ...: see
                :func:`~kdmos_plugin.datasets.kitti_io.check_rigid_transform`).
                The scan is refused before it enters the buffer, so the
                next steps are not affected.
        """
        points = np.ascontiguousarray(points, dtype=np.float32)
        if points.ndim != 2 or points.shape[1] != 4:
            raise ValueError(f'scan {self.count}: expected (N, 4) points, '
                             f'got {points.shape}')
        if self.profile is not None:
            points = self.profile.normalize_points(points)
        if not np.isfinite(points).all():
            rows = np.flatnonzero(~np.isfinite(points).all(axis=1))
            raise ValueError(
                f'scan {self.count}: {len(rows)} of {len(points)} points hold '
                f'NaN or inf values (first at point {rows[0]})')
        if pose is None and self.odometry is not None:
            pose = self.odometry.register(points)
        pose = np.eye(4) if pose is None else check_rigid_transform(
            pose, f'scan {self.count}: its pose')
        if self.height_offset:
            points, pose = _lift(points, pose, self.height_offset)
        self.buffer.append((points, pose))
        self._xyz64.append(self.prepare_scan(points))
        # the current scan and every stride-th scan before it, oldest first
        window = list(self.buffer)[::-1][::self.stride][::-1]
        first = self.count - (len(window) - 1) * self.stride
        names = [f'stream/{first + i * self.stride:06d}'
                 for i in range(len(window))]
        seq_info = dict(
            lidar_paths=names,
            lidar_poses=np.stack([p for _, p in window]),
            sequence='stream',
            scan_cache={i: pts for i, (pts, _) in enumerate(window)})
        t = len(window) - 1
        results = dict(lidar_path=names[t], scan_index=t, seq_info=seq_info,
                       sequence='stream', frame_id=self.count)
        self.count += 1
        if len(points) == 0:
            _warn_empty(f'{names[t]} (scan {self.count - 1} of the stream)')
            return np.zeros(0, dtype=np.int64)
        if self.incremental:
            xyz64 = list(self._xyz64)[::-1][::self.stride][::-1]
            packed = self._incremental_packed(window, xyz64, names[t],
                                              self.count - 1)
        else:
            packed = self.pipeline(results)
        return predict_packed(self.model, [packed], self.backend)[0]

    def _incremental_packed(self, window: List[Tuple[np.ndarray,
                                                     np.ndarray]],
                            xyz64: List[torch.Tensor], name: str,
                            frame_id: int) -> dict:
        """The packed inputs of the newest scan of ``window`` (see the
        class docstring): what ``LoadMOSScans -> MOSMotionFeatures(causal)
        -> PolarVoxelize -> PackMOSInputs`` make of it, without
        ``multi_points``.

        Args:
            window: (points, pose) of the window's scans, oldest first.
            xyz64: Their (N_j, 3) float64 coordinates (own frames).
            name: The scan's name (messages).
            frame_id: Its number in the stream.
        """
        t = len(window) - 1
        points, cur_pose = window[t]
        # the window's coordinates go straight into one (3, M) float32
        # table (the layout image_cells bins), rows of age 0, 1, ..., 7:
        # each past scan is moved with the pipeline's float64 formula and
        # rounded once, with no merged copy and no transposition after
        past = [max(t - k, 0) for k in range(1, self.num_past + 1)]
        sizes = [len(points)] + [len(xyz64[j]) for j in past]
        cols = torch.empty((3, sum(sizes)), dtype=torch.float32)
        cols[:, :sizes[0]].copy_(torch.from_numpy(points[:, :3]).T)
        start = sizes[0]
        for j, size in zip(past, sizes[1:]):
            T = torch.from_numpy(relative_pose(cur_pose, window[j][1]))
            moved = torch.addmm(T[:3, 3], xyz64[j], T[:3, :3].T)
            cols[:, start:start + size].copy_(moved.T)
            start += size
        ages = torch.repeat_interleave(torch.arange(len(sizes)),
                                       torch.tensor(sizes))
        motion = causal_residuals(cols.T, ages, len(points),
                                  check_ages=False).numpy()
        results = dict(points=points, motion_feats=motion, lidar_path=name,
                       sequence='stream', frame_id=frame_id)
        return self._pack(self._voxelize(results))


def _lift(points: np.ndarray, pose: np.ndarray,
          dz: float) -> Tuple[np.ndarray, np.ndarray]:
    """Points moved up by ``dz`` [m] in their own frame, and the pose of
    that moved frame (``pose @ inv(S)`` with ``S`` the shift), so that
    relative poses between lifted scans stay exact."""
    lifted = points.copy()
    lifted[:, 2] += np.float32(dz)
    shift_inv = np.eye(4)
    shift_inv[2, 3] = -dz
    return lifted, pose @ shift_inv

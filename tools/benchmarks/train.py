"""Training throughput and scan I/O on real-size scans (CPU).

``run(args) -> dict`` measures in one run, on the real SemanticKITTI scans
(about 122k points) and the reference grid 480x360x32, batch 1:

* ``read_ms`` beside ``read_anchor_ms``: ``kitti_io.read_points`` (checks
  size and finiteness) against a bare ``np.fromfile``; ratio
  ``read_over_anchor``.
* ``student_step_s``: one training iteration of the student (forward with
  CE + Lovasz on the occupied voxels, backward, SGD step), and
  ``student_iters_per_s``; anchor: ``student_forward_s``, the eval forward
  of the same scan (``step_over_forward``).
* ``kd_step_s``: the same iteration of ``MOSDistiller`` with offline teacher
  logits (random, (N, 4)), i.e. plus the decoupled distillation loss;
  ``kd_over_student_step`` is the cost of distillation per iteration.

Medians of ``repeats`` iterations after one warm-up, interleaved.
"""
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_SAMPLE, GRID, REPO  # noqa: E402


def _sample(path: Path):
    """Packed inputs and a data sample of one real scan (zero motion)."""
    from mmdet3d.structures import Det3DDataSample, PointData
    from kdmos_plugin.datasets.kitti_io import read_labels, read_points
    from kdmos_plugin.datasets.label_map import MOS_4CLASS, build_lut, \
        map_labels
    from kdmos_plugin.datasets.polar_grid import PolarGrid
    points = read_points(str(path))
    raw = read_labels(str(path.parent.parent / 'labels' /
                          f'{path.stem}.label'), len(points))
    labels = map_labels(raw, build_lut(MOS_4CLASS), path=str(path))
    grid = PolarGrid(GRID)
    pts = torch.from_numpy(points)
    feats, ind = grid.point_features(pts)
    inputs = dict(points=[pts],
                  point_feats=[torch.cat([feats, torch.zeros(len(pts), 8)],
                                         1)],
                  grid_ind=[ind])
    coors, vox_labels = grid.occupied_voxels(ind.numpy(), labels, 4)
    sample = Det3DDataSample(metainfo=dict(lidar_path=str(path)))
    sample.gt_pts_seg = PointData(
        pts_semantic_mask=torch.from_numpy(labels).long(),
        teacher_logits=torch.randn(len(pts), 4))
    sample.gt_voxel_seg = PointData(
        coors=torch.as_tensor(coors).long(),
        semantic_mask=torch.as_tensor(vox_labels).long())
    return inputs, [sample]


def _build(kind: str):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import kdmos_plugin  # noqa: F401
    from mmdet3d.registry import MODELS
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(REPO / 'configs/_base_/models/'
                              'kdmos_student.py'))
    model_cfg = cfg.model
    if kind == 'kd':
        model_cfg = dict(type='MOSDistiller', student=cfg.model, teacher=None,
                         distill_loss=dict(type='DecoupledMOSDistillLoss'))
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    optim = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return model, optim


def _step(model, optim, inputs, samples) -> float:
    start = time.perf_counter()
    losses = model.loss(inputs, samples)
    loss = sum(v for k, v in losses.items() if k.startswith('loss'))
    optim.zero_grad()
    loss.backward()
    optim.step()
    return time.perf_counter() - start


def run(args) -> dict:
    """See the module docstring."""
    from kdmos_plugin.datasets.kitti_io import read_points
    repeats = int(getattr(args, 'repeats', None) or 5)
    torch.set_num_threads(int(getattr(args, 'num_threads', None) or 2))
    root = Path(getattr(args, 'sample_root', None) or DEFAULT_SAMPLE)
    path = sorted((root / 'velodyne').glob('*.bin'))[0]
    reads, anchors = [], []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        read_points(str(path))
        t1 = time.perf_counter()
        np.fromfile(str(path), dtype=np.float32).reshape(-1, 4)
        t2 = time.perf_counter()
        reads.append(t1 - t0)
        anchors.append(t2 - t1)
    inputs, samples = _sample(path)
    student, s_opt = _build('student')
    kd, k_opt = _build('kd')
    student.train()
    kd.train()
    fwd, s_steps, k_steps = [], [], []
    for i in range(repeats + 1):
        s_steps.append(_step(student, s_opt, inputs, samples))
        k_steps.append(_step(kd, k_opt, inputs, samples))
        student.eval()
        with torch.inference_mode():
            t0 = time.perf_counter()
            student.predict(inputs, [s.clone() for s in samples])
            fwd.append(time.perf_counter() - t0)
        student.train()
    med = lambda xs: statistics.median(xs[1:])  # noqa: E731
    out = dict(
        num_points=int(len(inputs['points'][0])),
        read_ms=1e3 * med(reads), read_anchor_ms=1e3 * med(anchors),
        student_forward_s=med(fwd), student_step_s=med(s_steps),
        kd_step_s=med(k_steps))
    out['read_over_anchor'] = out['read_ms'] / out['read_anchor_ms']
    out['student_iters_per_s'] = 1.0 / out['student_step_s']
    out['step_over_forward'] = out['student_step_s'] / \
        out['student_forward_s']
    out['kd_over_student_step'] = out['kd_step_s'] / out['student_step_s']
    return out

"""Benchmark of the KDMOS BEV student on real SemanticKITTI scans (CPU).

``run(args) -> dict`` measures, in one run and on the same scans, grid
(480x360x32) and weights:

* ``student_s``: the student forward, points in, labels out: packed inputs
  (``point_feats`` (N, 17) with zero motion channels, ``grid_ind``) ->
  :meth:`KDMOSStudent.forward_feats` -> per-point logits -> argmax.
* ``floor_s``: the same convolutions alone (``backbone`` on
  precomputed appearance and motion BEV tensors, i.e. every 3x3
  convolution, gate and up-sampler the student runs; the student applies
  the 1x1 head only at the read pillars): the lower bound of any
  implementation of this network.
* ``literal_s``: a literal re-implementation of the published forward
  (``torch.unique(dim=0)`` over (b, i_rho, i_phi) index rows, the point MLP
  with separate BatchNorm layers, per-pillar max via
  ``torch_scatter.scatter_max`` when importable, else
  ``Tensor.scatter_reduce_``, dense ``(B, R, P, 32)`` scatter, convolutions
  with separate circular-pad copies and BatchNorm, the dense
  ``(B, 4, 480, 360, 32)`` voxel logits, then the per-point gather).
* ``features_s``: the pipeline's per-point feature building
  (:meth:`PolarGrid.point_features`), reported beside, not in ``student_s``.
* ``*_peak_mb``: peak memory of one forward in a fresh Python process,
  after the model and the inputs are loaded (for ``floor`` the BEV maps are
  computed before), measured as every topic does
  (:func:`common.peak_rss_mb`: warm-up, heap trimmed, peak mark reset,
  increase of the peak RSS).

``*_cpu_s`` are the process CPU times (all threads) of the same runs: on a
shared machine they are less disturbed by other processes than wall time
(``load_average_1min`` tells how busy the machine was).

Every ``*_s`` timing (and every ratio) is the best of ``repeats`` runs after
one warm-up (``*_median_s`` beside it): with 2 threads on a shared 2-core
machine a single descheduled thread stalls every OpenMP barrier, so
medians there mostly measure the neighbours. Runs are in
``torch.inference_mode()`` with ``torch.set_num_threads(num_threads)``
(default 2), variants interleaved so that machine load hits all alike.
Targets: ``student_over_floor <= 1.5`` and ``literal_over_student >= 2``.
"""
import copy
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_SAMPLE, GRID, REPO, peak_rss_mb,  # noqa: E402
                    run_memory_child, topic_main)

MODEL_CFG = REPO / 'configs' / '_base_' / 'models' / 'kdmos_student.py'
VARIANTS = ('student', 'floor', 'literal')


def build_model(reduce_backend: str = 'torch'):
    """The reference student (4 classes, DySample, 480x360x32), eval mode."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import kdmos_plugin  # noqa: F401
    from mmdet3d.registry import MODELS
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(MODEL_CFG))
    cfg.model.voxel_encoder.reduce_backend = reduce_backend
    return MODELS.build(cfg.model).eval()


def load_scans(sample_root: Path, num_scans: int) -> List[dict]:
    """Packed single-scan inputs of the first ``num_scans`` sample scans."""
    from kdmos_plugin.datasets.kitti_io import read_points
    from kdmos_plugin.datasets.polar_grid import PolarGrid
    grid = PolarGrid(GRID)
    files = sorted((sample_root / 'velodyne').glob('*.bin'))[:num_scans]
    if not files:
        raise FileNotFoundError(f'{sample_root}/velodyne: no .bin scans')
    scans = []
    for path in files:
        points = torch.from_numpy(read_points(str(path)))
        feats, ind = grid.point_features(points)
        motion = torch.zeros(len(points), 8)
        scans.append(dict(points=[points],
                          point_feats=[torch.cat([feats, motion], 1)],
                          grid_ind=[ind]))
    return scans


def literal_model(model):
    """A copy of ``model`` whose convolutions run as published (circular pad
    copy, conv, separate BatchNorm, LeakyReLU; no folding)."""
    from kdmos_plugin.models.layers import CircularConvBNAct
    literal = copy.deepcopy(model)
    for module in literal.modules():
        if isinstance(module, CircularConvBNAct):
            module.fuse_eval = False
    return literal


def literal_forward(model, batch_inputs: dict) -> torch.Tensor:
    """The published ptBEVnet forward, step by step, with our weights
    (pass :func:`literal_model` for the published unfused convolutions).

    Returns (sum_b N_b,) int64 labels.
    """
    enc, backbone = model.voxel_encoder, model.backbone
    r, p, z = model.grid_size
    c = model.num_classes
    rows = [torch.nn.functional.pad(g, (1, 0), value=i)
            for i, g in enumerate(batch_inputs['grid_ind'])]
    cat_ind = torch.cat(rows)
    cat_fea = torch.cat(batch_inputs['point_feats'])
    unq, inv = torch.unique(cat_ind[:, :3], return_inverse=True, dim=0)
    fea = enc.mlp(cat_fea[:, :enc.in_channels])
    res = cat_fea[:, enc.in_channels:]
    try:
        import torch_scatter
        pooled = torch_scatter.scatter_max(fea, inv, dim=0)[0]
        pooled_res = torch_scatter.scatter_max(res, inv, dim=0)[0]
    except ImportError:
        def smax(src):
            out = src.new_zeros(len(unq), src.shape[1])
            idx = inv[:, None].expand(-1, src.shape[1])
            return out.scatter_reduce_(0, idx, src, 'amax',
                                       include_self=False)
        pooled, pooled_res = smax(fea), smax(res)
    pooled = enc.compression(pooled)
    b = len(batch_inputs['grid_ind'])
    out = torch.zeros(b, r, p, pooled.shape[1])
    out[unq[:, 0], unq[:, 1], unq[:, 2], :] = pooled
    out = out.permute(0, 3, 1, 2)
    res_out = torch.zeros(b, r, p, res.shape[1])
    res_out[unq[:, 0], unq[:, 1], unq[:, 2], :] = pooled_res
    res_out = res_out.permute(0, 3, 1, 2)
    logits = model.decode_head.conv_seg(backbone(out, res_out))
    voxel = logits.permute(0, 2, 3, 1)
    # the published (B, C, R, P, Z) voxel logits (a view, as published)
    voxel = voxel.view(b, r, p, z, c).permute(0, 4, 1, 2, 3)
    pt = voxel[cat_ind[:, 0], :, cat_ind[:, 1], cat_ind[:, 2], cat_ind[:, 3]]
    return pt.argmax(1)


def student_forward(model, batch_inputs: dict) -> torch.Tensor:
    """Our forward: (sum_b N_b,) int64 labels."""
    feats = model.forward_feats(batch_inputs)
    return model.point_logits(feats, batch_inputs).argmax(1)


def bev_inputs(model, batch_inputs: dict):
    """Appearance and motion BEV maps of a batch (for the floor)."""
    grid = torch.cat(batch_inputs['grid_ind'])
    sizes = [len(g) for g in batch_inputs['grid_ind']]
    batch_idx = torch.repeat_interleave(torch.arange(len(sizes)),
                                        torch.tensor(sizes))
    return model.voxel_encoder(torch.cat(batch_inputs['point_feats']), grid,
                               batch_idx, len(sizes))


def _runner(variant: str, model, scan: dict,
            literal=None) -> Callable[[], object]:
    if variant == 'student':
        return lambda: student_forward(model, scan)
    if variant == 'literal':
        literal = literal if literal is not None else literal_model(model)
        return lambda: literal_forward(literal, scan)
    if variant == 'floor':
        app, mot = bev_inputs(model, scan)
        return lambda: model.backbone(app, mot)
    raise ValueError(f'unknown variant {variant!r}')


def peak_memory_child(variant: str, sample_root: Path,
                      num_threads: int) -> float:
    """In this (fresh) process: MB the forward adds to the peak RSS."""
    torch.set_num_threads(num_threads)
    model = build_model()
    scan = load_scans(sample_root, 1)[0]
    with torch.inference_mode():
        return peak_rss_mb(_runner(variant, model, scan))


def peak_memory(variant: str, sample_root: Path, num_threads: int) -> float:
    """Run :func:`peak_memory_child` in a fresh interpreter."""
    return run_memory_child(__file__, variant, sample_root, num_threads)


def run(args) -> Dict[str, float]:
    """Measure the student side by side with its floor and the literal
    published forward. ``args`` may carry ``repeats`` (5),
    ``num_threads`` (2), ``num_scans`` (2), ``sample_root`` and
    ``skip_memory`` (False)."""
    repeats = int(getattr(args, 'repeats', None) or 5)
    threads = int(getattr(args, 'num_threads', None) or 2)
    num_scans = int(getattr(args, 'num_scans', None) or 2)
    sample_root = Path(getattr(args, 'sample_root', None) or DEFAULT_SAMPLE)
    torch.set_num_threads(threads)
    model = build_model()
    scans = load_scans(sample_root, num_scans)
    from kdmos_plugin.datasets.polar_grid import PolarGrid
    grid = PolarGrid(GRID)
    times: Dict[str, List[float]] = {v: [] for v in VARIANTS}
    cpu: Dict[str, List[float]] = {v: [] for v in VARIANTS}
    times['features'] = []
    literal = literal_model(model)
    with torch.inference_mode():
        # the two implementations agree (BN folding changes rounding only)
        agree = float(np.mean([
            (student_forward(model, s) == literal_forward(literal, s))
            .double().mean().item() for s in scans]))
        runners = {v: [_runner(v, model, s, literal) for s in scans]
                   for v in VARIANTS}
        for v in VARIANTS:  # warm-up
            runners[v][0]()
        for _ in range(repeats):
            for i, scan in enumerate(scans):
                for v in VARIANTS:
                    c0, t0 = time.process_time(), time.perf_counter()
                    runners[v][i]()
                    times[v].append(time.perf_counter() - t0)
                    cpu[v].append(time.process_time() - c0)
                t0 = time.perf_counter()
                grid.point_features(scan['points'][0])
                times['features'].append(time.perf_counter() - t0)
    med = {k: min(v) for k, v in times.items()}
    med_cpu = {k: min(v) for k, v in cpu.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    result = {
        'student_params': float(sum(p.numel() for p in model.parameters())),
        'num_points': float(np.mean([len(s['points'][0]) for s in scans])),
        'student_s': med['student'],
        'floor_s': med['floor'],
        'literal_s': med['literal'],
        'features_s': med['features'],
        'student_over_floor': med['student'] / med['floor'],
        'literal_over_student': med['literal'] / med['student'],
        'student_median_s': median['student'],
        'floor_median_s': median['floor'],
        'literal_median_s': median['literal'],
        'student_cpu_s': med_cpu['student'],
        'floor_cpu_s': med_cpu['floor'],
        'literal_cpu_s': med_cpu['literal'],
        'student_over_floor_cpu': med_cpu['student'] / med_cpu['floor'],
        'literal_over_student_cpu': med_cpu['literal'] / med_cpu['student'],
        'load_average_1min': os.getloadavg()[0],
        'label_agreement_with_literal': agree,
        'torch_scatter_in_literal': float(_has_torch_scatter()),
        'num_threads': float(threads),
    }
    if not getattr(args, 'skip_memory', False):
        for v in VARIANTS:
            result[f'{v}_peak_mb'] = peak_memory(v, sample_root, threads)
    return result


def _has_torch_scatter() -> bool:
    try:
        import torch_scatter  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None) -> None:
    topic_main(argv, __doc__, run, repeats=5, num_threads=2,
               memory_child=peak_memory_child, variants=VARIANTS,
               extra_args={'--num-scans': dict(type=int, default=2)})


if __name__ == '__main__':
    main()

"""Measurements and the Markdown/JSON report of the demo (``make demo``)."""
import json
import statistics
import time
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np
import torch

from ..datasets.kitti_io import (camera_to_lidar_poses, read_calib,
                                 read_labels, read_points, read_poses)
from ..datasets.label_map import MOS_4CLASS, build_lut, map_labels
from ..visualization import (BEVGrid, render_bev, render_errors, save_png,
                             side_by_side)
from .inference import init_mos_model, predict_packed


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def _val_sequence(demo) -> tuple:
    seq_dir = demo.data_root / 'sequences' / demo.val_sequence
    paths = sorted(str(p) for p in (seq_dir / 'velodyne').glob('*.bin'))
    poses = camera_to_lidar_poses(read_poses(seq_dir / 'poses.txt'),
                                  read_calib(seq_dir / 'calib.txt')['Tr'])
    return seq_dir, paths, poses[:len(paths)]


def time_model(config: str, checkpoint: str, paths: List[str],
               poses: np.ndarray, frames: Sequence[int]) -> dict:
    """Per-scan latency on held-out scans, split into data and model.

    ``data`` is the pipeline (I/O, multi-scan alignment, motion features,
    voxelisation); ``model`` is the forward from packed inputs to per-point
    labels. Medians over ``frames`` after one warm-up, 2 threads.

    Returns:
        dict: ``params``, ``data_ms``, ``model_ms``, ``total_ms`` and the
        per-frame predictions ``preds`` ({frame: (N,) int64}).
    """
    from .demo import REPO
    model, pipeline = init_mos_model(str(REPO / config), checkpoint)
    seq_info = dict(lidar_paths=paths, lidar_poses=poses, sequence='val')
    data_t, model_t, preds = [], [], {}
    for k, t in enumerate([frames[0]] + list(frames)):
        results = dict(lidar_path=paths[t], scan_index=t, seq_info=seq_info,
                       sequence='val', frame_id=t)
        t0 = time.perf_counter()
        packed = pipeline(results)
        t1 = time.perf_counter()
        preds[t] = predict_packed(model, [packed])[0]
        t2 = time.perf_counter()
        if k:  # the first one is the warm-up
            data_t.append(t1 - t0)
            model_t.append(t2 - t1)
    data_ms = 1e3 * statistics.median(data_t)
    model_ms = 1e3 * statistics.median(model_t)
    return dict(params=count_parameters(model), data_ms=data_ms,
                model_ms=model_ms, total_ms=data_ms + model_ms, preds=preds)


def make_picture(demo, seq_dir: Path, path: str, frame: int,
                 preds: Dict[str, np.ndarray], out: Path) -> str:
    """Ground truth beside each model's prediction, and the moving errors
    of each model below."""
    points = read_points(path)
    raw = read_labels(seq_dir / 'labels' / f'{Path(path).stem}.label',
                      len(points))
    gt = map_labels(raw, build_lut(MOS_4CLASS), path=path)
    names = list(preds)
    grid = BEVGrid((-35.0, 35.0), (-35.0, 35.0), 0.15)
    top = side_by_side([render_bev(points, gt, grid)] +
                       [render_bev(points, preds[n], grid) for n in names],
                       titles=['ground truth'] + names)
    bottom = side_by_side([render_bev(points, None, grid)] +
                          [render_errors(points, gt, preds[n], grid)
                           for n in names],
                          titles=['scan'] + [f'{n}: errors' for n in names])
    gap = np.full((4, top.shape[1], 3), 255, np.uint8)
    return save_png(str(out), np.concatenate([top, gap, bottom], axis=0))


def _summary(values: List[float]) -> str:
    if len(values) == 1:
        return f'{100 * values[0]:.1f}'
    return (f'{100 * statistics.mean(values):.1f} '
            f'(± {100 * statistics.stdev(values):.1f})')


def write_report(demo, total_s: float) -> dict:
    """Measure latency and parameters, draw the pictures and write
    ``report.md`` and ``report.json`` into the demo's work dir."""
    from .demo import METRIC_KEYS, STUDENT_CFG, TEACHER_CFG
    seq_dir, paths, poses = _val_sequence(demo)
    frames = list(range(min(len(paths), 8), min(len(paths), 13)))
    mid = frames[len(frames) // 2]
    torch.set_num_threads(2)
    seed0 = demo.seeds[0]
    models = {
        'teacher': (TEACHER_CFG, demo.checkpoints['teacher']),
        'student': (STUDENT_CFG, demo.checkpoints[f'student_seed{seed0}']),
        'distilled': (STUDENT_CFG,
                      demo.checkpoints[f'distilled_seed{seed0}']),
    }
    timing = {name: time_model(cfg, ckpt, paths, poses, frames)
              for name, (cfg, ckpt) in models.items()}
    picture = make_picture(demo, seq_dir, paths[mid], mid,
                           {n: t['preds'][mid] for n, t in timing.items()},
                           demo.work_dir / 'bev_val.png')

    def iou(name):
        return float(demo.metrics[name]['mos/IoU_moving'])

    per_seed = {
        kind: [iou(f'{kind}_seed{s}') for s in demo.seeds]
        for kind in ('student', 'distilled')
    }
    deltas = [d - s for s, d in zip(per_seed['student'],
                                    per_seed['distilled'])]
    helped = sum(d > 0 for d in deltas)
    report = dict(
        seeds=demo.seeds,
        data=dict(train_sequences=demo.train_sequences,
                  val_sequence=demo.val_sequence,
                  train_scans_per_sequence=demo.num_train_scans,
                  val_scans=demo.num_val_scans, preset=demo.preset),
        metrics=demo.metrics,
        moving_iou=dict(teacher=iou('teacher'), **per_seed),
        distillation_delta=deltas,
        latency_ms={n: {k: v for k, v in t.items() if k != 'preds'}
                    for n, t in timing.items()},
        times_s=demo.times, total_s=total_s,
        checkpoints=demo.checkpoints, picture=str(picture))
    (demo.work_dir / 'report.json').write_text(json.dumps(report, indent=1))

    def row(label, names, timing_key):
        cells = [_summary([float(demo.metrics[n][k]) for n in names])
                 for k in METRIC_KEYS]
        t = timing[timing_key]
        train = statistics.mean(demo.times[f'train_{n}_s'] for n in names)
        return (f'| {label} | {" | ".join(cells)} | {t["params"]:,} | '
                f'{t["model_ms"]:.0f} | {t["data_ms"]:.0f} | '
                f'{train / 60:.1f} |')

    seeds = demo.seeds
    verdict = (
        f'Distillation changed the moving IoU by '
        f'{100 * statistics.mean(deltas):+.1f} points on average over '
        f'{len(seeds)} seed(s) ({", ".join(f"{100 * d:+.1f}" for d in deltas)}'
        f'); it helped in {helped} of {len(seeds)}.')
    lines = [
        '# KDMOS demo on synthetic SemanticKITTI-layout data', '',
        f'Training sequences {", ".join(demo.train_sequences)} '
        f'({demo.num_train_scans} scans each), held-out sequence '
        f'{demo.val_sequence} ({demo.num_val_scans} scans), `{demo.preset}` '
        f'LiDAR preset. IoU in % on the held-out sequence with the official '
        f'SemanticKITTI-MOS protocol (last checkpoint of each training; '
        f'mean (± std) over seeds {seeds} for the students). Latency per '
        f'scan on this machine (2 threads, median of {len(frames)} scans): '
        f'model = packed inputs to labels, data = loading, alignment, motion '
        f'features and voxelisation.', '',
        '| model | moving IoU | static IoU | movable IoU | params | '
        'model ms | data ms | train min |',
        '|---|---|---|---|---|---|---|---|',
        row('teacher (sparse 4-D)', ['teacher'], 'teacher'),
        row('student (BEV, no KD)', [f'student_seed{s}' for s in seeds],
            'student'),
        row('student + KD', [f'distilled_seed{s}' for s in seeds],
            'distilled'), '',
        verdict, '',
        f'Teacher/student latency on these small synthetic scans and the '
        f'demo grids: '
        f'{timing["teacher"]["model_ms"] / timing["student"]["model_ms"]:.1f}'
        f'x (model only); at the real size (122k points a scan, 7 past '
        f'scans, 480x360x32) see BENCHMARKS.md. Whole demo: '
        f'{total_s / 60:.1f} min.', '',
        f'![BEV of held-out frame {mid}](bev_val.png)', '',
        'Top: ground truth and predictions (grey static, blue movable, red '
        'moving). Bottom: moving-class errors (see the visualization '
        'module for the colours).', ''
    ]
    (demo.work_dir / 'report.md').write_text('\n'.join(lines))
    return report

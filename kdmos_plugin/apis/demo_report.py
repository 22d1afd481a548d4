"""Measurements and the Markdown/JSON report of the demo (``make demo``).

:func:`write_report` reads what a finished :class:`~.demo.Demo` holds
(metrics, checkpoints, times, its settings and ``configs``); it does not
import the demo module.
"""
import json
import statistics
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from ..datasets.kitti_io import (camera_to_lidar_poses, read_calib,
                                 read_labels, read_points, read_poses)
from ..datasets.label_map import MOS_4CLASS, build_lut, map_labels
from ..visualization import (BEVGrid, render_bev, render_errors, save_png,
                             side_by_side)
from ..deploy import build_backend
from ..utils.atomic_files import write_text_atomic
from ..utils.native_kernels import has_native_kernels
from .demo_stats import paired_gain, summary
from .inference import init_mos_model, predict_packed

METRIC_KEYS = ('mos/IoU_moving', 'mos/IoU_static', 'mos/IoU_movable')
#: The issue's targets (moving IoU in points, latency ratio, seeds).
TARGETS = dict(teacher_margin=5.0, latency_ratio=3.0, student_std=2.0,
               gain=2.0, helped_fraction=0.8)


def count_parameters(model: torch.nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def timing_frames(num_scans: int, count: int = 5, first: int = 8) -> list:
    """The held-out frames the report times: ``count`` consecutive frames
    from ``first`` (past scans available), moved earlier in a short
    sequence; never empty for ``num_scans >= 1``."""
    start = max(0, min(first, num_scans - count))
    return list(range(start, min(num_scans, start + count)))


def _val_sequence(demo) -> tuple:
    """Folder, scan paths and LiDAR poses of the first held-out
    sequence (the one the report times and draws)."""
    seq_dir = demo.data_root / 'sequences' / demo.val_sequences[0]
    paths = sorted(str(p) for p in (seq_dir / 'velodyne').glob('*.bin'))
    poses = camera_to_lidar_poses(read_poses(seq_dir / 'poses.txt'),
                                  read_calib(seq_dir / 'calib.txt')['Tr'])
    return seq_dir, paths, poses[:len(paths)]


def time_model(config: str, checkpoint: str, paths: List[str],
               poses: np.ndarray, frames: Sequence[int],
               backend: Optional[dict] = None) -> dict:
    """Per-scan latency on held-out scans, split into data and model.

    ``data`` is the pipeline (I/O, multi-scan alignment, motion features,
    voxelisation); ``model`` is the forward from packed inputs to per-point
    labels. Medians over ``frames`` after one warm-up, 2 threads.

    Args:
        backend (dict, optional): ``name`` and options of a
            :func:`~kdmos_plugin.deploy.build_backend` to run the model
            through (e.g. ``dict(name='torch', precision='bf16')``, the
            student as deployed); None: the model's own fp32 forward.

    Returns:
        dict: ``params``, ``data_ms``, ``model_ms``, ``total_ms`` and the
        per-frame predictions ``preds`` ({frame: (N,) int64}).
    """
    model, pipeline = init_mos_model(config, checkpoint)
    runner = None if backend is None else build_backend(model=model,
                                                        **backend)
    seq_info = dict(lidar_paths=paths, lidar_poses=poses, sequence='val')
    data_t, model_t, preds = [], [], {}
    for k, t in enumerate([frames[0]] + list(frames)):
        results = dict(lidar_path=paths[t], scan_index=t, seq_info=seq_info,
                       sequence='val', frame_id=t)
        t0 = time.perf_counter()
        packed = pipeline(results)
        t1 = time.perf_counter()
        preds[t] = predict_packed(model, [packed], runner)[0]
        t2 = time.perf_counter()
        if k:  # the first one is the warm-up
            data_t.append(t1 - t0)
            model_t.append(t2 - t1)
    data_ms = 1e3 * statistics.median(data_t)
    model_ms = 1e3 * statistics.median(model_t)
    return dict(params=count_parameters(model), data_ms=data_ms,
                model_ms=model_ms, total_ms=data_ms + model_ms, preds=preds)


def make_picture(seq_dir: Path, path: str, preds: Dict[str, np.ndarray],
                 out: Path) -> str:
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


def _cell(values: List[float]) -> str:
    """``mean (± std)`` in % of values in [0, 1]; one value: itself."""
    s = summary(values)
    if s['n'] == 1:
        return f'{100 * s["mean"]:.1f}'
    return f'{100 * s["mean"]:.1f} (± {100 * s["std"]:.1f})'


def gain_sentence(gain: dict, seeds: Sequence[int]) -> str:
    """One sentence on a :func:`paired_gain` of values in [0, 1]."""
    if gain['ci'] is None:
        interval = 'no interval from one seed'
    else:
        lo, hi = (100 * v for v in gain['ci'])
        interval = f'95% t-interval {lo:+.1f} to {hi:+.1f}'
    per_seed = ', '.join(f'seed {s}: {100 * d:+.1f}'
                         for s, d in zip(seeds, gain['deltas']))
    return (f'Distillation changed the moving IoU by '
            f'**{100 * gain["mean"]:+.1f} points** on average over '
            f'{gain["n"]} paired seed(s) ({interval}); it helped in '
            f'**{gain["helped"]} of {gain["n"]}** ({per_seed}).')


def _verdict(ok: bool) -> str:
    return 'met' if ok else '**missed**'


def target_lines(teacher: float, plain: List[float], gain: dict,
                 latency_ratio: float) -> List[str]:
    """The issue's targets, each with its measured value and met/missed."""
    margin = 100 * (teacher - summary(plain)['mean'])
    std = 100 * summary(plain)['std']
    gain_ok = (100 * gain['mean'] >= TARGETS['gain'] and
               gain['ci'] is not None and gain['ci'][0] > 0 and
               gain['helped'] >= TARGETS['helped_fraction'] * gain['n'])
    return [
        f'- teacher above the plain student: {margin:+.1f} points (target '
        f'>= {TARGETS["teacher_margin"]:.0f}): '
        f'{_verdict(margin >= TARGETS["teacher_margin"])}',
        f'- teacher/student time per scan: {latency_ratio:.1f}x (target '
        f'>= {TARGETS["latency_ratio"]:.0f}x): '
        f'{_verdict(latency_ratio >= TARGETS["latency_ratio"])}',
        f'- seed-to-seed std of the plain student: {std:.1f} points '
        f'(target <= {TARGETS["student_std"]:.0f}, {len(plain)} seeds): '
        f'{_verdict(len(plain) > 1 and std <= TARGETS["student_std"])}',
        f'- distillation gain: {100 * gain["mean"]:+.1f} points, interval '
        f'{"above zero" if gain["ci"] and gain["ci"][0] > 0 else "not above zero"}'
        f', helped in {gain["helped"]} of {gain["n"]} (target >= '
        f'{TARGETS["gain"]:.0f} points, interval above zero, helped in '
        f'>= {TARGETS["helped_fraction"]:.0%} of the seeds): '
        f'{_verdict(gain_ok)}',
    ]


def write_report(demo, total_s: float) -> dict:
    """Measure latency and parameters, draw the pictures and write
    ``report.md`` and ``report.json`` into the demo's work dir."""
    seq_dir, paths, poses = _val_sequence(demo)
    frames = timing_frames(len(paths))
    mid = frames[len(frames) // 2]
    torch.set_num_threads(2)
    seeds = demo.seeds
    seed0 = seeds[0]
    models = {
        'teacher': (demo.teacher_model_config(),
                    demo.checkpoints['teacher']),
        'student': (demo.configs['student'],
                    demo.checkpoints[f'student_seed{seed0}']),
        'distilled': (demo.configs['student'],
                      demo.checkpoints[f'distilled_seed{seed0}']),
    }
    timing = {name: time_model(cfg, ckpt, paths, poses, frames)
              for name, (cfg, ckpt) in models.items()}
    # the same student as deployed (tools/infer.py --precision bf16): BN
    # folded, channels_last, bf16; beside the fp32 figure, not instead
    timing['student_bf16'] = time_model(
        *models['student'], paths, poses, frames,
        backend=dict(name='torch', precision='bf16'))
    timing['student_bf16']['agreement'] = float(np.mean(np.concatenate([
        timing['student_bf16']['preds'][t] == timing['student']['preds'][t]
        for t in frames])))
    picture = make_picture(seq_dir, paths[mid],
                           {n: timing[n]['preds'][mid] for n in models},
                           demo.work_dir / 'bev_val.png')
    ratio = timing['teacher']['total_ms'] / timing['student']['total_ms']

    def metric(name, key='mos/IoU_moving'):
        return float(demo.metrics[name][key])

    settings = {'paper': ('teacher', 'student', 'distilled', seeds)}
    if demo.labelled_sequences is not None:
        settings['unlabelled'] = ('teacher_labelled', 'student_labelled',
                                  'distilled_unlabelled',
                                  demo.unlabelled_seeds)
    results = {}
    for setting, (teacher, plain, kd, its_seeds) in settings.items():
        plain_iou = [metric(f'{plain}_seed{s}') for s in its_seeds]
        kd_iou = [metric(f'{kd}_seed{s}') for s in its_seeds]
        gain = paired_gain(plain_iou, kd_iou)
        results[setting] = dict(
            seeds=list(its_seeds), teacher=metric(teacher), plain=plain_iou,
            distilled=kd_iou, gain=gain,
            targets=target_lines(metric(teacher), plain_iou, gain, ratio))

    report = dict(
        seeds=seeds, unlabelled_seeds=(
            demo.unlabelled_seeds if 'unlabelled' in results else []),
        tuning_seeds=demo.tuning_seeds,
        data=dict(train_sequences=demo.train_sequences,
                  labelled_sequences=demo.labelled_sequences,
                  val_sequences=demo.val_sequences,
                  train_scans_per_sequence=demo.num_train_scans,
                  val_scans=demo.num_val_scans, preset=demo.preset),
        metrics=demo.metrics,
        settings={k: {kk: vv for kk, vv in v.items() if kk != 'targets'}
                  for k, v in results.items()},
        # the paper's setting, as before
        moving_iou=dict(teacher=results['paper']['teacher'],
                        student=results['paper']['plain'],
                        distilled=results['paper']['distilled']),
        distillation_delta=results['paper']['gain']['deltas'],
        latency_ms={n: {k: v for k, v in t.items() if k != 'preds'}
                    for n, t in timing.items()},
        teacher_student_time_ratio=ratio,
        teacher_student_bf16_time_ratio=(
            timing['teacher']['total_ms'] / timing['student_bf16']['total_ms']),
        times_s=demo.times, total_s=total_s, jobs=demo.jobs,
        checkpoints=demo.checkpoints, picture=str(picture))
    write_text_atomic(demo.work_dir / 'report.json',
                      json.dumps(report, indent=1))
    write_text_atomic(demo.work_dir / 'report.md', '\n'.join(
        _markdown(demo, results, timing, frames, mid, ratio, total_s)))
    return report


def _teacher_note(demo) -> str:
    """What each teacher of the report is: one training, or the ensemble
    of several, with each member's moving IoU."""
    if demo.teacher_members == 1:
        return 'Teachers: one training each.'
    alone = '; '.join(
        f'{t} ' + ', '.join(f'{100 * demo.metrics[m][METRIC_KEYS[0]]:.1f}'
                            for m in demo.member_names(t))
        for t, _ in demo.teachers())
    return (f'Teachers: each the mean of the logits of '
            f'{demo.teacher_members} trainings (member 0 with the teacher '
            f"config's own seed, member i > 0 with seed i); moving IoU of "
            f'each alone: '
            f'{alone}.')


def _markdown(demo, results: dict, timing: dict, frames: list, mid: int,
              ratio: float, total_s: float) -> List[str]:
    seeds = demo.seeds
    used = set(seeds) | set(results.get('unlabelled', {}).get('seeds', []))
    tuned = sorted(used & set(demo.tuning_seeds))

    def seed_list(values):
        return f'{len(values)} seed(s): {", ".join(map(str, values))}'

    seed_note = (
        f'Students: {seed_list(seeds)} in the paper\'s setting' +
        (f', {seed_list(results["unlabelled"]["seeds"])} on unlabelled '
         'scans' if 'unlabelled' in results else '') +
        '; one paired plain/distilled training a seed (same seed, data '
        'order and schedule). The recipe was chosen on seeds '
        f'{", ".join(map(str, demo.tuning_seeds))}, ' +
        ('none of which is among these.' if not tuned else
         f'and seeds {tuned} are among these: their numbers are not '
         'held out.') + ' ' + _teacher_note(demo))

    kind = 'sparse 4-D' + (', non-causal: also the next 3 scans'
                           if demo.teacher == 'noncausal' else '')
    teacher_label = f'teacher ({kind})' if demo.teacher_members == 1 \
        else f'teacher ({kind}, mean of {demo.teacher_members})'

    def row(label, names, timing_key, train_sequences):
        cells = [_cell([float(demo.metrics[m][k]) for m in names])
                 for k in METRIC_KEYS]
        t = timing[timing_key]
        train = statistics.fmean(demo.times[f'train_{m}_s'] for m in names)
        return (f'| {label} | {" | ".join(cells)} | {len(names)} | '
                f'{t["params"]:,} | {t["model_ms"]:.0f} | {t["data_ms"]:.0f} '
                f'| {train / 60:.1f} | {train_sequences} |')

    header = ['| model | moving IoU | static IoU | movable IoU | runs | '
              'params | model ms | data ms | train min | trained on |',
              '|---|---|---|---|---|---|---|---|---|---|']
    all_seqs = ', '.join(demo.train_sequences)
    lines = [
        '# KDMOS demo on synthetic SemanticKITTI-layout data', '',
        f'Training sequences {all_seqs} ({demo.num_train_scans} scans '
        f'each), held-out sequence(s) {", ".join(demo.val_sequences)} '
        f'({demo.num_val_scans} scans each), `{demo.preset}` LiDAR preset. '
        f'IoU in % over all held-out scans together '
        f'with the official SemanticKITTI-MOS protocol, last '
        f'checkpoint of each training; students: mean (± std) over the '
        f'seeds. Latency per scan on this machine (2 threads, median of '
        f'{len(frames)} scans): model = packed inputs to labels, data = '
        f'loading, alignment, motion features and voxelisation.', '',
        seed_note, '',
        '## Distillation as in the paper (every training scan labelled)', '',
        *header,
        row(teacher_label, ['teacher'], 'teacher', all_seqs),
        row('student (BEV, no KD)', [f'student_seed{s}' for s in seeds],
            'student', all_seqs),
        row('student + KD', [f'distilled_seed{s}' for s in seeds],
            'distilled', all_seqs), '',
        gain_sentence(results['paper']['gain'], seeds), '',
    ]
    if 'unlabelled' in results:
        lab = ', '.join(demo.labelled_sequences)
        unl = ', '.join(demo.unlabelled_sequences)
        useeds = results['unlabelled']['seeds']
        lines += [
            f'## Distillation on unlabelled scans (labels of {lab} only)', '',
            f'The teacher is trained on {lab}; its logits are dumped for '
            f'every training scan. The plain student learns from the labels '
            f'of {lab}; the distilled one also from {unl}, where it sees '
            f'only the teacher\'s logits (its labels there are the '
            f'teacher\'s most likely class, and the distillation loss '
            f'follows the teacher).', '',
            *header,
            row(teacher_label, ['teacher_labelled'], 'teacher', lab),
            row('student (BEV, no KD)',
                [f'student_labelled_seed{s}' for s in useeds], 'student',
                lab),
            row('student + KD on unlabelled scans',
                [f'distilled_unlabelled_seed{s}' for s in useeds], 'student',
                f'{lab} + logits on {unl}'), '',
            gain_sentence(results['unlabelled']['gain'], useeds), '',
        ]
    lines += ['## Per seed (moving IoU, %)', '',
              '| seed | ' + ' | '.join(
                  f'{k}: plain | {k}: KD | {k}: gain' for k in results) +
              ' |',
              '|---|' + '---|---|---|' * len(results)]
    for s in seeds:
        cells = []
        for r in results.values():
            if s not in r['seeds']:
                cells += ['-', '-', '-']
                continue
            i = r['seeds'].index(s)
            cells += [f'{100 * r["plain"][i]:.1f}',
                      f'{100 * r["distilled"][i]:.1f}',
                      f'{100 * r["gain"]["deltas"][i]:+.1f}']
        lines.append(f'| {s} | ' + ' | '.join(cells) + ' |')
    lines += ['', '## Targets (issue 19)', '',
              '*As in the paper:*', *results['paper']['targets']]
    if 'unlabelled' in results:
        lines += ['', '*On unlabelled scans:*',
                  *results['unlabelled']['targets']]
    emulated = '' if has_native_kernels('cpu', torch.bfloat16) else (
        '; this CPU has no AVX-512: bf16 is emulated here, slower than fp32')
    lines += [
        '', f'Teacher/student time per scan (data + model) on these small '
        f'synthetic scans and the demo grids: {ratio:.1f}x; model only '
        f'{timing["teacher"]["model_ms"] / timing["student"]["model_ms"]:.1f}'
        f'x. The same student as deployed (`--precision bf16`: BN folded, '
        f'channels_last, bf16; labels {100 * timing["student_bf16"]["agreement"]:.2f}% '
        f'equal to fp32 on the timed scans): model '
        f'{timing["student_bf16"]["model_ms"]:.0f} ms, teacher/student '
        f'{timing["teacher"]["total_ms"] / timing["student_bf16"]["total_ms"]:.1f}'
        f'x (the target above is judged on the fp32 figures{emulated}). '
        f'At the real size (122k points a scan, 7 past scans, '
        f'480x360x32) see BENCHMARKS.md. Whole demo: {total_s / 60:.1f} min '
        f'({demo.jobs} training(s) at a time).', '',
        f'![BEV of held-out frame {mid}](bev_val.png)', '',
        f'Top: ground truth and predictions (seed {seeds[0]}; grey static, '
        'blue movable, red moving). Bottom: moving-class errors (see the '
        'visualization module for the colours).', '']
    return lines

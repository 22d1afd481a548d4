"""Odometry instead of ground-truth poses: pose error and moving IoU.

    python tools/benchmarks/odometry.py CONFIG CKPT --data-root DIR
        [--out work_dirs/odometry/report.json] [--markdown REPORT.md]
        [--sensor PRESET|FILE] [--voxel-size M]

On held-out synthetic sequences with ground-truth poses, written by the
project's generator along windows of real KITTI trajectories
(``tests/data/kitti_poses``) and created under ``--data-root`` if missing:

* ``06`` (KITTI 06 from pose 683): a sharp turn (about 150 degrees in 4 s);
* ``07`` (KITTI 07 from pose 650): driving, then standing at a junction;
* ``08`` (KITTI 08, window from the seed): ordinary driving;
* ``09`` (KITTI 09, 100 scans, window from the seed): also cut to 2 Hz
  keyframes (every 5th scan) for the slow-sensor case.

For each sequence the student runs through :class:`MOSStreamer` three times:
with the ground-truth poses, with KISS-ICP poses (``odometry=True``, the
sensor profile's ranges) and with identity poses (no poses at all: the
floor). Reported: the relative pose error between consecutive scans
(translation [m], rotation [deg]; mean and max), the end-point drift, and
the moving IoU (official protocol, one confusion matrix a sequence) of
each pose source, for all scans and for the scans where the ego vehicle
stands (< 0.05 m a scan) or turns (> 1 deg a scan). The 2 Hz case: the
keyframes of ``09`` streamed with a 2 Hz sensor profile (stride 1, so the
7 past keyframes span 3.5 s instead of 0.7 s) against the same keyframes
predicted within the 10 Hz stream.
"""
import argparse
import dataclasses
import json
import math
import os.path as osp
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
KITTI_POSES = REPO / 'tests' / 'data' / 'kitti_poses'
#: name -> (scans, KITTI window start or None = from the seed, what)
SEQUENCES = {
    '06': (40, 683, 'sharp turn'),
    '07': (40, 650, 'drive, then stand'),
    '08': (40, None, 'driving'),
    '09': (100, None, 'driving (also at 2 Hz)'),
}
TWO_HZ = '09'
STAND_M = 0.05   # a scan: standing below this [m]
TURN_DEG = 1.0   # a scan: turning above this [deg]


def ensure_data(root: str, seed: int = 0) -> None:
    """Write the held-out sequences that are missing (small preset)."""
    from kdmos_plugin.synthetic import write_sequence
    for seq, (num, start, _) in SEQUENCES.items():
        if osp.isfile(osp.join(root, 'sequences', seq, 'poses.txt')):
            continue
        t = time.perf_counter()
        write_sequence(root, seq, num, seed, 'small', str(KITTI_POSES), start)
        print(f'[odometry] wrote sequence {seq} ({num} scans) in '
              f'{time.perf_counter() - t:.0f} s', flush=True)


def relative_errors(est: np.ndarray, gt: np.ndarray):
    """Per consecutive pair: translation [m] and rotation [deg] error of
    the estimated relative motion against the true one."""
    t_err, r_err = [], []
    for i in range(1, len(gt)):
        d_gt = np.linalg.inv(gt[i - 1]) @ gt[i]
        d_est = np.linalg.inv(est[i - 1]) @ est[i]
        err = np.linalg.inv(d_gt) @ d_est
        t_err.append(float(np.linalg.norm(err[:3, 3])))
        cos = np.clip((np.trace(err[:3, :3]) - 1) / 2, -1.0, 1.0)
        r_err.append(math.degrees(math.acos(cos)))
    return np.array(t_err), np.array(r_err)


def motion_kind(gt: np.ndarray) -> np.ndarray:
    """(S,) 'stand' / 'turn' / 'drive' of each scan (by its motion since
    the previous scan; scan 0 takes scan 1's)."""
    kinds = []
    for i in range(1, len(gt)):
        d = np.linalg.inv(gt[i - 1]) @ gt[i]
        yaw = abs(math.degrees(math.atan2(d[1, 0], d[0, 0])))
        step = float(np.linalg.norm(d[:3, 3]))
        kinds.append('stand' if step < STAND_M else
                     'turn' if yaw > TURN_DEG else 'drive')
    return np.array(kinds[:1] + kinds)


def _stream(model, pipeline, scans, poses, profile=None, odometry=False):
    from kdmos_plugin.apis.inference import MOSStreamer
    streamer = MOSStreamer(model, pipeline, profile=profile,
                           odometry=odometry)
    preds, used, secs = [], [], []
    for k, points in enumerate(scans):
        t = time.perf_counter()
        preds.append(streamer.step(points,
                                   None if poses is None else poses[k]))
        secs.append(time.perf_counter() - t)
        used.append(streamer.buffer[-1][1])
    return preds, np.stack(used), float(np.mean(secs))


def _moving_iou(gts, preds, mask=None) -> float:
    from kdmos_plugin.evaluation.metrics.mos_metric import (
        confusion_matrix, iou_from_confusion)
    conf = np.zeros((4, 4), np.int64)
    for k, (g, p) in enumerate(zip(gts, preds)):
        if mask is None or mask[k]:
            conf += confusion_matrix(g, p, 4)
    if conf[3].sum() + conf[:, 3].sum() == 0:
        return float('nan')
    return 100.0 * float(iou_from_confusion(conf)[3])


def run(args) -> dict:
    import torch

    from kdmos_plugin.apis.inference import init_mos_model
    from kdmos_plugin.datasets.kitti_io import (read_labels,
                                                read_lidar_poses,
                                                read_points)
    from kdmos_plugin.datasets.label_map import MOS_4CLASS, map_labels
    from kdmos_plugin.sources import Odometry, get_profile
    torch.set_num_threads(args.num_threads)
    ensure_data(args.data_root)
    model, pipeline = init_mos_model(args.config, args.checkpoint)
    profile = get_profile(args.sensor)
    report = dict(config=args.config, checkpoint=args.checkpoint,
                  sensor=profile.name, voxel_size=args.voxel_size,
                  sequences={})
    for seq, (num, start, what) in SEQUENCES.items():
        seq_dir = osp.join(args.data_root, 'sequences', seq)
        paths = [osp.join(seq_dir, 'velodyne', f'{i:06d}.bin')
                 for i in range(num)]
        scans = [read_points(p) for p in paths]
        gts = [map_labels(read_labels(p.replace('velodyne', 'labels')
                                      .replace('.bin', '.label'),
                                      len(s)), MOS_4CLASS)
               for p, s in zip(paths, scans)]
        gt = read_lidar_poses(seq_dir, num)[:num]
        gt = np.linalg.inv(gt[0])[None] @ gt
        kinds = motion_kind(gt)
        odom = Odometry.for_profile(profile, voxel_size=args.voxel_size,
                                    num_threads=1)
        t0 = time.perf_counter()
        est = np.stack([odom.register(s) for s in scans])
        odom_ms = 1000 * (time.perf_counter() - t0) / num
        t_err, r_err = relative_errors(est, gt)
        pred_gt, _, ms = _stream(model, pipeline, scans, gt)
        pred_est, _, _ = _stream(model, pipeline, scans, est)
        pred_none, _, _ = _stream(model, pipeline, scans, None)
        row = dict(
            what=what, scans=num, kitti_start=start,
            points_per_scan=float(np.mean([len(s) for s in scans])),
            path_m=float(sum(np.linalg.norm(
                np.diff(gt[:, :3, 3], axis=0), axis=1))),
            scans_standing=int((kinds == 'stand').sum()),
            scans_turning=int((kinds == 'turn').sum()),
            rpe_t_mean_m=float(t_err.mean()), rpe_t_max_m=float(t_err.max()),
            rpe_r_mean_deg=float(r_err.mean()),
            rpe_r_max_deg=float(r_err.max()),
            drift_end_m=float(np.linalg.norm(est[-1][:3, 3] - gt[-1][:3, 3])),
            odometry_ms=odom_ms, student_ms=1000 * ms)
        for name, preds in (('gt', pred_gt), ('odometry', pred_est),
                            ('none', pred_none)):
            row[f'iou_{name}'] = _moving_iou(gts, preds)
            for kind in ('stand', 'turn'):
                row[f'iou_{name}_{kind}'] = _moving_iou(gts, preds,
                                                        kinds == kind)
        row['iou_gap'] = row['iou_gt'] - row['iou_odometry']
        if seq == TWO_HZ:
            keys = list(range(0, num, 5))
            slow = dataclasses.replace(profile, name=f'{profile.name}-2hz',
                                       scan_rate=2.0)
            k_scans = [scans[k] for k in keys]
            k_gts = [gts[k] for k in keys]
            pred_2hz, _, _ = _stream(model, pipeline, k_scans, gt[keys],
                                     profile=slow)
            odom2 = Odometry.for_profile(profile, voxel_size=args.voxel_size,
                                         num_threads=1)
            est2 = np.stack([odom2.register(s) for s in k_scans])
            t2, r2 = relative_errors(est2, gt[keys])
            pred_2hz_odo, _, _ = _stream(model, pipeline, k_scans, est2,
                                         profile=slow)
            row['two_hz'] = dict(
                keyframes=len(keys), window_s=slow.window_span(7),
                iou_10hz_stream_at_keyframes=_moving_iou(
                    k_gts, [pred_gt[k] for k in keys]),
                iou_2hz_gt=_moving_iou(k_gts, pred_2hz),
                iou_2hz_odometry=_moving_iou(k_gts, pred_2hz_odo),
                rpe_t_mean_m=float(t2.mean()), rpe_t_max_m=float(t2.max()),
                rpe_r_mean_deg=float(r2.mean()))
        report['sequences'][seq] = row
        print(f'[odometry] {seq} ({what}): RPE {row["rpe_t_mean_m"]:.3f} m '
              f'/ {row["rpe_r_mean_deg"]:.3f} deg, moving IoU gt '
              f'{row["iou_gt"]:.1f} odometry {row["iou_odometry"]:.1f} none '
              f'{row["iou_none"]:.1f}', flush=True)
    return report


def markdown(report: dict) -> str:
    """The report as the Markdown section of BENCHMARKS.md."""
    def f(v, d=1):
        return 'n/a' if v is None or (isinstance(v, float) and math.isnan(v)
                                      ) else f'{v:.{d}f}'
    lines = [
        '| seq | what | scans (stand/turn) | path m | RPE m mean/max | '
        'RPE deg mean/max | end drift m | IoU gt | IoU odometry | gap | '
        'IoU no poses | IoU stand gt/odo | IoU turn gt/odo | odometry ms |',
        '|' + '---|' * 14]
    for seq, r in report['sequences'].items():
        lines.append(
            f'| {seq} | {r["what"]} | {r["scans"]} ({r["scans_standing"]}/'
            f'{r["scans_turning"]}) | {f(r["path_m"])} | '
            f'{f(r["rpe_t_mean_m"], 3)}/{f(r["rpe_t_max_m"], 3)} | '
            f'{f(r["rpe_r_mean_deg"], 3)}/{f(r["rpe_r_max_deg"], 3)} | '
            f'{f(r["drift_end_m"], 2)} | {f(r["iou_gt"])} | '
            f'{f(r["iou_odometry"])} | {f(r["iou_gap"])} | '
            f'{f(r["iou_none"])} | {f(r["iou_gt_stand"])}/'
            f'{f(r["iou_odometry_stand"])} | {f(r["iou_gt_turn"])}/'
            f'{f(r["iou_odometry_turn"])} | {f(r["odometry_ms"], 0)} |')
    two = report['sequences'].get(TWO_HZ, {}).get('two_hz')
    if two:
        lines += [
            '',
            f'2 Hz keyframes of {TWO_HZ} ({two["keyframes"]} keyframes, the 7 '
            f'past keyframes span {two["window_s"]:.1f} s): moving IoU '
            f'{f(two["iou_2hz_gt"])} with true poses, '
            f'{f(two["iou_2hz_odometry"])} with odometry at 2 Hz (RPE '
            f'{f(two["rpe_t_mean_m"], 3)} m mean, '
            f'{f(two["rpe_t_max_m"], 3)} m max), against '
            f'{f(two["iou_10hz_stream_at_keyframes"])} for the same '
            f'keyframes inside the 10 Hz stream.']
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data-root', default='work_dirs/odometry/data')
    parser.add_argument('--out', default='work_dirs/odometry/report.json')
    parser.add_argument('--markdown', default=None,
                        help='also write the Markdown table here')
    parser.add_argument('--sensor', default=None,
                        help='sensor profile (ranges of the odometry)')
    parser.add_argument('--voxel-size', type=float, default=None,
                        help='KISS-ICP map voxel [m]; default max_range/100')
    parser.add_argument('--num-threads', type=int, default=2)
    return parser.parse_args(argv)


def main(argv=None):
    import kdmos_plugin  # noqa: F401
    from kdmos_plugin.utils.atomic_files import write_text_atomic
    args = parse_args(argv)
    report = run(args)
    write_text_atomic(args.out, json.dumps(report, indent=2) + '\n')
    text = markdown(report)
    if args.markdown:
        write_text_atomic(args.markdown, text)
    print(text)
    return report


if __name__ == '__main__':
    main()

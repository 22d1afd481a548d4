"""Benchmark of the sparse 4-D teacher beside the student (CPU).

``run(args) -> dict`` measures, in one run, on the same current scan of
``args.sample_root`` (default the real ``tests/data/semantickitti_sample``,
about 122k points):

* ``teacher_s``: the reference teacher (configs/_base_/models/
  sparse4d_teacher.py: 0.1 m x 1 scan cells, SparseUNet4D 32-256) forward,
  merged cloud in, current-scan logits out: space-time voxelisation ->
  backbone -> per-point logits (``forward_feats`` + ``point_logits``).
* ``student_s``: the KDMOS student forward on the current scan, as
  ``tools/benchmarks/student.py`` measures it (imported from there; absent
  student -> no student keys).
* ``teacher_over_student``: the ratio, measured interleaved (target >= 5:
  the teacher is the big model distilled into the fast one).
* ``*_cpu_s``: process CPU times (all threads) of the same runs, less
  disturbed by other processes on a shared machine.
* ``teacher_peak_mb`` / ``student_peak_mb``: how much one forward raises
  the RSS of a fresh process at its peak, after the model and the inputs
  are loaded, measured as every topic does (:func:`common.peak_rss_mb`:
  warm-up, heap trimmed, peak mark reset).

The real sample has no poses and only 4 scans: the merged cloud of K = 7
past scans repeats them (scan ``a % 4`` for age ``a``), each moved by a
small synthetic ego motion (0.8 m forward and 0.5 deg yaw a scan), so it
has the real point count (~1M merged points) and a realistic occupancy. A
sample folder with poses (the synthetic source of ``tools/benchmark.py``)
uses 8 consecutive scans and their true poses (see :func:`merged_cloud`).
Timings are
medians of ``repeats`` runs after one warm-up, in ``torch.inference_mode``
with ``torch.set_num_threads(num_threads)``.
"""
import importlib.util
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_SAMPLE, REPO, ego_pose,  # noqa: E402
                    peak_rss_mb, run_memory_child, sample_lidar_poses,
                    topic_main)

TEACHER_CFG = REPO / 'configs' / '_base_' / 'models' / 'sparse4d_teacher.py'
NUM_PAST = 7


def merged_cloud(sample_root: Path, num_past: int = NUM_PAST) -> dict:
    """Batch inputs of one sample: ``points`` [(N, 4)] and
    ``multi_points`` [(M, 5)] (x, y, z, intensity, age), current first.

    The current scan is the first one; the scan of age ``a`` is scan
    ``a % len(files)`` placed with :func:`common.ego_pose`, or, in a folder with
    ``poses.txt`` and ``calib.txt`` (the synthetic source), scan ``a`` with
    its true pose relative to scan 0 (time reversed, which changes nothing
    the teacher's cost depends on: point counts and overlap).
    """
    from kdmos_plugin.datasets.kitti_io import (read_points, relative_pose,
                                                transform_points)
    files = sorted((sample_root / 'velodyne').glob('*.bin'))
    if not files:
        raise FileNotFoundError(f'{sample_root}/velodyne: no .bin scans')
    poses = sample_lidar_poses(sample_root, len(files), num_past + 1,
                               'teacher')
    parts = []
    for age in range(num_past + 1):
        pts = read_points(str(files[age % len(files)]))
        if age:
            pose = (ego_pose(-age) if poses is None else
                    relative_pose(poses[0], poses[age]))
            pts = transform_points(pts, pose)
        parts.append(np.concatenate(
            [pts, np.full((len(pts), 1), age, np.float32)], 1))
    multi = torch.from_numpy(np.concatenate(parts).astype(np.float32))
    current = multi[:len(parts[0]), :4].clone()
    return dict(points=[current], multi_points=[multi])


def build_teacher():
    """The reference teacher, eval mode."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import kdmos_plugin  # noqa: F401
    from mmdet3d.registry import MODELS
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(TEACHER_CFG))
    return MODELS.build(cfg.model).eval()


def teacher_forward(model, inputs: dict) -> torch.Tensor:
    """(N,) int64 labels of the current scan."""
    return model.point_logits(model.forward_feats(inputs), inputs).argmax(1)


def load_student_bench():
    """``tools/benchmarks/student.py`` as a module, or None."""
    path = Path(__file__).resolve().parent / 'student.py'
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location('kdmos_bench_student_t',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peak_memory_child(variant: str, sample_root: Path,
                      num_threads: int) -> float:
    """In this (fresh) process: MB one forward adds to the RSS at its peak
    (:func:`common.peak_rss_mb`)."""
    torch.set_num_threads(num_threads)
    if variant == 'teacher':
        model, inputs = build_teacher(), merged_cloud(sample_root)
        fn = lambda: teacher_forward(model, inputs)  # noqa: E731
    else:
        bench = load_student_bench()
        model = bench.build_model()
        scan = bench.load_scans(sample_root, 1)[0]
        fn = lambda: bench.student_forward(model, scan)  # noqa: E731
    with torch.inference_mode():
        return peak_rss_mb(fn)


def peak_memory(variant: str, sample_root: Path, num_threads: int) -> float:
    """Run :func:`peak_memory_child` in a fresh interpreter."""
    return run_memory_child(__file__, variant, sample_root, num_threads)


def run(args) -> Dict[str, float]:
    """Teacher latency and memory beside the student's. ``args`` may carry
    ``repeats`` (3), ``num_threads`` (2), ``sample_dir``/``sample_root``
    and ``skip_memory`` (False)."""
    repeats = int(getattr(args, 'repeats', None) or 3)
    threads = int(getattr(args, 'num_threads', None) or 2)
    sample_root = Path(getattr(args, 'sample_root', None)
                       or getattr(args, 'sample_dir', None)
                       or DEFAULT_SAMPLE)
    torch.set_num_threads(threads)
    teacher = build_teacher()
    inputs = merged_cloud(sample_root)
    student_bench = load_student_bench()
    student = scan = None
    if student_bench is not None:
        student = student_bench.build_model()
        scan = student_bench.load_scans(sample_root, 1)[0]
        if not torch.equal(scan['points'][0], inputs['points'][0]):
            raise RuntimeError('teacher and student benchmark inputs differ')

    runners = {'teacher': lambda: teacher_forward(teacher, inputs)}
    if student is not None:
        runners['student'] = lambda: student_bench.student_forward(student,
                                                                   scan)
    wall: Dict[str, List[float]] = {k: [] for k in runners}
    cpu: Dict[str, List[float]] = {k: [] for k in runners}
    with torch.inference_mode():
        for fn in runners.values():  # warm-up
            fn()
        for _ in range(repeats):
            for name, fn in runners.items():
                c0, t0 = time.process_time(), time.perf_counter()
                fn()
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        vox = teacher.voxel_encoder(inputs['multi_points'],
                                [len(inputs['points'][0])])
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    result = {
        'teacher_params': float(sum(p.numel()
                                    for p in teacher.parameters())),
        'num_points': float(len(inputs['points'][0])),
        'num_merged_points': float(len(inputs['multi_points'][0])),
        'num_voxels': float(len(vox.features)),
        'teacher_s': med['teacher'],
        'teacher_cpu_s': med_cpu['teacher'],
    }
    if student is not None:
        result.update({
            'student_params': float(sum(p.numel()
                                        for p in student.parameters())),
            'student_s': med['student'],
            'student_cpu_s': med_cpu['student'],
            'teacher_over_student': med['teacher'] / med['student'],
            'teacher_over_student_cpu':
            med_cpu['teacher'] / med_cpu['student'],
        })
    result['load_average_1min'] = os.getloadavg()[0]
    result['num_threads'] = float(threads)
    if not getattr(args, 'skip_memory', False):
        result['teacher_peak_mb'] = peak_memory('teacher', sample_root,
                                                threads)
        if student_bench is not None:
            result['student_peak_mb'] = peak_memory('student', sample_root,
                                                    threads)
            result['teacher_over_student_peak_mb'] = (
                result['teacher_peak_mb'] / result['student_peak_mb'])
    return result


def main(argv: Optional[list] = None) -> None:
    topic_main(argv, __doc__, run, repeats=3, num_threads=2,
               memory_child=peak_memory_child,
               variants=('teacher', 'student'))


if __name__ == '__main__':
    main()

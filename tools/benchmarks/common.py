"""What every benchmark topic shares: paths, poses, peak memory.

* :data:`REPO`, :data:`DEFAULT_SAMPLE` (the real SemanticKITTI scans
  shipped in ``tests/data/semantickitti_sample``), :data:`KITTI_POSES` and
  the reference grid :data:`GRID`.
* Poses of a sample folder: :func:`sample_lidar_poses` (the true LiDAR
  poses of a folder with ``poses.txt`` and ``calib.txt``, e.g. the
  synthetic source) and :func:`ego_pose` (the small synthetic ego motion
  that places the scans of the real sample, which has no poses).
* Peak memory, measured one way by every topic: :func:`peak_rss_mb` runs a
  forward once to warm up, returns freed heap to the OS, resets the
  kernel's peak-RSS mark and reports how much the next call raises the
  resident set at its peak; :func:`run_memory_child` runs a topic's
  ``--memory-child VARIANT`` in a fresh interpreter (with a fixed glibc
  mmap threshold, so that freed large blocks leave the RSS at once) and
  returns the number it prints. tracemalloc does not see torch's
  allocations, hence the RSS.

* :func:`topic_main`: the command line every topic offers when run as a
  script (``--repeats``, ``--num-threads``, ``--sample-root`` and, with a
  memory child, ``--skip-memory``).

Topics import it as ``common`` (their own folder is put on ``sys.path``),
so they run both through ``tools/benchmark.py`` and as scripts.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[2]
#: The real SemanticKITTI scans (4 consecutive, no poses) in the repository.
DEFAULT_SAMPLE = REPO / 'tests' / 'data' / 'semantickitti_sample'
#: Real KITTI odometry trajectories (``XX/poses.txt``, camera frame).
KITTI_POSES = REPO / 'tests' / 'data' / 'kitti_poses'
#: The reference polar grid (rho, phi, z).
GRID = (480, 360, 32)
#: glibc's mmap threshold in the memory children [bytes].
MALLOC_MMAP_THRESHOLD = 131072


def ego_pose(i: float) -> np.ndarray:
    """Synthetic LiDAR pose (4, 4) of scan ``i`` in the frame of scan 0:
    0.8 m forward and 0.5 deg of yaw a scan (``i < 0``: scans before)."""
    a = np.deg2rad(0.5) * i
    pose = np.eye(4)
    pose[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    pose[0, 3] = 0.8 * i
    return pose


def sample_lidar_poses(sample_root: Path, num_files: int, needed: int,
                       topic: str) -> Optional[np.ndarray]:
    """True LiDAR poses of a sample folder, or None without ``poses.txt``.

    Args:
        sample_root: Folder with ``velodyne/`` (and maybe ``poses.txt``,
            ``calib.txt``).
        num_files: Scans in ``velodyne/``.
        needed: Consecutive scans the topic uses.
        topic: Topic name, for the error message.

    Returns:
        np.ndarray or None: (num_files, 4, 4) LiDAR-i -> LiDAR-0 poses.

    Raises:
        ValueError: The folder has poses but fewer than ``needed`` scans.
    """
    if not (Path(sample_root) / 'poses.txt').is_file():
        return None
    if num_files < needed:
        raise ValueError(f'{sample_root}: {num_files} scans, the {topic} '
                         f'benchmark needs {needed} consecutive ones')
    from kdmos_plugin.datasets.kitti_io import read_lidar_poses
    return read_lidar_poses(sample_root, num_files)


def _status_mb(field: str) -> Optional[float]:
    """``VmRSS`` / ``VmHWM`` of this process in MB (Linux), else None."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def _reset_peak() -> Optional[float]:
    """Return freed heap to the OS and reset the peak RSS (Linux >= 4.0);
    the current RSS in MB, or None where that is not possible."""
    try:
        import ctypes
        ctypes.CDLL('libc.so.6').malloc_trim(0)
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except (OSError, AttributeError):
        return None
    return _status_mb('VmRSS')


def peak_rss_mb(fn: Callable[[], object]) -> float:
    """MB one call of ``fn`` adds to this process' RSS at its peak.

    ``fn`` runs once to warm up (one-off allocations: libraries, caches);
    then freed heap is trimmed and the kernel's peak mark reset, so memory
    freed while loading cannot hide the call's own peak. Where the mark
    cannot be reset, the increase of ``ru_maxrss`` is the fallback (it
    misses a peak below the process' earlier high-water mark).
    """
    fn()
    before = _reset_peak()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    fn()
    if before is not None:
        return _status_mb('VmHWM') - before
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0 - \
        maxrss


def run_memory_child(script: str, variant: str, sample_root: Path,
                     num_threads: int) -> float:
    """Run ``script --memory-child variant`` in a fresh interpreter.

    The child prints ``{"peak_mb": ...}`` (from :func:`peak_rss_mb`) as its
    last line. The repository is put first on its ``PYTHONPATH``.
    """
    cmd = [sys.executable, str(script), '--memory-child', variant,
           '--sample-root', str(sample_root), '--num-threads',
           str(num_threads)]
    env = dict(os.environ,
               MALLOC_MMAP_THRESHOLD_=str(MALLOC_MMAP_THRESHOLD),
               PYTHONPATH=f'{REPO}{os.pathsep}' +
               os.environ.get('PYTHONPATH', ''))
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env=env)
    return float(json.loads(out.stdout.strip().splitlines()[-1])['peak_mb'])


def topic_main(argv: Optional[list], doc: str, run: Callable,
               repeats: int, num_threads: int,
               memory_child: Optional[Callable] = None,
               variants: Sequence[str] = (),
               extra_args: Optional[Dict[str, dict]] = None) -> None:
    """Parse a topic's command line, run it, print its JSON.

    Args:
        argv: Arguments (None: ``sys.argv``).
        doc: The topic's docstring (its first line is the description).
        run: ``run(args) -> dict``.
        repeats: Default of ``--repeats``.
        num_threads: Default of ``--num-threads``.
        memory_child: ``memory_child(variant, sample_root, num_threads) ->
            MB`` run by ``--memory-child VARIANT`` (see
            :func:`run_memory_child`); None: no memory options.
        variants: The choices of ``--memory-child``.
        extra_args: More options, flag -> ``add_argument`` keywords.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=repeats)
    parser.add_argument('--num-threads', type=int, default=num_threads)
    parser.add_argument('--sample-root', default=str(DEFAULT_SAMPLE))
    for flag, kwargs in (extra_args or {}).items():
        parser.add_argument(flag, **kwargs)
    if memory_child is not None:
        parser.add_argument('--skip-memory', action='store_true')
        parser.add_argument('--memory-child', choices=tuple(variants),
                            help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if getattr(args, 'memory_child', None):
        peak = memory_child(args.memory_child, Path(args.sample_root),
                            args.num_threads)
        print(json.dumps({'peak_mb': peak}))
        return
    print(json.dumps(run(args), indent=2))

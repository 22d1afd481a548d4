"""Speed, memory and size report of kdmos_plugin on this machine.

    python tools/benchmark.py --out work_dirs/benchmark.json [--markdown BENCHMARKS.md]
        [--only data student teacher ...] [--source real synthetic]
        [--repeats 5] [--num-threads 2]

Each topic lives in ``tools/benchmarks/<topic>.py`` and exposes
``run(args) -> dict`` of named measurements on the scans of
``args.sample_root``; every ratio in a topic is measured side by side in the
same run (never against a number from another day). Speed targets live
here, not in unit tests: the machines are noisy.

Sources (``--source``, default both), each topic runs on each in turn:

* ``real``: the real SemanticKITTI scans of ``--sample-root`` (4 scans,
  about 122k points, no poses);
* ``synthetic``: a sequence written by the project's generator
  (:mod:`kdmos_plugin.synthetic`, preset ``full``: HDL-64E-like
  64 x 2048 beams, about 125k points a scan) into a temporary folder, 15
  scans by default (7 past scans, the current one and 7 future ones for the
  reference motion features), with its true poses. The ego vehicle drives
  along a window of the real KITTI trajectory of sequence 00
  (``--synthetic-kitti-poses``, about 10 m/s), since a short procedural
  sequence is mostly its standing start (a case for accuracy, not speed).

``report['topics'][topic][source]`` holds the measurements,
``report['sources'][source]`` what the source was; the Markdown tables put
the sources side by side.
"""
import argparse
import importlib.util
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / 'benchmarks'))
from common import DEFAULT_SAMPLE, KITTI_POSES  # noqa: E402

from kdmos_plugin.utils.atomic_files import write_text_atomic  # noqa: E402
from kdmos_plugin.utils.native_kernels import (  # noqa: E402
    SPEED_FLAGS, cpu_description)

TOPICS = ('data', 'student', 'teacher', 'train', 'realtime')
SOURCES = ('real', 'synthetic')
#: (topic, measurement, comparison, bound): the targets of the issues.
TARGETS = (
    ('data', 'causal_plus_voxelize_ms', '<=', 100.0),
    ('student', 'student_over_floor', '<=', 1.5),
    ('student', 'literal_over_student', '>=', 2.0),
    ('teacher', 'teacher_over_student', '>=', 5.0),
    ('realtime', 'best_model_ms', '<=', 100.0),
    ('realtime', 'best_agreement', '>=', 0.995),
    ('realtime', 'literal_over_best', '>=', 10.0),
    ('realtime', 'streaming_ms', '<=', 100.0),
)


def load_topic(name: str):
    """Import ``tools/benchmarks/<name>.py`` as a module."""
    path = HERE / 'benchmarks' / f'{name}.py'
    if not path.is_file():
        raise FileNotFoundError(f'no benchmark topic {name!r}: {path}')
    spec = importlib.util.spec_from_file_location(f'kdmos_bench_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True, help='JSON report file')
    parser.add_argument('--markdown', help='also write this Markdown table')
    parser.add_argument('--only', nargs='+', choices=TOPICS,
                        default=[t for t in TOPICS
                                 if (HERE / 'benchmarks' / f'{t}.py').is_file()])
    parser.add_argument('--repeats', type=int, default=None,
                        help="timed runs per figure (each topic's default)")
    parser.add_argument('--num-threads', type=int, default=2)
    parser.add_argument('--num-scans', type=int, default=None,
                        help='scans of each source used by the student '
                        'benchmark')
    parser.add_argument('--realtime-scans', type=int, default=12,
                        help='scans of each source streamed by the realtime '
                        'benchmark (8 fill the window)')
    parser.add_argument('--skip-compile', action='store_true',
                        help='realtime: skip the torch.compile backend')
    parser.add_argument('--skip-memory', action='store_true',
                        help='skip the peak-memory subprocesses')
    parser.add_argument(
        '--sample-root',
        default=str(DEFAULT_SAMPLE),
        help='real SemanticKITTI scans (velodyne/, labels/)')
    parser.add_argument('--source', nargs='+', choices=SOURCES,
                        default=list(SOURCES),
                        help='real: the scans of --sample-root; synthetic: '
                        'a sequence written by the project generator')
    parser.add_argument('--synthetic-preset', choices=('small', 'full'),
                        default='full', help='sensor of the synthetic source')
    parser.add_argument('--synthetic-scans', type=int, default=15,
                        help='scans of the synthetic sequence (>= 15 for '
                        'the data topic)')
    parser.add_argument('--synthetic-seed', type=int, default=0)
    parser.add_argument(
        '--synthetic-kitti-poses',
        default=str(KITTI_POSES) if KITTI_POSES.is_dir() else '',
        help="folder of KITTI XX/poses.txt to drive along ('' for the "
        'procedural trajectory)')
    return parser.parse_args(argv)


def write_synthetic_source(root: str, num_scans: int = 15, seed: int = 0,
                           preset: str = 'full',
                           kitti_poses: Optional[str] = None) -> Path:
    """Write the synthetic source: sequence ``00`` under ``root``.

    Args:
        root (str): Data root (``sequences/00`` is created).
        num_scans (int): Scans (10 Hz).
        seed (int): Generator seed (the same seed, the same bytes).
        preset (str): ``full`` (64 x 2048 beams) or ``small``.
        kitti_poses (str, optional): Folder of KITTI ``00/poses.txt`` to
            drive along; None: the procedural trajectory.

    Returns:
        Path: The sequence folder (``velodyne/``, ``labels/``,
        ``poses.txt``, ``calib.txt``), a ``sample_root`` for every topic.
    """
    from kdmos_plugin.synthetic import write_sequence
    return Path(write_sequence(root, '00', num_scans, seed, preset,
                               kitti_poses or None))


def describe_source(root: Path) -> dict:
    """Folder, scan count, mean points a scan and, with poses, the mean ego
    speed [m/s] (scans at 10 Hz) of a sample folder."""
    from kdmos_plugin.datasets.kitti_io import read_lidar_poses
    files = sorted((root / 'velodyne').glob('*.bin'))
    if not files:
        raise FileNotFoundError(f'{root}/velodyne: no .bin scans')
    info = dict(sample_root=str(root), num_scans=len(files),
                mean_points=float(np.mean([f.stat().st_size // 16
                                           for f in files])),
                poses=(root / 'poses.txt').is_file())
    if info['poses'] and len(files) > 1:
        xyz = read_lidar_poses(root, len(files))[:len(files), :3, 3]
        info['ego_speed_mps'] = float(
            np.linalg.norm(np.diff(xyz, axis=0), axis=1).sum() /
            (0.1 * (len(files) - 1)))
    return info


def _fmt(value) -> str:
    if value is None:
        return '-'
    return f'{value:.4g}' if isinstance(value, float) else str(value)


def _topic_module(name: str):
    """The topic's module, or None if it is not (or no longer) there."""
    try:
        return load_topic(name)
    except FileNotFoundError:
        return None


def cpu_line(cpu: dict) -> str:
    """The report's line on the CPU (:func:`cpu_description`: model, speed
    flags, whether bf16 is native): the realtime figures differ several-fold
    between an AVX2-only CPU and one with AVX-512 and AMX."""
    flags = ', '.join(cpu['flags']) or 'none of ' + ', '.join(SPEED_FLAGS)
    native = ('native (oneDNN, AVX-512)' if cpu['bf16_native'] else
              'emulated (no AVX-512): the bf16 backends are slow here and '
              'the fastest backend is expected to be a float32 one')
    return f"CPU: {cpu['model']}; flags {flags}; bf16 {native}."


def to_markdown(report: dict) -> str:
    """Targets, then one table per topic: measurement, one column a source."""
    sources = list(report['sources'])
    lines = ['# Benchmarks', '',
             f"Machine: {report['machine']}; torch {report['torch']}, "
             f"{report['num_threads']} threads; {report['date']}.",
             cpu_line(report['cpu']),
             'Generated by `python tools/benchmark.py --out ... --markdown '
             'BENCHMARKS.md`; every ratio is measured in the same run.', '',
             'Sources:']
    for name, info in report['sources'].items():
        extra = ''.join(f', {k} {info[k]}' for k in ('preset', 'seed',
                                                      'trajectory')
                        if k in info)
        if 'ego_speed_mps' in info:
            extra += f", ego speed {info['ego_speed_mps']:.1f} m/s"
        lines.append(f"- {name}: {info['num_scans']} scans, "
                     f"{info['mean_points']:.0f} points a scan on average"
                     f"{', with poses' if info['poses'] else ', no poses'}"
                     f"{extra}")
    lines += ['', '## Targets', '',
              '| topic | measurement | target | ' +
              ' | '.join(f'{s} | met' for s in sources) + ' |',
              '|---|---|---|' + '---|---|' * len(sources)]
    for topic, key, cmp, bound in TARGETS:
        cells = []
        for source in sources:
            value = report['topics'].get(topic, {}).get(source, {}).get(key)
            met = None if value is None else (
                value <= bound if cmp == '<=' else value >= bound)
            cells += ['-' if value is None else f'{value:.3g}',
                      '-' if met is None else ('yes' if met else 'no')]
        if set(cells) != {'-'}:
            lines.append(f'| {topic} | {key} | {cmp} {bound:g} | ' +
                         ' | '.join(cells) + ' |')
    lines.append('')
    for topic, per_source in report['topics'].items():
        keys = list(dict.fromkeys(k for values in per_source.values()
                                  for k in values))
        lines += [f'## {topic}', '']
        summary = getattr(_topic_module(topic), 'markdown_tables', None)
        if summary is not None:  # a topic's own side-by-side table
            lines += summary(per_source)
        lines += ['| measurement | ' + ' | '.join(per_source) + ' |',
                  '|---|' + '---|' * len(per_source)]
        for key in keys:
            lines.append(f'| {key} | ' + ' | '.join(
                _fmt(values.get(key)) for values in per_source.values()) +
                ' |')
        lines.append('')
    return '\n'.join(lines)


#: A line in BENCHMARKS.md after which the text is written by hand (or by
#: another tool, e.g. tools/benchmarks/odometry.py): regenerating the
#: report keeps it.
KEEP_MARKER = ('<!-- Below: not generated by tools/benchmark.py; kept when '
               'the report is regenerated. -->')


def write_markdown(path: Path, text: str) -> None:
    """Write the report ``text`` to ``path`` atomically, keeping the part of
    an existing ``path`` from :data:`KEEP_MARKER` on."""
    path = Path(path)
    kept = ''
    if path.is_file():
        old = path.read_text()
        if KEEP_MARKER in old:
            kept = old[old.index(KEEP_MARKER):]
    write_text_atomic(path, text.rstrip('\n') + '\n' +
                      ('\n' + kept if kept else ''))


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.num_threads)
    report = dict(
        machine=f'{platform.machine()} {platform.processor() or ""}'.strip(),
        cpu=cpu_description(),
        python=sys.version.split()[0], torch=torch.__version__,
        num_threads=args.num_threads,
        date=time.strftime('%Y-%m-%d %H:%M'), sources={}, topics={})
    with tempfile.TemporaryDirectory(prefix='kdmos_bench_') as tmp:
        roots = {}
        for source in args.source:
            if source == 'real':
                roots[source] = Path(args.sample_root)
                report['sources'][source] = describe_source(roots[source])
                continue
            start = time.perf_counter()
            roots[source] = write_synthetic_source(
                tmp, args.synthetic_scans, args.synthetic_seed,
                args.synthetic_preset, args.synthetic_kitti_poses)
            report['sources'][source] = dict(
                describe_source(roots[source]),
                preset=args.synthetic_preset, seed=args.synthetic_seed,
                trajectory=('KITTI 00 window'
                            if args.synthetic_kitti_poses else 'procedural'),
                generate_s=time.perf_counter() - start)
            print(f"[benchmark] synthetic source: "
                  f"{report['sources'][source]}", flush=True)
        for topic in args.only:
            module = load_topic(topic)
            report['topics'][topic] = {}
            for source, root in roots.items():
                print(f'[benchmark] {topic} on {source} ...', flush=True)
                topic_args = argparse.Namespace(**vars(args))
                topic_args.sample_root = str(root)
                start = time.perf_counter()
                values = module.run(topic_args)
                report['topics'][topic][source] = values
                print(f'[benchmark] {topic} on {source} done in '
                      f'{time.perf_counter() - start:.1f} s', flush=True)
                print(json.dumps(values, indent=1), flush=True)
    write_text_atomic(args.out, json.dumps(report, indent=1))
    if args.markdown:
        write_markdown(Path(args.markdown), to_markdown(report))
    print(f'[benchmark] report written to {args.out}')


if __name__ == '__main__':
    main()

"""Real-time benchmark of the student: every backend side by side (CPU).

``run(args) -> dict`` measures, in one run, on the same scans, the
reference grid (480x360x32) and the same (random, seed 0) weights:

* per backend, packed inputs (``point_feats`` (N, 17) with the causal
  motion channels of the scan's window, ``grid_ind``) -> labels:

  - ``torch_fp32``: the model's own forward (``forward_feats`` +
    ``point_logits``), the reference of every agreement figure;
  - ``graph_fp32`` / ``graph_bf16``: :class:`kdmos_plugin.deploy.
    StudentGraph` (BN folded, channels_last; bf16 decoder and point MLP,
    DySample in float32);
  - ``graph_bf16_compiled``: the same under ``torch.compile`` (inductor,
    weights frozen; ``compile_s`` is the one-off compilation time);
  - ``onnxruntime_fp32``, ``openvino_fp32``, ``openvino_bf16``: the ONNX
    export (``tools/export.py``) in ONNX Runtime and OpenVINO
    (``INFERENCE_PRECISION_HINT`` bf16: AMX);
  - ``literal``: the re-implementation of the published forward
    (``tools/benchmarks/student.py``).

  ``<backend>_ms`` (best of ``repeats`` after a warm-up, 2 threads; the
  scans in turn), ``<backend>_1t_ms`` (the same with 1 thread; the
  compiled graph keeps the thread count it was compiled with), ``<backend>_agreement``
  (fraction of labels equal to ``torch_fp32`` over all scans) and
  ``<backend>_peak_mb`` (what one call adds to the process' peak RSS,
  :func:`common.peak_rss_mb`, measured in this process one backend after
  the other).
* ``streaming_ms``: :class:`~kdmos_plugin.apis.inference.MOSStreamer`
  end to end (new scan + pose in, labels out: alignment of the window,
  causal motion features, voxelisation, the fastest backend), median over
  the scans after the window is full; ``streaming_features_ms`` its part
  before the model, and ``streaming_literal_ms`` the whole-pipeline
  streamer (``incremental=False``) beside it.
* ``best_backend``, ``best_model_ms``, ``best_agreement`` (the fastest
  backend whose agreement is at least 99.5%) and
  ``literal_over_best``.

Targets (``tools/benchmark.py``): ``best_model_ms <= 100``,
``streaming_ms <= 100``, ``best_agreement >= 0.995``,
``literal_over_best >= 10``. Random weights give small logit margins, so
the agreement figures are a pessimistic check of the arithmetic; the
trained model's IoU through each backend is the figure users need.
"""
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (DEFAULT_SAMPLE, GRID, peak_rss_mb,  # noqa: E402
                    topic_main)

#: Backends in the order they are measured.
BACKENDS = ('torch_fp32', 'graph_fp32', 'graph_bf16', 'graph_bf16_compiled',
            'onnxruntime_fp32', 'openvino_fp32', 'openvino_bf16', 'literal')
#: Scans of a stream before the window is full (not timed).
WINDOW = 8


def inference_pipeline():
    """The causal inference pipeline at the reference grid (no labels)."""
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline
    init_default_scope('mmdet3d')
    vox = dict(type='PolarVoxelize', grid_size=list(GRID), num_classes=4)
    steps = [s for s in mos_pipeline(
        7, vox, train=False,
        motion_cfg=dict(type='MOSMotionFeatures', mode='causal'))
        if s['type'] != 'LoadMOSLabels']
    from mmdet3d.registry import TRANSFORMS
    return Compose([TRANSFORMS.build(s) for s in steps])


def packed_sequence(sample_root: Path, pipeline, length: int):
    """Scans, poses and the packed inputs of the last ``length - WINDOW``
    scans of the benchmark sequence (``data.make_sequence``)."""
    from data import make_sequence
    scans, _, poses, _ = make_sequence(sample_root, length)
    names = [f'bench/{i:06d}' for i in range(length)]
    seq_info = dict(lidar_paths=names, lidar_poses=poses, sequence='bench',
                    scan_cache=dict(enumerate(scans)))
    packed = [pipeline(dict(lidar_path=names[t], scan_index=t,
                            seq_info=seq_info, sequence='bench',
                            frame_id=t))
              for t in range(WINDOW - 1, length)]
    return scans, poses, packed


def make_backends(model, threads: int, compile_graph: bool) -> Dict:
    """name -> ``f(point_feats, grid_ind) -> (N, C) logits`` (numpy)."""
    from student import literal_forward, literal_model

    from kdmos_plugin.deploy import build_backend
    out = {}
    torch_be = build_backend('torch', model)
    out['torch_fp32'] = torch_be.logits
    out['graph_fp32'] = build_backend('torch', model, graph=True).logits
    out['graph_bf16'] = build_backend('torch', model,
                                      precision='bf16').logits
    if compile_graph:
        compiled = build_backend('torch', model, precision='bf16',
                                 compile=True)
        out['graph_bf16_compiled'] = compiled.logits
    ort = build_backend('onnxruntime', model, threads=threads)
    out['onnxruntime_fp32'] = ort.logits
    out['openvino_fp32'] = build_backend('openvino', onnx=ort.onnx,
                                         threads=threads,
                                         precision='fp32').logits
    out['openvino_bf16'] = build_backend('openvino', onnx=ort.onnx,
                                         threads=threads,
                                         precision='bf16').logits
    literal = literal_model(model)

    def run_literal(feats, ind):
        batch = dict(points=[feats[:, :4]], point_feats=[feats],
                     grid_ind=[ind])
        with torch.inference_mode():
            labels = literal_forward(literal, batch)
        # one-hot "logits" of the literal labels, for the agreement
        return np.eye(model.num_classes, dtype=np.float32)[labels.numpy()]

    out['literal'] = run_literal
    out['_keep'] = (torch_be, ort)  # the temporary ONNX file lives on
    return out


#: Built once a process and shared by the sources of one benchmark run:
#: the model (seed 0, so the same weights for every source) and its
#: backends per thread count (ONNX export, OpenVINO compilations,
#: ``torch.compile``: the slow part of the topic).
_SHARED: Dict = {}


class _Phases:
    """Wall time of the topic's phases, ``time_<phase>_s`` in the result."""

    def __init__(self) -> None:
        self.times: Dict[str, float] = {}

    def __call__(self, name: str):
        phases = self

        class _Timer:

            def __enter__(self):
                self.start = time.perf_counter()

            def __exit__(self, *exc):
                phases.times[f'time_{name}_s'] = phases.times.get(
                    f'time_{name}_s', 0.0) + time.perf_counter() - self.start

        return _Timer()


def _shared_model():
    if 'model' not in _SHARED:
        from student import build_model
        torch.manual_seed(0)
        _SHARED['model'] = build_model()
    return _SHARED['model']


def _shared_backends(model, threads: int, compile_graph: bool,
                     result: Dict[str, float]) -> Dict:
    """:func:`make_backends` at ``threads``, built (and the graph compiled,
    ``compile_s``) on the first source only."""
    key = ('backends', threads, compile_graph)
    if key not in _SHARED:
        backends = make_backends(model, threads, compile_graph)
        if compile_graph:  # the first call compiles
            feats, ind = _SHARED['compile_inputs']
            t0 = time.perf_counter()
            backends['graph_bf16_compiled'](feats, ind)
            _SHARED['compile_s'] = time.perf_counter() - t0
        _SHARED[key] = backends
    if compile_graph:
        result['compile_s'] = _SHARED['compile_s']
    return dict(_SHARED[key])


def _timed(fn, inputs, runs: int):
    """``runs`` timed calls cycling over ``inputs``: (seconds, outputs of
    the first pass over the inputs)."""
    times, outs = [], []
    for i in range(runs):
        t0 = time.perf_counter()
        out = fn(*inputs[i % len(inputs)])
        times.append(time.perf_counter() - t0)
        if i < len(inputs):
            outs.append(out)
    return times, outs


def run(args) -> Dict[str, float]:
    """Measure every backend and the streamer. ``args`` may carry
    ``repeats`` (3), ``num_threads`` (2), ``sample_root``,
    ``realtime_scans`` (12: 8 to fill the window, then the measured ones),
    ``skip_compile`` (False) and ``skip_memory`` (False).

    Cost (idle 2 cores, defaults): the backends are built once a process
    (ONNX export, 2 OpenVINO compilations, ``torch.compile`` about 1-2
    minutes), so a second source only runs the scans; at 2 threads one
    pass over the measured scans per backend gives both its timings and
    its labels; at 1 thread ``repeats`` runs (the literal forward 2).
    ``time_<phase>_s`` says where the time went.
    """
    wall = time.perf_counter()
    phases = _Phases()
    repeats = int(getattr(args, 'repeats', None) or 3)
    threads = int(getattr(args, 'num_threads', None) or 2)
    length = int(getattr(args, 'realtime_scans', None) or 12)
    sample_root = Path(getattr(args, 'sample_root', None) or DEFAULT_SAMPLE)
    compile_graph = not getattr(args, 'skip_compile', False)
    torch.set_num_threads(threads)
    with phases('model'):
        model = _shared_model()
        pipeline = inference_pipeline()
    with phases('pipeline'):
        scans, poses, packed = packed_sequence(sample_root, pipeline, length)
    inputs = [(p['inputs']['point_feats'], p['inputs']['grid_ind'])
              for p in packed]
    _SHARED.setdefault('compile_inputs', inputs[0])
    result: Dict[str, float] = dict(
        num_points=float(np.mean([len(f) for f, _ in inputs])),
        num_scans_measured=float(len(inputs)), num_threads=float(threads))
    with phases('build'):
        backends = _shared_backends(model, threads, compile_graph, result)
    keep = backends.pop('_keep')
    # 2 threads: a warm-up, then one pass over the scans (at least
    # ``repeats`` runs) gives the timings and the labels
    runs = max(repeats, len(inputs))
    outs = {}
    with phases('latency'):
        for name, fn in backends.items():
            if name != 'literal':  # ~2 s a scan: no warm-up
                fn(*inputs[0])
            ts, outs[name] = _timed(fn, inputs, len(inputs)
                                    if name == 'literal' else runs)
            result[f'{name}_ms'] = 1000 * min(ts)
            result[f'{name}_median_ms'] = 1000 * statistics.median(ts)
    ref = outs['torch_fp32']
    total = sum(len(r) for r in ref)
    for name, out in outs.items():
        same = sum(float((o.argmax(1) == r.argmax(1)).sum())
                   for o, r in zip(out, ref))
        result[f'{name}_agreement'] = same / total
    # 1 thread: the ONNX sessions again (their thread count is fixed),
    # the torch backends follow torch.set_num_threads
    torch.set_num_threads(1)
    with phases('build_1t'):
        if ('single', compile_graph) not in _SHARED:
            _SHARED[('single', compile_graph)] = _with_threads(
                backends, model, 1, compile_graph, keep)
        single = dict(_SHARED[('single', compile_graph)])
    with phases('latency_1t'):
        for name, fn in single.items():
            if name != 'literal':
                fn(*inputs[0])
            ts, _ = _timed(fn, inputs, 2 if name == 'literal' else repeats)
            result[f'{name}_1t_ms'] = 1000 * min(ts)
            result[f'{name}_1t_median_ms'] = 1000 * statistics.median(ts)
    torch.set_num_threads(threads)
    if not getattr(args, 'skip_memory', False):
        with phases('memory'):
            for name, fn in backends.items():
                if name != 'literal':
                    result[f'{name}_peak_mb'] = peak_rss_mb(
                        lambda: fn(*inputs[0]))
    ok = [k for k in backends if k not in ('literal', 'torch_fp32') and
          result[f'{k}_agreement'] >= 0.995]
    best = min(ok or ['torch_fp32'], key=lambda k: result[f'{k}_ms'])
    result['best_model_ms'] = result[f'{best}_ms']
    result['best_model_1t_ms'] = result[f'{best}_1t_ms']
    result['best_agreement'] = result[f'{best}_agreement']
    result['literal_over_best'] = result['literal_ms'] / result[f'{best}_ms']
    result['torch_fp32_over_best'] = result['torch_fp32_ms'] / \
        result[f'{best}_ms']
    with phases('streaming'):
        result.update(_streaming(model, pipeline, scans, poses, best,
                                 threads, keep, backends))
    result['best_backend'] = best
    result['load_average_1min'] = os.getloadavg()[0]
    result.update(phases.times)
    result['time_total_s'] = time.perf_counter() - wall
    return result


def _options(name: str, threads: int, keep) -> dict:
    """``build_backend`` arguments of a benchmark backend name."""
    if name == 'torch_fp32':
        return dict(name='torch')
    if name == 'graph_fp32':
        return dict(name='torch', graph=True)
    if name == 'graph_bf16':
        return dict(name='torch', precision='bf16')
    if name == 'graph_bf16_compiled':
        return dict(name='torch', precision='bf16', compile=True)
    runtime, precision = name.rsplit('_', 1)
    opts = dict(name=runtime, onnx=keep[1].onnx, threads=threads)
    if runtime == 'openvino':
        opts['precision'] = precision
    return opts


def _with_threads(backends: Dict, model, threads: int, compile_graph: bool,
                  keep) -> Dict:
    """The ONNX runtimes again with ``threads`` (their sessions fix it);
    the torch ones follow ``torch.set_num_threads``."""
    from kdmos_plugin.deploy import build_backend
    out = dict(backends)
    for name in ('onnxruntime_fp32', 'openvino_fp32', 'openvino_bf16'):
        opts = _options(name, threads, keep)
        out[name] = build_backend(opts.pop('name'), **opts).logits
    return out


def _streaming(model, pipeline, scans, poses, best: str, threads: int,
               keep, backends: Dict) -> Dict[str, float]:
    """MOSStreamer end to end with the ``best`` backend (incremental and
    whole-pipeline), and its feature part alone."""
    from kdmos_plugin.apis.inference import MOSStreamer
    from kdmos_plugin.deploy import BaseBackend

    class _Built(BaseBackend):  # the measured backend, not a rebuilt one
        def logits(self, point_feats, grid_ind, name='scan'):
            return backends[best](point_feats, grid_ind)

    backend = _Built()
    out = {}
    for key, incremental in (('streaming', True),
                             ('streaming_literal', False)):
        streamer = MOSStreamer(model, pipeline, backend=backend,
                               incremental=incremental)
        times, feats = [], []
        features = streamer._incremental_packed

        def timed(*a, **k):  # the part of a step before the model
            t0 = time.perf_counter()
            packed = features(*a, **k)
            feats.append(time.perf_counter() - t0)
            return packed

        streamer._incremental_packed = timed
        for i, (pts, pose) in enumerate(zip(scans, poses)):
            t0 = time.perf_counter()
            streamer.step(pts, pose)
            if i >= WINDOW:
                times.append(time.perf_counter() - t0)
        feats = feats[WINDOW:]
        out[f'{key}_ms'] = 1000 * statistics.median(times)
        out[f'{key}_best_ms'] = 1000 * min(times)
        if feats:
            out['streaming_features_ms'] = 1000 * statistics.median(feats)
    return out


def markdown_tables(per_source: Dict[str, Dict]) -> List[str]:
    """Markdown lines of the topic's summary: one row a backend, for each
    source its latency at 2 and 1 threads [ms], label agreement with
    ``torch_fp32`` and peak memory [MB]; then the targets' figures
    (published forward, streaming end to end) side by side."""
    sources = list(per_source)
    head = '| backend | ' + ' | '.join(
        f'{s} ms (2t) | {s} ms (1t) | {s} labels = fp32 | {s} peak MB'
        for s in sources) + ' |'
    lines = ['### Backends side by side', '',
             'Peak MB: what one more call adds to the peak RSS after a '
             'warm-up; a runtime that keeps its buffers between calls '
             '(OpenVINO) adds almost nothing.', '', head,
             '|---|' + '---|---|---|---|' * len(sources)]

    def cell(values, key, fmt):
        value = values.get(key)
        return '-' if value is None else fmt.format(value)

    for name in BACKENDS:
        if not any(f'{name}_ms' in v for v in per_source.values()):
            continue
        cells = []
        for values in per_source.values():
            cells += [cell(values, f'{name}_ms', '{:.0f}'),
                      cell(values, f'{name}_1t_ms', '{:.0f}'),
                      cell(values, f'{name}_agreement', '{:.4%}'),
                      cell(values, f'{name}_peak_mb', '{:.0f}')]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    lines += ['', '| figure | ' + ' | '.join(sources) + ' |',
              '|---|' + '---|' * len(sources)]
    for key, label in (('best_backend', 'fastest backend with >= 99.5% '
                        'labels'),
                       ('best_model_ms', 'its latency, 2 threads [ms]'),
                       ('best_model_1t_ms', 'its latency, 1 thread [ms]'),
                       ('literal_ms', 'published forward, 2 threads [ms]'),
                       ('literal_over_best', 'published forward / fastest'),
                       ('streaming_ms', 'streaming end to end [ms]'),
                       ('streaming_features_ms', 'of which features [ms]'),
                       ('streaming_literal_ms',
                        'streaming, whole pipeline [ms]'),
                       ('time_total_s', 'topic run time [s]')):
        row = []
        for values in per_source.values():
            value = values.get(key)
            row.append('-' if value is None else value if isinstance(
                value, str) else f'{value:.3g}')
        lines.append(f'| {label} | ' + ' | '.join(row) + ' |')
    return lines + ['']


def main(argv=None) -> None:
    topic_main(argv, __doc__, run, repeats=3, num_threads=2,
               extra_args={'--realtime-scans': dict(type=int, default=12),
                           '--skip-compile': dict(action='store_true'),
                           '--skip-memory': dict(action='store_true')})


if __name__ == '__main__':
    main()

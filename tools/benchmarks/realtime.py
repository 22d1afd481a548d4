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
from typing import Dict

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


def run(args) -> Dict[str, float]:
    """Measure every backend and the streamer. ``args`` may carry
    ``repeats`` (3), ``num_threads`` (2), ``sample_root``,
    ``realtime_scans`` (12: 8 to fill the window, then the measured ones)
    and ``skip_compile`` (False)."""
    repeats = int(getattr(args, 'repeats', None) or 3)
    threads = int(getattr(args, 'num_threads', None) or 2)
    length = int(getattr(args, 'realtime_scans', None) or 12)
    sample_root = Path(getattr(args, 'sample_root', None) or DEFAULT_SAMPLE)
    compile_graph = not getattr(args, 'skip_compile', False)
    from student import build_model
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model()
    pipeline = inference_pipeline()
    scans, poses, packed = packed_sequence(sample_root, pipeline, length)
    inputs = [(p['inputs']['point_feats'], p['inputs']['grid_ind'])
              for p in packed]
    result: Dict[str, float] = dict(
        num_points=float(np.mean([len(f) for f, _ in inputs])),
        num_scans_measured=float(len(inputs)), num_threads=float(threads))
    backends = make_backends(model, threads, compile_graph)
    keep = backends.pop('_keep')
    if compile_graph:  # the first call compiles
        t0 = time.perf_counter()
        backends['graph_bf16_compiled'](*inputs[0])
        result['compile_s'] = time.perf_counter() - t0
    ref = [backends['torch_fp32'](f, i) for f, i in inputs]
    for name, fn in backends.items():
        outs = [fn(f, i) for f, i in inputs]
        same = sum(float((o.argmax(1) == r.argmax(1)).sum())
                   for o, r in zip(outs, ref))
        result[f'{name}_agreement'] = same / sum(len(r) for r in ref)
    # latency, 2 threads then 1, backends interleaved per repeat
    for suffix, n in (('', threads), ('_1t', 1)):
        torch.set_num_threads(n)
        if n != threads:
            backends = _with_threads(backends, model, n, compile_graph,
                                     keep)
        times = {k: [] for k in backends}
        for name, fn in backends.items():  # warm-up
            fn(*inputs[0])
        for _ in range(repeats):
            for name, fn in backends.items():
                if name == 'literal' and len(times[name]) >= 2:
                    continue  # ~2 s a scan: two runs are enough
                t0 = time.perf_counter()
                fn(*inputs[len(times[name]) % len(inputs)])
                times[name].append(time.perf_counter() - t0)
        for name, ts in times.items():
            result[f'{name}{suffix}_ms'] = 1000 * min(ts)
            result[f'{name}{suffix}_median_ms'] = 1000 * statistics.median(ts)
    torch.set_num_threads(threads)
    backends = _with_threads(backends, model, threads, compile_graph, keep)
    if not getattr(args, 'skip_memory', False):
        for name, fn in backends.items():
            if name != 'literal':
                result[f'{name}_peak_mb'] = peak_rss_mb(
                    lambda: fn(*inputs[0]))
    ok = [k for k in backends if k not in ('literal', 'torch_fp32') and
          result[f'{k}_agreement'] >= 0.995]
    best = min(ok or ['torch_fp32'], key=lambda k: result[f'{k}_ms'])
    result['best_model_ms'] = result[f'{best}_ms']
    result['best_agreement'] = result[f'{best}_agreement']
    result['literal_over_best'] = result['literal_ms'] / result[f'{best}_ms']
    result['torch_fp32_over_best'] = result['torch_fp32_ms'] / \
        result[f'{best}_ms']
    result.update(_streaming(model, pipeline, scans, poses, best, threads,
                             keep))
    result['best_backend'] = best
    result['load_average_1min'] = os.getloadavg()[0]
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
               keep) -> Dict[str, float]:
    """MOSStreamer end to end with the ``best`` backend (incremental and
    whole-pipeline), and its feature part alone."""
    from kdmos_plugin.apis.inference import MOSStreamer
    from kdmos_plugin.deploy import build_backend
    opts = _options(best, threads, keep)
    backend = build_backend(opts.pop('name'), model, **opts)
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


def main(argv=None) -> None:
    topic_main(argv, __doc__, run, repeats=3, num_threads=2,
               extra_args={'--realtime-scans': dict(type=int, default=12),
                           '--skip-compile': dict(action='store_true'),
                           '--skip-memory': dict(action='store_true')})


if __name__ == '__main__':
    main()

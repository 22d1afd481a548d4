"""Run an exported student with ONNX Runtime or OpenVINO: numpy only.

This file imports neither torch nor the rest of kdmos_plugin, so a
deployment can copy it alone beside the ``.onnx`` file (``pip install
onnxruntime`` or ``openvino``, and numpy)::

    python onnx_runtime.py student.onnx --inputs scan.npz --out logits.npz \\
        [--runtime onnxruntime|openvino] [--threads 2] [--precision bf16]

``scan.npz`` holds ``point_feats`` (N, F) float32 and ``grid_ind`` (N, 3)
int64; ``logits.npz`` gets ``logits`` (N, C) float32 and ``labels`` (N,)
int64. The model's metadata (written by ``tools/export.py``) names the grid
and the channel count, and the inputs are checked against it.

>>> session = OnnxStudent('student.onnx', runtime='onnxruntime', threads=2)
>>> logits = session(point_feats, grid_ind)        # (N, C) float32
"""
import argparse
import json
import os
import sys
import tempfile
from typing import Dict, Optional

import numpy as np

#: Runtimes :class:`OnnxStudent` can use.
RUNTIMES = ('onnxruntime', 'openvino')
#: Key of the metadata entry written by the exporter.
META_KEY = 'kdmos_student'
#: Input and output names of the exported graph.
INPUT_NAMES = ('point_feats', 'grid_ind')
OUTPUT_NAME = 'logits'


def read_metadata(path: str) -> Dict:
    """The exporter's metadata of an ONNX file (grid_size, num_classes,
    feat_channels, ...), read with onnxruntime if present, else the onnx
    package.

    Raises:
        ValueError: The file holds no ``kdmos_student`` metadata.
    """
    props = None
    try:
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        props = ort.InferenceSession(
            path, opts, providers=['CPUExecutionProvider']
        ).get_modelmeta().custom_metadata_map
    except ImportError:
        import onnx
        model = onnx.load(path, load_external_data=False)
        props = {p.key: p.value for p in model.metadata_props}
    if META_KEY not in props:
        raise ValueError(f'{path}: no {META_KEY!r} metadata; export the '
                         f'student with tools/export.py')
    return json.loads(props[META_KEY])


class OnnxStudent:
    """An exported student in ONNX Runtime or OpenVINO.

    Args:
        path (str): The ``.onnx`` file of ``tools/export.py``.
        runtime (str): ``'onnxruntime'`` or ``'openvino'``.
        threads (int, optional): Intra-op threads (None: the runtime's
            default).
        precision (str, optional): OpenVINO's inference precision hint
            (``'bf16'`` uses AMX where the CPU has it, ``'fp32'`` keeps
            float32); ignored by ONNX Runtime (float32).
    """

    def __init__(self, path: str, runtime: str = 'onnxruntime',
                 threads: Optional[int] = None,
                 precision: Optional[str] = None) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f'OnnxStudent: runtime must be one of '
                             f'{RUNTIMES}, got {runtime!r}')
        if not os.path.isfile(path):
            raise FileNotFoundError(f'OnnxStudent: no model file {path}')
        self.path = path
        self.runtime = runtime
        self.meta = read_metadata(path)
        if runtime == 'onnxruntime':
            import onnxruntime as ort
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = int(threads)
                opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(
                path, opts, providers=['CPUExecutionProvider'])
            self._run = lambda feeds: self._session.run(
                [OUTPUT_NAME], feeds)[0]
        else:
            import openvino as ov
            core = ov.Core()
            config = {}
            if threads:
                config['INFERENCE_NUM_THREADS'] = int(threads)
            if precision:
                config['INFERENCE_PRECISION_HINT'] = {
                    'bf16': 'bf16', 'fp32': 'f32', 'fp16': 'f16'
                }[precision]
            compiled = core.compile_model(core.read_model(path), 'CPU',
                                          config)
            self._request = compiled.create_infer_request()
            self._run = lambda feeds: self._request.infer(feeds)[
                compiled.output(0)].copy()

    @property
    def feat_channels(self) -> int:
        return int(self.meta['feat_channels'])

    def check(self, point_feats: np.ndarray, grid_ind: np.ndarray,
              name: str = 'scan') -> None:
        """Raise a ValueError naming ``name`` if the inputs do not fit the
        exported model."""
        f = self.feat_channels
        if point_feats.ndim != 2 or point_feats.shape[1] != f:
            raise ValueError(f'{name}: point_feats must be (N, {f}) for '
                             f'{self.path}, got {point_feats.shape}')
        if grid_ind.shape != (len(point_feats), 3):
            raise ValueError(f'{name}: grid_ind must be ({len(point_feats)}, '
                             f'3), got {grid_ind.shape}')
        if len(grid_ind):
            size = np.asarray(self.meta['grid_size'])
            if (grid_ind.min(0) < 0).any() or (grid_ind.max(0) >= size).any():
                raise ValueError(
                    f'{name}: grid_ind spans {grid_ind.min(0).tolist()}..'
                    f'{grid_ind.max(0).tolist()}, outside the grid '
                    f'{size.tolist()} of {self.path}')

    def __call__(self, point_feats: np.ndarray, grid_ind: np.ndarray,
                 name: str = 'scan') -> np.ndarray:
        """(N, F) float32 and (N, 3) int64 -> (N, C) float32 logits."""
        point_feats = np.ascontiguousarray(point_feats, dtype=np.float32)
        grid_ind = np.ascontiguousarray(grid_ind, dtype=np.int64)
        self.check(point_feats, grid_ind, name)
        if len(point_feats) == 0:
            return np.zeros((0, int(self.meta['num_classes'])), np.float32)
        return self._run({INPUT_NAMES[0]: point_feats,
                          INPUT_NAMES[1]: grid_ind})


def _save_npz_atomic(path: str, **arrays) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix='.npz.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('model', help='.onnx file of tools/export.py')
    parser.add_argument('--inputs', required=True,
                        help='.npz with point_feats and grid_ind')
    parser.add_argument('--out', required=True, help='.npz to write')
    parser.add_argument('--runtime', choices=RUNTIMES, default='onnxruntime')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--precision', choices=('fp32', 'bf16', 'fp16'))
    args = parser.parse_args(argv)
    # allow_pickle=False: an .npz we read never runs code
    with np.load(args.inputs, allow_pickle=False) as data:
        missing = [k for k in INPUT_NAMES if k not in data.files]
        if missing:
            raise ValueError(f'{args.inputs}: missing arrays {missing}')
        feats, ind = data['point_feats'], data['grid_ind']
    student = OnnxStudent(args.model, args.runtime, args.threads,
                          args.precision)
    logits = student(feats, ind, name=args.inputs)
    _save_npz_atomic(args.out, logits=logits,
                     labels=logits.argmax(1).astype(np.int64))
    print(json.dumps(dict(points=len(logits), runtime=args.runtime,
                          torch_imported='torch' in sys.modules)))


if __name__ == '__main__':
    main()

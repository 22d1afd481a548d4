"""Inference backends behind one switch: ``torch``, ``onnxruntime``,
``openvino``.

A backend maps one packed scan (the ``inputs`` of ``PackMOSInputs``:
``point_feats`` (N, F), ``grid_ind`` (N, 3)) to per-point logits (N, C)
float32. ``tools/infer.py --backend`` and
:class:`~kdmos_plugin.apis.inference.MOSStreamer` build theirs with
:func:`build_backend`:

========================  =====================================================
``torch``                 the model's own forward (fp32; any MOS segmentor),
                          or with ``precision='bf16'|'fp16'`` (or
                          ``graph=True``) the student as
                          :class:`~.student_graph.StudentGraph`: BN folded,
                          channels_last, reduced precision, ``compile=True``
                          for ``torch.compile`` (inductor)
``onnxruntime``           the exported ONNX graph in ONNX Runtime (float32)
``openvino``              the same file in OpenVINO (``precision='bf16'``
                          runs AMX bf16 on CPUs that have it)
========================  =====================================================

The ONNX backends take ``onnx=PATH`` (a file of ``tools/export.py``) or
export the given model into a temporary file first.

:func:`use_backend_` makes a segmentor's ``predict`` (and so mmengine's
test loop: ``tools/test.py --backend``) run through a backend.
"""
import os
import shutil
import tempfile
from typing import Callable, Dict, List, Optional, Union

import numpy as np
import torch
from torch import nn

from .onnx_runtime import OnnxStudent
from .student_graph import PRECISIONS, StudentGraph, check_inputs

ArrayLike = Union[np.ndarray, torch.Tensor]
#: name -> backend class; :func:`register_backend` adds to it.
BACKENDS: Dict[str, Callable] = {}


def register_backend(name: str) -> Callable:
    """Class decorator: make a backend buildable by ``name``."""

    def wrap(cls):
        if name in BACKENDS:
            raise KeyError(f'backend {name!r} is already registered')
        BACKENDS[name] = cls
        cls.name = name
        return cls

    return wrap


def build_backend(name: str, model: Optional[nn.Module] = None,
                  **options) -> 'BaseBackend':
    """Build the backend ``name`` (see the module docstring).

    Args:
        name (str): ``'torch'``, ``'onnxruntime'`` or ``'openvino'``.
        model (nn.Module, optional): The trained model (needed by
            ``torch``, and by the ONNX backends without ``onnx``).
        **options: The backend's keyword arguments.
    """
    if name not in BACKENDS:
        raise ValueError(f'unknown backend {name!r}; choose one of '
                         f'{sorted(BACKENDS)}')
    return BACKENDS[name](model, **options)


class BaseBackend:
    """Per-point logits of packed scans."""

    name = 'base'

    def logits(self, point_feats: ArrayLike, grid_ind: ArrayLike,
               name: str = 'scan') -> np.ndarray:
        """(N, F) float32, (N, 3) int64 -> (N, C) float32 logits."""
        raise NotImplementedError

    def predict_packed(self, packed: List[dict]) -> List[np.ndarray]:
        """(N_b,) int64 train ids of every packed sample."""
        out = []
        for sample in packed:
            inputs = sample['inputs']
            name = str(sample['data_samples'].metainfo.get(
                'lidar_path', 'scan')) if 'data_samples' in sample else 'scan'
            logits = self.logits(inputs['point_feats'], inputs['grid_ind'],
                                 name)
            out.append(np.asarray(logits).argmax(1).astype(np.int64))
        return out


@register_backend('torch')
class TorchBackend(BaseBackend):
    """PyTorch: the model itself, or the fast student graph.

    Args:
        model (nn.Module): A MOS segmentor in eval mode.
        precision (str): ``'fp32'``, ``'bf16'`` or ``'fp16'`` (the last two
            run the student as a :class:`StudentGraph`).
        graph (bool, optional): Use the student graph in fp32 too (BN
            folded, channels_last); default: only for reduced precision.
        channels_last (bool, optional): For the graph; default True.
        compile (bool): ``torch.compile`` the graph's decoder (inductor,
            weights frozen; the first scan pays the compilation, about 1-2
            minutes on 2 cores).
    """

    def __init__(self, model: nn.Module, precision: str = 'fp32',
                 graph: Optional[bool] = None,
                 channels_last: Optional[bool] = None,
                 compile: bool = False) -> None:
        if model is None:
            raise ValueError("backend 'torch' needs the model")
        if precision not in PRECISIONS:
            raise ValueError(f'precision must be one of {sorted(PRECISIONS)}'
                             f', got {precision!r}')
        self.model = model
        self.precision = precision
        use_graph = graph if graph is not None else (precision != 'fp32' or
                                                     compile)
        self.graph = None
        self._forward = None
        if use_graph:
            self.graph = StudentGraph(
                model, precision,
                channels_last if channels_last is not None else True)
            self._forward = self.graph
            if compile:
                # the decoder only: its shapes are fixed by the grid (the
                # point part has data-dependent sizes and stays eager);
                # freezing lets inductor fold the weights and fuse each
                # convolution with its activation
                import torch._inductor.config as inductor_config
                inductor_config.freezing = True
                self.graph.decode = torch.compile(self.graph.decode,
                                                  dynamic=False)
        elif compile:
            raise ValueError('compile=True needs the student graph')

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def logits(self, point_feats: ArrayLike, grid_ind: ArrayLike,
               name: str = 'scan') -> np.ndarray:
        feats = torch.as_tensor(point_feats, dtype=torch.float32,
                                device=self.device)
        ind = torch.as_tensor(grid_ind, dtype=torch.int64,
                              device=self.device)
        with torch.inference_mode():
            if self.graph is not None:
                check_inputs(self.graph, feats, ind, name)
                out = self._forward(feats, ind)
            else:
                batch = dict(points=[feats[:, :4]], point_feats=[feats],
                             grid_ind=[ind])
                out = self.model.point_logits(
                    self.model.forward_feats(batch), batch)
        return out.float().cpu().numpy()

    def predict_packed(self, packed: List[dict]) -> List[np.ndarray]:
        if self.graph is not None:
            return super().predict_packed(packed)
        from mmengine.dataset import pseudo_collate
        with torch.inference_mode():
            data = self.model.data_preprocessor(pseudo_collate(packed),
                                                False)
            samples = self.model.predict(data['inputs'],
                                         data['data_samples'])
        return [s.pred_pts_seg.pts_semantic_mask.cpu().numpy()
                for s in samples]


class _OnnxBackend(BaseBackend):
    """An exported student in an ONNX runtime (see :class:`OnnxStudent`).

    Args:
        model (nn.Module, optional): Exported into a temporary file when
            ``onnx`` is not given.
        onnx (str, optional): The ``.onnx`` file of ``tools/export.py``.
        threads (int, optional): Intra-op threads (default: torch's
            current number of threads).
        precision (str, optional): OpenVINO inference precision.
    """

    runtime = ''

    def __init__(self, model: Optional[nn.Module] = None,
                 onnx: Optional[str] = None, threads: Optional[int] = None,
                 precision: Optional[str] = None) -> None:
        self._tmp = None
        if onnx is None:
            if model is None:
                raise ValueError(f'backend {self.name!r} needs onnx=PATH or '
                                 f'the model to export')
            from .onnx_export import export_onnx
            self._tmp = tempfile.mkdtemp(prefix='kdmos_onnx_')
            onnx = os.path.join(self._tmp, 'student.onnx')
            export_onnx(model, onnx)
        self.onnx = onnx
        self.session = OnnxStudent(onnx, self.runtime,
                                   threads or torch.get_num_threads(),
                                   precision)

    def logits(self, point_feats: ArrayLike, grid_ind: ArrayLike,
               name: str = 'scan') -> np.ndarray:
        if isinstance(point_feats, torch.Tensor):
            point_feats = point_feats.cpu().numpy()
        if isinstance(grid_ind, torch.Tensor):
            grid_ind = grid_ind.cpu().numpy()
        return self.session(point_feats, grid_ind, name)

    def __del__(self) -> None:
        if getattr(self, '_tmp', None):
            shutil.rmtree(self._tmp, ignore_errors=True)


@register_backend('onnxruntime')
class OnnxRuntimeBackend(_OnnxBackend):
    """ONNX Runtime (CPU execution provider, float32)."""
    runtime = 'onnxruntime'


@register_backend('openvino')
class OpenVINOBackend(_OnnxBackend):
    """OpenVINO (CPU; ``precision='bf16'`` for AMX bf16)."""
    runtime = 'openvino'


def use_backend_(model: nn.Module, backend: BaseBackend) -> nn.Module:
    """Make ``model.predict`` compute its logits with ``backend``, in place.

    ``encode_decode`` (the per-point logits of a batch, which ``predict``
    turns into labels) is replaced on the instance by one backend call a
    sample, so the metrics of mmengine's test loop are those of the
    backend. Training is unchanged (``loss`` never calls it).

    Args:
        model (nn.Module): A MOS segmentor (eval mode) whose batches hold
            ``point_feats`` and ``grid_ind`` lists (the BEV student).
        backend (BaseBackend): From :func:`build_backend`.

    Returns:
        nn.Module: ``model``.
    """

    def encode_decode(batch_inputs: dict, batch_data_samples=None):
        feats, inds = batch_inputs['point_feats'], batch_inputs['grid_ind']
        names = [str(ds.metainfo.get('lidar_path', f'sample {i}'))
                 for i, ds in enumerate(batch_data_samples or [])] or \
            [f'sample {i}' for i in range(len(feats))]
        device = feats[0].device if len(feats) else torch.device('cpu')
        logits = [torch.from_numpy(np.ascontiguousarray(
            backend.logits(f, g, name))) for f, g, name in zip(feats, inds,
                                                               names)]
        return torch.cat(logits).to(device)

    model.encode_decode = encode_decode
    return model

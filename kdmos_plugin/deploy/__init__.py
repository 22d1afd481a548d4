"""Fast inference paths and exported runtimes of the student.

* :mod:`.fusion`: BatchNorm folding and reduced precision (bf16/fp16,
  channels_last) for any module tree.
* :mod:`.student_graph`: the student as one export-friendly graph (one scan:
  point features + grid indices in, per-point logits out).
* :mod:`.onnx_export`: ONNX export of that graph (``tools/export.py``).
* :mod:`.onnx_runtime`: ONNX Runtime / OpenVINO sessions, numpy only (no
  torch import; the file can be copied alone).
* :mod:`.backends`: the ``torch`` / ``onnxruntime`` / ``openvino`` switch
  used by ``tools/infer.py`` and the streaming API.
"""
from .backends import (BACKENDS, BaseBackend, build_backend, register_backend,
                       use_backend_)
from .fusion import Float32Island, fuse_conv_bn_, to_reduced_precision_
from .onnx_export import export_onnx
from .onnx_runtime import OnnxStudent
from .student_graph import PRECISIONS, StudentGraph

__all__ = [
    'BACKENDS', 'BaseBackend', 'build_backend', 'register_backend',
    'use_backend_',
    'Float32Island', 'fuse_conv_bn_', 'to_reduced_precision_', 'export_onnx',
    'OnnxStudent', 'PRECISIONS', 'StudentGraph'
]

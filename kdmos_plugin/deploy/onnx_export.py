"""Export the student to ONNX: point features + grid indices in, logits out.

The graph is :class:`~.student_graph.StudentGraph` in float32 (BatchNorms
folded), traced by torch's TorchScript-based exporter at opset 18 with a
dynamic point count. Runtimes choose their precision at load time
(OpenVINO's ``INFERENCE_PRECISION_HINT``, TensorRT's ``--bf16/--fp16``).
"""
import json
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from ..utils.atomic_files import atomic_path
from .onnx_runtime import INPUT_NAMES, META_KEY, OUTPUT_NAME
from .student_graph import StudentGraph

#: ONNX opset of the export (ScatterElements with ``max`` needs 18).
OPSET = 18


def example_inputs(graph: StudentGraph, num_points: int = 4096,
                   seed: int = 0) -> Tuple[Tensor, Tensor]:
    """Random point features (N, F) and cells (N, 3) inside the grid, with
    several points per pillar (the trace needs no particular values)."""
    gen = torch.Generator().manual_seed(seed)
    r, p, z = graph.grid_size
    cells = torch.stack([torch.randint(0, n, (num_points // 4, ),
                                       generator=gen) for n in (r, p, z)], 1)
    grid_ind = cells.repeat(4, 1)
    grid_ind[:, 2] = torch.randint(0, z, (len(grid_ind), ), generator=gen)
    feats = torch.randn(len(grid_ind), graph.feat_channels, generator=gen)
    return feats, grid_ind


def export_onnx(model: nn.Module, out: str, opset: int = OPSET,
                example: Optional[Tuple[Tensor, Tensor]] = None,
                extra_meta: Optional[dict] = None) -> dict:
    """Write ``model`` (a student) as ONNX to ``out``, atomically.

    Args:
        model (nn.Module): A :class:`KDMOSStudent` (copied, not changed).
        out (str): The ``.onnx`` file; its folder is created. An existing
            file is replaced only once the new one is complete.
        opset (int): ONNX opset (>= 18).
        example (tuple, optional): (point_feats, grid_ind) to trace with.
        extra_meta (dict, optional): More metadata (e.g. the config path).

    Returns:
        dict: The metadata stored under ``kdmos_student`` in the file.
    """
    import onnx
    if opset < 18:
        raise ValueError(f'export_onnx: opset {opset} < 18 has no '
                         f'ScatterElements max reduction')
    graph = StudentGraph(model, precision='fp32', channels_last=False).cpu()
    feats, ind = example if example is not None else example_inputs(graph)
    meta = dict(grid_size=list(graph.grid_size),
                num_classes=graph.num_classes,
                feat_channels=graph.feat_channels,
                in_channels=graph.in_channels,
                motion_channels=graph.motion_channels,
                inputs=list(INPUT_NAMES), output=OUTPUT_NAME, opset=opset,
                **(extra_meta or {}))
    with atomic_path(out, suffix='.onnx') as tmp:
        with torch.no_grad():
            torch.onnx.export(
                graph, (feats, ind), tmp, dynamo=False,
                opset_version=opset, input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAMES[0]: {0: 'num_points'},
                              INPUT_NAMES[1]: {0: 'num_points'},
                              OUTPUT_NAME: {0: 'num_points'}})
        proto = onnx.load(tmp)
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_KEY, json.dumps(meta)
        onnx.checker.check_model(proto)
        onnx.save(proto, tmp)
    return meta

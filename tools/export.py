"""Export a trained student to ONNX (point features + grid indices in,
per-point logits out, any number of points).

    python tools/export.py CONFIG CKPT OUT.onnx [--opset 18] [--check]

The file runs in ONNX Runtime or OpenVINO (``tools/infer.py --backend
onnxruntime|openvino --onnx OUT.onnx``, or ``kdmos_plugin/deploy/
onnx_runtime.py``, which needs only numpy and the runtime) and in TensorRT
(``trtexec --onnx=OUT.onnx``), see README "Export and deployment". Inputs:
``point_feats`` (N, 9 + R) float32 as made by ``PolarVoxelize`` and
``grid_ind`` (N, 3) int64; output ``logits`` (N, C) float32. The grid and
the channel counts are stored in the file's metadata. With ``--check`` the
exported file is run in ONNX Runtime on random points and compared with
PyTorch.
"""
import argparse

import numpy as np
import torch

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis.inference import init_mos_model
from kdmos_plugin.deploy import OnnxStudent, StudentGraph, export_onnx
from kdmos_plugin.deploy.onnx_export import OPSET, example_inputs


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='student (or distiller) config')
    parser.add_argument('checkpoint')
    parser.add_argument('out', help='.onnx file to write')
    parser.add_argument('--opset', type=int, default=OPSET)
    parser.add_argument('--check', action='store_true',
                        help='compare ONNX Runtime with PyTorch once')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    model, _ = init_mos_model(args.config, args.checkpoint)
    meta = export_onnx(model, args.out, args.opset,
                       extra_meta=dict(config=str(args.config),
                                       checkpoint=str(args.checkpoint)))
    print(f'[export] wrote {args.out}: grid {meta["grid_size"]}, '
          f'{meta["feat_channels"]} point features, '
          f'{meta["num_classes"]} classes, opset {meta["opset"]}')
    if args.check:
        graph = StudentGraph(model)
        feats, ind = example_inputs(graph, num_points=5000, seed=1)
        with torch.no_grad():
            ref = graph(feats, ind).numpy()
        out = OnnxStudent(args.out, 'onnxruntime')(feats.numpy(),
                                                   ind.numpy())
        diff = float(np.abs(out - ref).max())
        same = float((out.argmax(1) == ref.argmax(1)).mean())
        print(f'[export] check: max |logit difference| {diff:.2e}, '
              f'labels equal {100 * same:.2f}%')
        if same < 1.0 or diff > 1e-3:
            raise SystemExit(f'[export] {args.out}: ONNX Runtime differs '
                             f'from PyTorch')


if __name__ == '__main__':
    main()

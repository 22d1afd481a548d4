"""Moving-object segmentation of your own LiDAR scans.

    python tools/infer.py CONFIG CKPT --scans DIR --out DIR
        [--poses FILE [--calib FILE]] [--vis] [--device cpu]
        [--backend torch|onnxruntime|openvino] [--precision fp32|bf16|fp16]
        [--onnx FILE] [--compile] [--threads N]

Input: a folder of ``.bin`` scans (float32 x, y, z, intensity; sorted by
the numbers in their names = time order, so ``8.bin`` comes before
``13.bin``; macOS ``._*.bin`` metadata files are skipped with a warning) and, for a moving sensor, a poses file with one line of
12 numbers (row-major top 3x4 of a 4x4 pose) per scan. With ``--calib`` the
poses are KITTI camera poses and are turned into LiDAR poses with its
``Tr``; without it they are taken as LiDAR poses. No poses = a sensor that
does not move.
Output: ``OUT/<scan name>.label`` (uint32, one per point, file order:
0 unlabeled, 9 static, 250 movable, 251 moving), and with ``--vis`` a BEV
picture per scan in ``OUT/vis/`` (static grey, movable blue, moving red).
Label or picture files in OUT that this tool did not write (e.g. ground
truth, with ``--out SEQ/labels``) are never replaced: the run stops before
writing anything, unless ``--overwrite``.
An empty scan (0 bytes) gets an empty ``.label`` file and a logged warning;
other malformed input stops with an error naming the file
(docs/MALFORMED_INPUT.md).
Grid, bounds, past scans and motion mode come from the config's test
pipeline.
Backends (``kdmos_plugin.deploy.backends``): ``torch`` runs the model (with
``--precision bf16`` the fast student graph: BN folded, channels_last,
bf16; ``--compile`` adds torch.compile); ``onnxruntime`` and ``openvino``
run the ONNX file of ``tools/export.py`` (``--onnx``; without it the model
is exported to a temporary file first). ``--precision bf16`` makes
OpenVINO use bf16 (AMX) as well.
"""
import argparse
from pathlib import Path

import numpy as np
import torch

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis.inference import (infer_sequence, init_mos_model,
                                         scan_folder)
from kdmos_plugin.deploy import BACKENDS, PRECISIONS, build_backend
from kdmos_plugin.datasets.kitti_io import (camera_to_lidar_poses,
                                            read_calib, read_points,
                                            read_poses, write_labels)
from kdmos_plugin.datasets.label_map import INV_MAP_4CLASS
from kdmos_plugin.utils.owned_files import claim_files
from kdmos_plugin.visualization import render_bev, save_png


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--scans', required=True, help='folder of .bin')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--poses', help='poses file, one line per scan')
    parser.add_argument('--calib', help='KITTI calib.txt: poses are camera '
                        'poses, converted with its Tr')
    parser.add_argument('--vis', action='store_true', help='BEV pictures')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace label/picture files in OUT that this '
                        'tool did not write')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--backend', choices=sorted(BACKENDS),
                        default='torch')
    parser.add_argument('--precision', choices=sorted(PRECISIONS),
                        default='fp32')
    parser.add_argument('--onnx', help='exported model (ONNX backends)')
    parser.add_argument('--compile', action='store_true',
                        help='torch.compile the student (backend torch)')
    parser.add_argument('--threads', type=int,
                        help='intra-op threads (default: torch\'s)')
    return parser.parse_args(argv)


def backend_options(args: argparse.Namespace) -> dict:
    """The :func:`build_backend` keyword arguments of the flags."""
    if args.backend == 'torch':
        if args.onnx:
            raise SystemExit('--onnx is for the onnxruntime and openvino '
                             'backends')
        return dict(precision=args.precision, compile=args.compile)
    if args.compile:
        raise SystemExit('--compile is for the torch backend')
    return dict(onnx=args.onnx, threads=args.threads,
                precision=args.precision if args.backend == 'openvino'
                else None)


def main(argv=None) -> None:
    args = parse_args(argv)
    paths = scan_folder(args.scans)
    if not paths:
        raise FileNotFoundError(f'no .bin scans in {args.scans}')
    poses = None
    if args.poses:
        poses = read_poses(args.poses, num_scans=len(paths))[:len(paths)]
        if args.calib:
            poses = camera_to_lidar_poses(poses, read_calib(args.calib)['Tr'])
    if args.threads:
        torch.set_num_threads(args.threads)
    model, pipeline = init_mos_model(args.config, args.checkpoint,
                                     args.device)
    backend = build_backend(args.backend, model, **backend_options(args))
    out = Path(args.out)
    claim_files(out, [f'{Path(p).stem}.label' for p in paths] +
                [f'vis/{Path(p).stem}.png' for p in paths if args.vis],
                overwrite=args.overwrite, hint='Write to another folder, or '
                'pass --overwrite to replace them.')
    lut = [INV_MAP_4CLASS[c] for c in range(len(INV_MAP_4CLASS))]
    for i, (path, pred) in enumerate(
            infer_sequence(model, pipeline, paths, poses, backend=backend)):
        stem = Path(path).stem
        write_labels(out / f'{stem}.label',
                     np.asarray(lut, np.uint32)[pred])
        if args.vis:  # an empty scan (empty prediction) is not read
            points = read_points(path) if len(pred) else np.zeros((0, 4))
            save_png(str(out / 'vis' / f'{stem}.png'),
                     render_bev(points, pred))
        print(f'[infer] {i + 1}/{len(paths)} {stem}: {len(pred)} points, '
              f'{int((pred == 3).sum())} moving', flush=True)
    print(f'[infer] wrote {len(paths)} label files to {out}')


if __name__ == '__main__':
    main()

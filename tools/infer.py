"""Moving-object segmentation of your own LiDAR recording.

    python tools/infer.py CONFIG CKPT --source PATH [PATH ...] --out DIR
        [--sensor PRESET|FILE] [--poses FILE [--calib FILE]
        [--pose-format auto|kitti|lidar|tum] | --odometry] [--topic TOPIC]
        [--vis] [--overwrite] [--device cpu]
        [--backend torch|onnxruntime|openvino] [--precision fp32|bf16|fp16]
        [--onnx FILE] [--compile] [--threads N]

Input (``--source``; ``--scans`` is the old name): a folder of scans
(``.bin`` float32 x, y, z, intensity; ``.pcd`` ascii / binary; ``.ply``;
``.npy`` / ``.npz``; natural order of the names = time order), one or more
scan files, a KITTI sequence folder (``velodyne/``, with its poses), a ROS1
``.bag`` or a ROS2 bag (folder, ``.db3`` or ``.mcap``) with
``sensor_msgs/PointCloud2`` on ``--topic`` (default: its only one).
``--sensor`` names a preset (hdl64e, hdl32e, vlp16, os1-64, os1-128) or a
YAML / JSON profile: it normalises the intensity, places the road where the
model saw it and spaces the past scans. Poses: ``--poses`` (KITTI camera
poses with ``--calib``, LiDAR poses of 12 or 16 numbers a line, TUM
``t x y z qx qy qz qw``), or ``--odometry`` (KISS-ICP); neither = a sensor
that does not move.
Output: ``OUT/<scan name>.label`` (uint32, one per point, recording order:
0 unlabeled, 9 static, 250 movable, 251 moving), ``OUT/poses.txt`` (the
poses used), ``OUT/summary.json`` (scans, points, moving share, time a
scan), and with ``--vis`` a BEV picture per scan in ``OUT/vis/`` and the
animated ``OUT/recording.gif``. Files in OUT that this tool did not write
(e.g. ground truth, with ``--out SEQ/labels``) are never replaced: the run
stops before writing anything, unless ``--overwrite``. Malformed input
stops with an error naming the file (and topic and message of a bag;
docs/MALFORMED_INPUT.md).
Backends (``kdmos_plugin.deploy.backends``): ``torch`` runs the model (with
``--precision bf16`` the fast student graph: BN folded, channels_last,
bf16; ``--compile`` adds torch.compile); ``onnxruntime`` and ``openvino``
run the ONNX file of ``tools/export.py`` (``--onnx``; without it the model
is exported to a temporary file first). ``--precision bf16`` makes
OpenVINO use bf16 (AMX) as well.
"""
import argparse

import torch

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis.recording import segment_recording
from kdmos_plugin.deploy import BACKENDS, PRECISIONS
from kdmos_plugin.sources import POSE_FORMATS, SENSOR_PROFILES


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--source', '--scans', dest='source', nargs='+',
                        required=True, help='folder, scan files or ROS bag')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--sensor', default=None,
                        help=f'preset ({", ".join(SENSOR_PROFILES)}) or '
                        'profile file; default hdl64e')
    poses = parser.add_mutually_exclusive_group()
    poses.add_argument('--poses', help='pose file, one pose a scan')
    poses.add_argument('--odometry', action='store_true',
                       help='estimate the poses with KISS-ICP')
    parser.add_argument('--calib', help='KITTI calib.txt: the poses are '
                        'camera poses, converted with its Tr')
    parser.add_argument('--pose-format', default='auto', choices=POSE_FORMATS)
    parser.add_argument('--topic', help='PointCloud2 topic of a ROS bag')
    parser.add_argument('--vis', action='store_true',
                        help='BEV pictures and an animated BEV')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace files in OUT that this tool did not '
                        'write')
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
    """The :func:`~kdmos_plugin.deploy.build_backend` keyword arguments of
    the flags."""
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


def main(argv=None) -> dict:
    args = parse_args(argv)
    options = backend_options(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    source = args.source[0] if len(args.source) == 1 else args.source
    return segment_recording(
        args.config, args.checkpoint, source, args.out, sensor=args.sensor,
        poses=args.poses, pose_format=args.pose_format, calib=args.calib,
        odometry=args.odometry, topic=args.topic, vis=args.vis,
        overwrite=args.overwrite, device=args.device,
        backend=args.backend, backend_options=options)


if __name__ == '__main__':
    main()

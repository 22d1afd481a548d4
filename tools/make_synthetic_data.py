"""Write synthetic SemanticKITTI-MOS sequences (the embedded demo / test data).

Usage:
    python tools/make_synthetic_data.py OUT --sequences 00 08 --scans 100 \
        --seed 0 [--preset small|full] \
        [--kitti-poses tests/data/kitti_poses]

Writes ``OUT/sequences/XX/{velodyne,labels}/NNNNNN.*``, ``poses.txt``,
``calib.txt`` and ``times.txt`` exactly as SemanticKITTI. The same seed gives
byte-identical files. ``--kitti-poses`` drives the ego vehicle along a window
of the real KITTI trajectory of the same sequence number (``XX/poses.txt``);
without it the trajectory is procedural (curved, varying speed, a stop).
See ``kdmos_plugin.synthetic``.
"""
import argparse
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write synthetic SemanticKITTI-MOS sequences.')
    parser.add_argument('out', help='data root (sequences/XX is created)')
    parser.add_argument('--sequences', nargs='+', default=['00'],
                        help='sequence names, e.g. 00 08')
    parser.add_argument('--scans', type=int, default=100,
                        help='scans a sequence (10 Hz)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--preset', choices=('small', 'full'),
                        default='small',
                        help='small: 32 beams x 512 azimuths; full: '
                        'HDL-64E-like 64 x 2048')
    parser.add_argument('--kitti-poses', default=None,
                        help='folder with XX/poses.txt real KITTI '
                        'trajectories to drive along (optional)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from kdmos_plugin.synthetic import write_sequence
    for seq in args.sequences:
        start = time.perf_counter()
        path = write_sequence(args.out, seq, args.scans, args.seed,
                              args.preset, args.kitti_poses)
        took = time.perf_counter() - start
        print(f'{path}: {args.scans} scans ({args.preset}) in {took:.1f} s, '
              f'{took / args.scans:.3f} s a scan')


if __name__ == '__main__':
    main()

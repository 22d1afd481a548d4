"""Write synthetic SemanticKITTI-MOS sequences (the embedded demo / test data).

Usage:
    python tools/make_synthetic_data.py OUT --sequences 00 08 --scans 100 \
        --seed 0 [--preset small|full | --sensor PRESET|FILE [...]] \
        [--scan-rate HZ] [--horizontal-resolution DEG] \
        [--scene-detail plain|rich] [--kitti-poses tests/data/kitti_poses]

Writes ``OUT/sequences/XX/{velodyne,labels}/NNNNNN.*``, ``poses.txt``,
``calib.txt`` and ``times.txt`` exactly as SemanticKITTI. The same seed gives
byte-identical files. ``--kitti-poses`` drives the ego vehicle along a window
of the real KITTI trajectory of the same sequence number (``XX/poses.txt``);
without it the trajectory is procedural (curved, varying speed, a stop).

``--sensor`` imitates a sensor profile (a preset such as ``hdl64e``,
``hdl32e``, ``vlp16``, ``os1-64``, ``os1-128``, or a YAML/JSON profile file):
its beams and elevations, horizontal resolution, range, mounting height,
noise, intensity scale and scan rate; ``--scan-rate`` overrides the rate
(e.g. ``--sensor hdl32e --scan-rate 2`` for nuScenes-like 2 Hz keyframes).
Several sensors are given to the sequences in turn (sequence k gets sensor
k mod count): one dataset of many sensors; ``--sensor random`` draws a
random spinning LiDAR a sequence from the seed (beams, field of view,
resolution, rate, height, range, intensity scale: sensor randomisation).
Each sequence then holds its
``sensor.json``; a profile's ``ego_body`` puts the own car into the scans
(label 99, static). ``--scene-detail rich`` builds richer streets (grade
and camber, facades with jogs, lobed trees, buses, trucks, motorcycles,
slow, fast and stop-and-go movers); the default scenes stay byte for byte
what the seeds gave. Without ``--sensor`` the ``--preset`` LiDAR (default
``small``) writes what it always wrote. Files of those names that this tool
did not write (e.g. a real dataset at OUT) are never replaced: it stops
first. See ``kdmos_plugin.synthetic``.
"""
import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write synthetic SemanticKITTI-MOS sequences.')
    parser.add_argument('out', help='data root (sequences/XX is created)')
    parser.add_argument('--sequences', nargs='+', default=['00'],
                        help='sequence names, e.g. 00 08')
    parser.add_argument('--scans', type=int, default=100,
                        help='scans a sequence')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--preset', choices=('small', 'full'), default=None,
                        help='small (default): 32 beams x 512 azimuths; '
                        'full: HDL-64E-like 64 x 2048; both 10 Hz')
    parser.add_argument('--sensor', nargs='+', default=None,
                        metavar='PRESET|FILE',
                        help='sensor profile(s) to imitate (given to the '
                        'sequences in turn)')
    parser.add_argument('--scan-rate', type=float, default=None,
                        metavar='HZ',
                        help="override the sensors' scan rate")
    parser.add_argument('--horizontal-resolution', type=float, default=None,
                        metavar='DEG',
                        help="override the sensors' azimuth step (coarse "
                        'scans for smoke runs)')
    parser.add_argument('--scene-detail', choices=('plain', 'rich'),
                        default='plain',
                        help='rich: roads with grade and camber, facades '
                        'with jogs, lobed trees, buses, trucks, '
                        'motorcycles, slow/fast and stop-and-go movers '
                        '(default plain: the scenes the seeds always gave)')
    parser.add_argument('--kitti-poses', default=None,
                        help='folder with XX/poses.txt real KITTI '
                        'trajectories to drive along (optional)')
    args = parser.parse_args(argv)
    if args.sensor and args.preset:
        parser.error('--preset and --sensor exclude each other')
    if args.scan_rate is not None and not args.sensor:
        parser.error('--scan-rate needs --sensor')
    if args.horizontal_resolution is not None and not args.sensor:
        parser.error('--horizontal-resolution needs --sensor')
    return args


def main(argv=None):
    args = parse_args(argv)
    from kdmos_plugin.synthetic.generator import make_synthetic_data
    try:
        make_synthetic_data(
            args.out, args.sequences, args.scans, args.seed, args.preset,
            args.sensor, args.scan_rate, args.kitti_poses, args.scene_detail,
            args.horizontal_resolution)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'make_synthetic_data: {err}') from None


if __name__ == '__main__':
    main()

"""The cross-sensor experiment: train on HDL-64E synthetic data, on
randomised sensors and on each held-out sensor; test on held-out HDL-32E
2 Hz / 20 Hz, VLP-16 and OS1-128 synthetic sequences.

    python tools/cross_sensor.py OUT [--scans 40] [--epochs 3] [--seed 0]
        [--held-out hdl32e-2hz vlp16-10hz ...] [--dry-run]

Writes ``OUT/data/<set>``, ``OUT/work/<set>`` (checkpoints, metrics per
held-out sensor), ``OUT/logs`` and ``OUT/table.md`` (moving IoU, precision,
recall). ``--dry-run`` prints the commands. See
``kdmos_plugin.apis.cross_sensor``.
"""
import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='experiment folder')
    parser.add_argument('--scans', type=int, default=40,
                        help='scans a sequence')
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--held-out', nargs='+', default=None,
                        help='held-out sensors (default: all four)')
    parser.add_argument('--dry-run', action='store_true',
                        help='only print the commands')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from kdmos_plugin.apis.cross_sensor import make_plan, run
    try:
        plan = make_plan(args.out, args.scans, args.seed, args.epochs,
                         held_out=args.held_out)
    except ValueError as err:
        raise SystemExit(f'cross_sensor: {err}') from None
    print(run(plan, dry_run=args.dry_run))


if __name__ == '__main__':
    main()

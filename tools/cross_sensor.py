"""The cross-sensor experiment: train on HDL-64E synthetic data, on
randomised sensors and on each held-out sensor, distil the randomised
teacher into the randomised student; test on held-out HDL-32E 2 Hz / 20 Hz,
VLP-16 and OS1-128 synthetic sequences.

    python tools/cross_sensor.py OUT                    # every row, 80 min
    python tools/cross_sensor.py OUT --only-randomised  # teacher + distilled
                                          # student, kept
    python tools/cross_sensor.py OUT --quick            # smoke run, ~1 min
        [--scans N] [--test-scans N] [--epochs N] [--teacher-epochs N]
        [--seed 0] [--held-out hdl32e-2hz vlp16-10hz ...]
        [--scene-detail rich|plain] [--jobs 2] [--dry-run]

Writes ``OUT/data/<set>``, ``OUT/work/<run>`` (checkpoints, metrics per
held-out sensor), ``OUT/logits``, ``OUT/logs`` (one log a run),
``OUT/checkpoints`` (the randomised teacher and distilled student),
``OUT/table.md`` and ``OUT/table.json`` (moving IoU, precision, recall).
An OUT this tool did not write is refused. ``--dry-run`` prints the
commands. The README gives the measured times and the table of seed 0.
"""
import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='experiment folder')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--quick', action='store_true',
                      help='smoke run: tiny coarse scans, 1 epoch, one '
                      'held-out sensor, tools run in-process')
    mode.add_argument('--only-randomised', action='store_true',
                      help='only the randomised teacher and its distilled '
                      'student (checkpoints kept in OUT/checkpoints)')
    parser.add_argument('--scans', type=int, help='scans a training sequence')
    parser.add_argument('--test-scans', type=int,
                        help='scans a held-out sequence')
    parser.add_argument('--epochs', type=int, help='student epochs')
    parser.add_argument('--teacher-epochs', type=int)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--held-out', nargs='+', default=None,
                        help='held-out sensors (default: all four; --quick: '
                        'hdl32e-20hz)')
    parser.add_argument('--scene-detail', choices=('rich', 'plain'),
                        default='rich')
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs at once (each tool with cpu_count // '
                        'jobs threads; --quick runs one at a time)')
    parser.add_argument('--dry-run', action='store_true',
                        help='only print the commands')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from kdmos_plugin.apis.cross_sensor import plan_for_mode, run
    mode = 'quick' if args.quick else (
        'randomised' if args.only_randomised else 'default')
    changes = dict(seed=args.seed, scene_detail=args.scene_detail)
    for key in ('scans', 'test_scans', 'epochs', 'teacher_epochs',
                'held_out'):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    try:
        plan = plan_for_mode(args.out, mode, **changes)
        print(run(plan, dry_run=args.dry_run, jobs=args.jobs))
    except (ValueError, FileExistsError, RuntimeError) as err:
        raise SystemExit(f'cross_sensor: {err}') from None


if __name__ == '__main__':
    main()

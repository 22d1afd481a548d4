"""The main job on the embedded synthetic data (what ``make demo`` runs).

    python tools/demo.py [--work-dir work_dirs/demo] [--quick | --full]
        [--seeds 10 11 ...] [--jobs 2] [--train-scans 20] [--val-scans 80]
        [--preset small] [--no-unlabelled] [--teacher-members 2]
        [--teacher-options key=value ...] [--student-options key=value ...]
        [--data-root data/synthetic_mos]
        [--logits-root data/synthetic_mos_teacher_logits]

Generates synthetic SemanticKITTI-layout sequences, trains the sparse 4-D
teacher, dumps its logits, trains the BEV student without and with
distillation on identical schedules and seeds, and the same again with the
labels of half the training sequences only (the distilled student sees the
teacher's logits on the rest); evaluates every model on the held-out
sequence and writes ``WORK_DIR/report.md`` and ``report.json``.

``--quick``: 3 seeds (10-12), the paper's setting only. Default: 5 seeds
(10-14), the unlabelled-scans setting on the first 3. ``--full``: 10 seeds
(10-19), both settings on all. ``--seeds`` replaces the seeds of any of
them. The recipe was tuned on seeds 0-2. ``--teacher-members N``: each
teacher is the mean of the logits of N trainings (the first with the
config's seed, as with one teacher, the others with seeds 1..N-1), N times
the teacher's training time (default 2; 1: one training, as before).
"""
import argparse
import os

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis.demo import (DATA_ROOT, LOGITS_ROOT, MODES,
                                    TEACHER_MEMBERS, TEACHERS, Demo)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--quick', action='store_const', dest='mode',
                      const='quick', help=f'seeds {MODES["quick"]["seeds"]}'
                      ', paper setting only')
    mode.add_argument('--full', action='store_const', dest='mode',
                      const='full', help=f'seeds {MODES["full"]["seeds"]}')
    parser.set_defaults(mode='default')
    parser.add_argument('--seeds', type=int, nargs='+', default=None,
                        help='student seeds (default: those of the mode)')
    parser.add_argument('--jobs', type=int, default=None,
                        help='trainings at once (default: 2 on >= 2 cores)')
    parser.add_argument('--train-sequences', nargs='+', default=None,
                        help='training scenes (default: those of Demo)')
    parser.add_argument('--val-sequences', nargs='+', default=None,
                        help='held-out scenes, scored together (default: '
                        'those of Demo)')
    parser.add_argument('--train-scans', type=int, default=None,
                        help='scans a training sequence (default: Demo\'s)')
    parser.add_argument('--val-scans', type=int, default=None,
                        help='scans a held-out sequence (default: Demo\'s)')
    parser.add_argument('--preset', default='small',
                        choices=['small', 'full'])
    parser.add_argument('--no-unlabelled', action='store_true',
                        help='skip the distillation-on-unlabelled-scans '
                        'setting')
    parser.add_argument('--teacher-members', type=int,
                        default=TEACHER_MEMBERS,
                        help='teachers trained per teacher; more than one '
                        'teach as one (the mean of their logits); default '
                        f'{TEACHER_MEMBERS}')
    parser.add_argument('--teacher', default='causal',
                        choices=sorted(TEACHERS),
                        help='causal: the teacher reads the past scans '
                        '(published); noncausal: also the next 3 scans '
                        '(offline distillation only; the student stays '
                        'causal)')
    parser.add_argument('--teacher-options', nargs='*', default=[],
                        help='--cfg-options for the teacher trainings')
    parser.add_argument('--student-options', nargs='*', default=[],
                        help='--cfg-options for every student training')
    parser.add_argument('--data-root', default=DATA_ROOT,
                        help='where the synthetic sequences are written')
    parser.add_argument('--logits-root', default=LOGITS_ROOT,
                        help="where the teachers' offline logits go")
    return parser.parse_args(argv)


def build_demo(args: argparse.Namespace) -> Demo:
    """The :class:`Demo` the arguments ask for (arguments checked here,
    before any work: ``ValueError`` names the problem)."""
    mode = MODES[args.mode]
    seeds = args.seeds or mode['seeds']
    count = mode['unlabelled']
    jobs = args.jobs if args.jobs is not None else (
        2 if (os.cpu_count() or 1) >= 2 else 1)
    if args.no_unlabelled or count == 0:
        kwargs = dict(labelled_sequences=None)
    else:
        kwargs = dict(unlabelled_seeds=seeds[:count] if count else seeds)
    for key, value in (('train_sequences', args.train_sequences),
                       ('val_sequences', args.val_sequences),
                       ('num_train_scans', args.train_scans),
                       ('num_val_scans', args.val_scans)):
        if value is not None:
            kwargs[key] = value
    return Demo(work_dir=args.work_dir, seeds=seeds, preset=args.preset,
                teacher_options=args.teacher_options,
                teacher_members=args.teacher_members,
                teacher=args.teacher,
                student_options=args.student_options,
                data_root=args.data_root, logits_root=args.logits_root,
                jobs=jobs, **kwargs)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        demo = build_demo(args)
        demo.check_outputs()
    except (ValueError, FileExistsError) as err:
        raise SystemExit(f'tools/demo.py: {err}')
    demo.run()


if __name__ == '__main__':
    main()

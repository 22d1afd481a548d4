"""The main job on the embedded synthetic data (what ``make demo`` runs).

    python tools/demo.py [--work-dir work_dirs/demo] [--seeds 0 1]
        [--train-scans 20] [--val-scans 80] [--preset small]
        [--teacher-options key=value ...] [--student-options key=value ...]
        [--data-root data/synthetic_mos]
        [--logits-root data/synthetic_mos_teacher_logits]

Generates synthetic SemanticKITTI-layout sequences, trains the sparse 4-D
teacher, dumps its logits, trains the BEV student without and with
distillation on identical schedules and seeds, evaluates all three on the
held-out sequence and writes ``WORK_DIR/report.md`` and ``report.json``.
"""
import argparse

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis.demo import DATA_ROOT, LOGITS_ROOT, Demo


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--train-scans', type=int, default=20)
    parser.add_argument('--val-scans', type=int, default=80)
    parser.add_argument('--preset', default='small',
                        choices=['small', 'full'])
    parser.add_argument('--teacher-options', nargs='*', default=[],
                        help='--cfg-options for the teacher training')
    parser.add_argument('--student-options', nargs='*', default=[],
                        help='--cfg-options for both student trainings')
    parser.add_argument('--data-root', default=DATA_ROOT,
                        help='where the synthetic sequences are written')
    parser.add_argument('--logits-root', default=LOGITS_ROOT,
                        help="where the teacher's offline logits go")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    Demo(work_dir=args.work_dir, seeds=args.seeds,
         num_train_scans=args.train_scans, num_val_scans=args.val_scans,
         preset=args.preset, teacher_options=args.teacher_options,
         student_options=args.student_options, data_root=args.data_root,
         logits_root=args.logits_root).run()


if __name__ == '__main__':
    main()

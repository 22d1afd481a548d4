"""Write a teacher's per-point logits for offline distillation.

    python tools/dump_teacher_logits.py CONFIG CKPT --out DIR
        [--split train] [--fp16] [--device cpu] [--cfg-options k=v ...]

Writes DIR/sequences/XX/teacher_logits/NNNNNN.npy ((N, C) raw logits of
the current scan's points in .bin order) and DIR/teacher_logits_manifest.json
(format: docs/TEACHER_LOGITS.md). A second run skips the files already
written; a DIR whose manifest differs (other checkpoint, classes, dtype) is
refused. The logic lives in kdmos_plugin.apis.teacher_logits.
"""
import argparse

from mmengine.config import DictAction

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis.teacher_logits import dump_teacher_logits


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='teacher config file')
    parser.add_argument('checkpoint', help='teacher checkpoint')
    parser.add_argument('--out', required=True, help='logits directory')
    parser.add_argument('--split', default='train',
                        help="dataset split to run (default 'train')")
    parser.add_argument('--fp16', action='store_true',
                        help='store float16 logits (half the disk)')
    parser.add_argument('--device', default='cpu', help="e.g. 'cuda:0'")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        default=None, help='override config entries')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    dump_teacher_logits(args.config, args.checkpoint, args.out,
                        split=args.split, fp16=args.fp16,
                        device=args.device, cfg_options=args.cfg_options)


if __name__ == '__main__':
    main()

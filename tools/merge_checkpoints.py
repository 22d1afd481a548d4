"""Merge trained segmentors' checkpoints into one ensemble checkpoint.

    python tools/merge_checkpoints.py OUT CKPT CKPT [CKPT ...]

OUT holds member i's weights under ``members.<i>.`` for a ``MOSEnsemble``
config whose ``members`` list the models in the same order (e.g.
``configs/kdmos/teacher_ensemble_synthetic.py``); ``tools/test.py`` and
``tools/dump_teacher_logits.py`` then take OUT as any checkpoint. The logic
lives in kdmos_plugin.apis.checkpoint.merge_member_checkpoints.
"""
import argparse

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis.checkpoint import merge_member_checkpoints


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='ensemble checkpoint to write')
    parser.add_argument('checkpoints', nargs='+',
                        help='member checkpoints, in the config\'s order')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    meta = merge_member_checkpoints(args.checkpoints, args.out)
    print(f'{args.out}: {len(meta["members"])} members ('
          f'{", ".join(m["file"] for m in meta["members"])})')


if __name__ == '__main__':
    main()

"""Train a kdmos_plugin model (teacher, student or distiller) with mmengine.

    python tools/train.py configs/kdmos/student_kd.py [--work-dir DIR]
        [--resume [CKPT]] [--amp] [--cfg-options key=value ...]
        [--launcher pytorch]   (tools/dist_train.sh sets this)
"""
import argparse
import os

from mmengine.config import DictAction
from mmengine.runner import Runner

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis import finish_distributed, load_config
from kdmos_plugin.engine import set_amp


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', const='auto', default=None,
        help='resume from CKPT, or from the latest one in the work dir')
    parser.add_argument(
        '--amp', action='store_true',
        help='mixed precision: fp16 AmpOptimWrapper on GPUs, bf16 '
        'AutocastOptimWrapper on CPU-only machines')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override config entries, e.g. train_cfg.max_epochs=2')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher for distributed training')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    if args.amp:
        set_amp(cfg)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    Runner.from_cfg(cfg).train()
    finish_distributed()


if __name__ == '__main__':
    main()

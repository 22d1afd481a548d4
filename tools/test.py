"""Evaluate a checkpoint with the SemanticKITTI-MOS protocol.

    python tools/test.py CONFIG CKPT [--work-dir DIR] [--split val|test]
        [--submit OUT]   write OUT/sequences/XX/predictions/NNNNNN.label
        [--cfg-options key=value ...] [--launcher pytorch]
        [--backend torch|onnxruntime|openvino] [--precision fp32|bf16|fp16]
        [--onnx FILE] [--threads N]

With ``--submit`` on the unlabeled test split only the prediction files are
written (``format_only``); on a labelled split they are written beside the
metrics. OUT must be empty or new, or hold only an earlier submission of
this tool (which is removed first, so no stale prediction stays mixed in);
a folder with any other file is refused and left untouched. The last line
printed sums up the moving class: IoU, precision, recall and the
object-level IoU (see ``MOSMetric``).

``--backend`` / ``--precision`` evaluate the student through an inference
backend of :mod:`kdmos_plugin.deploy` (``--onnx`` a file of
``tools/export.py``; without it the checkpoint is exported to a temporary
file), so the moving IoU of each deployment path can be compared with the
PyTorch fp32 figure (the default: the model itself).
"""
import argparse
import json
import os

from mmengine.config import DictAction
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.runner import Runner

import kdmos_plugin  # noqa: F401  (registers modules, applies stack fixes)
from kdmos_plugin.apis import finish_distributed, load_config
from kdmos_plugin.deploy import build_backend, use_backend_
from kdmos_plugin.evaluation.metrics.mos_metric import (SUBMISSION_PATTERN,
                                                        summarize_metrics)
from kdmos_plugin.utils.atomic_files import write_text_atomic
from kdmos_plugin.utils.owned_files import start_clean


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs and metrics go')
    parser.add_argument(
        '--split', choices=['val', 'test'], default='val',
        help="'val' evaluates the config's test_dataloader as is (the "
        "validation sequences by default); 'test' uses the config's "
        'benchmark_test_dataloader (unlabelled test sequences) and needs '
        '--submit')
    parser.add_argument(
        '--submit', metavar='OUT',
        help='write benchmark .label files under OUT/sequences/')
    parser.add_argument(
        '--metrics-out', metavar='FILE',
        help='also write the returned metrics to this JSON file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default=None,
        help='override config entries')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none', help='job launcher for distributed testing')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--backend', choices=['torch', 'onnxruntime', 'openvino'],
        help='run the student through this backend (kdmos_plugin.deploy); '
        'default: the model itself')
    parser.add_argument(
        '--precision', choices=['fp32', 'bf16', 'fp16'],
        help="backend precision (torch: the student graph; openvino: the "
        "inference precision); needs --backend")
    parser.add_argument('--onnx', metavar='FILE',
                        help='exported student for onnxruntime / openvino')
    parser.add_argument('--threads', type=int,
                        help='intra-op threads of an ONNX backend')
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.split == 'test' and not args.submit:
        parser.error('--split test needs --submit OUT (no labels to score)')
    if args.backend is None and (args.precision or args.onnx or
                                 args.threads):
        parser.error('--precision, --onnx and --threads need --backend')
    if args.backend == 'torch' and (args.onnx or args.threads):
        parser.error('--onnx and --threads are options of the ONNX '
                     'backends')
    if args.backend == 'onnxruntime' and args.precision not in (None,
                                                                'fp32'):
        parser.error('onnxruntime runs the exported file in fp32')
    return args


class BackendTestHook(Hook):
    """Before the test loop (the checkpoint is loaded by then), route the
    model's predictions through a :mod:`kdmos_plugin.deploy` backend."""

    def __init__(self, name: str, **options) -> None:
        self.backend_name = name
        self.options = {k: v for k, v in options.items() if v is not None}

    def before_test(self, runner) -> None:
        model = runner.model
        model = getattr(model, 'module', model)  # DDP wrapper
        backend = build_backend(self.backend_name, model.eval(),
                                **self.options)
        use_backend_(model, backend)
        runner.logger.info(f'test through backend {self.backend_name!r} '
                           f'{self.options}')


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, args.work_dir,
                      args.launcher)
    cfg.load_from = args.checkpoint
    if args.split == 'test':
        if 'benchmark_test_dataloader' not in cfg:
            raise SystemExit(
                f'{args.config} defines no benchmark_test_dataloader (the '
                'unlabelled test split); see configs/_base_/datasets/'
                'semantickitti_mos.py')
        cfg.test_dataloader = cfg.benchmark_test_dataloader
        cfg.test_evaluator = cfg.benchmark_test_evaluator
    if args.submit:
        cfg.test_evaluator.submission_prefix = args.submit
        cfg.test_evaluator.format_only = args.split == 'test'
    rank = os.environ.get('RANK', os.environ.get('SLURM_PROCID', '0'))
    if args.submit and int(rank) == 0:
        # before the process group forms, so no rank writes before this
        # (and the temporary files of an atomic write a kill interrupted)
        start_clean(args.submit, [SUBMISSION_PATTERN,
                                  SUBMISSION_PATTERN + '.tmp*'],
                    hint='A submission folder must start empty: use a new '
                    'one.')
    runner = Runner.from_cfg(cfg)
    if args.backend is not None:
        runner.register_hook(BackendTestHook(
            args.backend, precision=args.precision, onnx=args.onnx,
            threads=args.threads), priority='LOWEST')
    # MOSSetupCheckHook (added by load_config) checks, before anything
    # runs, that the data and the model agree and that the checkpoint fits
    metrics = runner.test()
    if metrics and is_main_process():
        print(summarize_metrics(metrics))
    if args.metrics_out and is_main_process():
        write_text_atomic(args.metrics_out, json.dumps(
            {k: _plain(v) for k, v in metrics.items()}, indent=1))
    finish_distributed()


def _plain(value):
    """JSON-able form of a metric value (numpy scalars, tensors)."""
    return value.item() if hasattr(value, 'item') else value


if __name__ == '__main__':
    main()

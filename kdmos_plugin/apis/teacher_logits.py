"""The teacher-logit dump loop: run a teacher over a split, write files.

The file format (layout, manifest, atomic writes) lives with the data, in
:mod:`kdmos_plugin.datasets.teacher_logits`; this module runs a model.
"""
import copy
import logging
import os.path as osp
from typing import Callable, Dict, List, Optional

from mmengine.logging import print_log

from ..datasets.point_arrays import load_point_array
from ..datasets.teacher_logits import (file_sha256, logits_path,
                                       make_manifest, prepare_output_dir,
                                       save_logits)


def dump_teacher_logits(config: str,
                        checkpoint: str,
                        out_dir: str,
                        split: str = 'train',
                        fp16: bool = False,
                        device: str = 'cpu',
                        cfg_options: Optional[dict] = None,
                        log: Optional[Callable[[str], None]] = print
                        ) -> Dict[str, int]:
    """Run a teacher over a split and write its logits.

    The dataset is the config's ``test_dataloader.dataset`` (the test
    pipeline: no augmentation) with ``split`` set and the data root and
    sequences of ``<split>_dataloader`` (else the config's
    ``<split>_sequences``, if any). Frames whose file exists
    already are skipped, so an interrupted run resumes; files are written
    atomically, and an existing file counts as done only if it is a
    readable (N, C) array of finite numbers for its scan: a truncated,
    garbage or pickled file is reported (a warning naming it) and written
    again.

    Args:
        config (str): Teacher config file.
        checkpoint (str): Teacher checkpoint.
        out_dir (str): Logits directory (created; its manifest must match).
        split (str): Dataset split, e.g. ``'train'``.
        fp16 (bool): Store float16 instead of float32.
        device (str): Torch device of the teacher.
        cfg_options (dict, optional): Config overrides.
        log (Callable, optional): Progress printer; None for silence.

    Returns:
        dict: ``written`` and ``skipped`` frame counts.
    """
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    from mmdet3d.registry import DATASETS, MODELS
    from ..engine.setup_check import check_data_model
    from .checkpoint import load_matching_checkpoint
    from .config import load_config

    cfg = load_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    dataset_cfg.split = split
    # the split's own dataloader (e.g. train_dataloader) says where its data
    # is and which sequences it reads, --cfg-options included; else the
    # bases' `<split>_sequences`; else the split's default sequences
    split_data = (cfg.get(f'{split}_dataloader') or {}).get('dataset') or {}
    dataset_cfg.sequences = split_data.get('sequences',
                                           cfg.get(f'{split}_sequences'))
    if 'data_root' in split_data:
        dataset_cfg.data_root = split_data['data_root']
    dataset = DATASETS.build(dataset_cfg)
    classes = _class_names(dataset, cfg)

    model = MODELS.build(cfg.model)
    check_data_model(cfg, model)
    load_matching_checkpoint(model, checkpoint)
    model.to(device).eval()
    if len(classes) != model.num_classes:
        raise ValueError(f'{config}: {len(classes)} class names but the '
                         f'model predicts {model.num_classes} classes')

    manifest = make_manifest(classes, osp.basename(config),
                             file_sha256(checkpoint),
                             'float16' if fp16 else 'float32')
    prepare_output_dir(out_dir, manifest)

    written = skipped = 0
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        key = _frame_key(info)
        if key is not None and _is_done(logits_path(out_dir, *key), info,
                                        len(classes)):
            skipped += 1
            continue
        data = dataset[i]
        meta = data['data_samples'].metainfo
        key = (meta['sequence'], meta['frame_id'])
        path = logits_path(out_dir, *key)
        if _is_done(path, meta, len(classes)):
            skipped += 1
            continue
        with torch.no_grad():
            batch = model.data_preprocessor(pseudo_collate([data]), False)
            inputs = batch['inputs']
            logits = model.point_logits(model.forward_feats(inputs), inputs)
        num_points = len(inputs['points'][0])
        if 'num_points' in meta and meta['num_points'] != num_points:
            raise ValueError(
                f'{meta.get("lidar_path")}: the pipeline packed {num_points} '
                f'points but the scan has {meta["num_points"]}')
        save_logits(path, logits.float().cpu().numpy(), manifest['dtype'])
        written += 1
        if log is not None and (written % 50 == 1 or i == len(dataset) - 1):
            log(f'[{i + 1}/{len(dataset)}] {path}')
    if log is not None:
        log(f'teacher logits: {written} written, {skipped} already there, '
            f'in {out_dir}')
    return dict(written=written, skipped=skipped)


def _is_done(path: str, info: dict, num_classes: int) -> bool:
    """Whether ``path`` holds this frame's logits already: a readable
    (N, C) array of finite numbers, N the scan's points (its file size),
    C the classes. Anything else (truncated, garbage, a pickle, another
    shape) is not done: it is reported and written again."""
    if not osp.isfile(path):
        return False
    scan = info.get('lidar_path')
    num_points = (osp.getsize(scan) // 16 if scan and osp.isfile(scan)
                  else info.get('num_points'))
    try:
        if num_points is None:
            raise ValueError(f'{path}: the scan of these logits is unknown')
        load_point_array(path, int(num_points), num_classes,
                         'teacher logits', 'classes', 'num_classes', scan)
    except ValueError as err:
        print_log(f'{err}: written again', logger='current',
                  level=logging.WARNING)
        return False
    return True


def _class_names(dataset, cfg) -> List[str]:
    """Class names from the dataset's metainfo, else the config."""
    meta = getattr(dataset, 'metainfo', {}) or {}
    names = meta.get('classes') or cfg.get('class_names')
    if not names:
        raise ValueError('cannot tell the class names: neither the dataset '
                         'metainfo nor the config (class_names) has them')
    return list(names)


def _frame_key(info: dict):
    """(sequence, frame_id) of a data-info dict, if it has them."""
    if isinstance(info, dict) and 'sequence' in info and 'frame_id' in info:
        return str(info['sequence']), int(info['frame_id'])
    return None

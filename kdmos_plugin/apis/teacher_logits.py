"""Offline teacher logits: file layout, manifest, and the dump loop.

Layout (see docs/TEACHER_LOGITS.md)::

    <root>/teacher_logits_manifest.json
    <root>/sequences/<seq>/teacher_logits/<frame:06d>.npy   (N, C) raw logits

Rows are the current scan's points in ``.bin`` file order; columns follow
the manifest's ``classes``. Files are keyed by (sequence, frame id), never
by a position in a filtered list (REFERENCE.md §7.2).
"""
import copy
import hashlib
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

#: Version of the on-disk format described in docs/TEACHER_LOGITS.md.
FORMAT_VERSION = 1
#: Manifest file name, at the root of a logits directory.
MANIFEST_NAME = 'teacher_logits_manifest.json'
#: Keys every manifest holds.
MANIFEST_KEYS = ('classes', 'num_classes', 'config', 'checkpoint_sha256',
                 'dtype', 'format_version')
_DTYPES = ('float32', 'float16')


def logits_path(root: str, sequence: str, frame_id: int) -> str:
    """Path of one frame's logits file.

    Args:
        root (str): Logits directory.
        sequence (str): Sequence name, e.g. ``'08'``.
        frame_id (int): Frame number (the ``.bin`` file stem).

    Returns:
        str: ``<root>/sequences/<sequence>/teacher_logits/<frame:06d>.npy``.
    """
    return osp.join(root, 'sequences', str(sequence), 'teacher_logits',
                    f'{int(frame_id):06d}.npy')


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def make_manifest(classes: Sequence[str], config: str,
                  checkpoint_sha256: str, dtype: str = 'float32') -> dict:
    """The manifest of a logits directory.

    Args:
        classes (Sequence[str]): Class names in column order.
        config (str): Name of the teacher config (file name).
        checkpoint_sha256 (str): SHA-256 of the teacher checkpoint.
        dtype (str): ``'float32'`` or ``'float16'``.

    Returns:
        dict: Keys :data:`MANIFEST_KEYS`.
    """
    if dtype not in _DTYPES:
        raise ValueError(f'teacher logits dtype must be one of {_DTYPES}, '
                         f'got {dtype!r}')
    return dict(
        classes=list(classes),
        num_classes=len(classes),
        config=str(config),
        checkpoint_sha256=str(checkpoint_sha256),
        dtype=dtype,
        format_version=FORMAT_VERSION)


def read_manifest(root: str) -> dict:
    """Read and check ``<root>/teacher_logits_manifest.json``.

    Raises:
        FileNotFoundError: No manifest.
        ValueError: Malformed manifest (the message names the file).
    """
    path = osp.join(root, MANIFEST_NAME)
    if not osp.isfile(path):
        raise FileNotFoundError(f'no teacher-logits manifest: {path}')
    with open(path) as f:
        try:
            manifest = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f'{path}: not valid JSON ({err})') from err
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise ValueError(f'{path}: manifest lacks keys {missing}')
    if manifest['num_classes'] != len(manifest['classes']):
        raise ValueError(f'{path}: num_classes={manifest["num_classes"]} but '
                         f'{len(manifest["classes"])} class names')
    if manifest['dtype'] not in _DTYPES:
        raise ValueError(f'{path}: dtype {manifest["dtype"]!r} is not one '
                         f'of {_DTYPES}')
    if manifest['format_version'] != FORMAT_VERSION:
        raise ValueError(f'{path}: format_version '
                         f'{manifest["format_version"]}, this code reads '
                         f'{FORMAT_VERSION}')
    return manifest


def prepare_output_dir(root: str, manifest: dict) -> None:
    """Create ``root`` with ``manifest``, or check an existing one matches.

    A directory that already holds logits files but no manifest, or whose
    manifest differs in any key, is refused, so that logits of two teachers
    (or two dtypes) never mix.

    Raises:
        ValueError: The existing manifest differs (names the keys), or the
            directory holds ``sequences/`` without a manifest.
    """
    path = osp.join(root, MANIFEST_NAME)
    if osp.isfile(path):
        old = read_manifest(root)
        diff = {k: (old.get(k), manifest[k]) for k in MANIFEST_KEYS
                if old.get(k) != manifest[k]}
        if diff:
            lines = ', '.join(f'{k}: {a!r} (on disk) != {b!r} (this run)'
                              for k, (a, b) in diff.items())
            raise ValueError(
                f'{path} does not match this run ({lines}); write to a new '
                'directory or remove the old logits')
        return
    if osp.isdir(osp.join(root, 'sequences')):
        raise ValueError(f'{root} holds sequences/ but no {MANIFEST_NAME}: '
                         'refusing to mix logits of unknown origin')
    os.makedirs(root, exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(manifest, f, indent=2)
    os.replace(tmp, path)


def save_logits(path: str, logits: np.ndarray, dtype: str) -> None:
    """Write one (N, C) logits array atomically (temp file, then rename)."""
    logits = np.asarray(logits)
    if logits.ndim != 2:
        raise ValueError(f'{path}: logits must be (N, C), got '
                         f'{logits.shape}')
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = path[:-4] + '.tmp.npy'
    np.save(tmp, logits.astype(dtype, copy=False))
    os.replace(tmp, path)


def load_logits(path: str, num_points: Optional[int] = None,
                num_classes: Optional[int] = None) -> np.ndarray:
    """Read one logits file as (N, C) float32, checking its shape.

    Raises:
        FileNotFoundError, ValueError: Missing file or wrong shape (the
            message names the file).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'teacher logits file not found: {path}')
    arr = np.load(path)
    if arr.ndim != 2:
        raise ValueError(f'{path}: teacher logits must be (N, C), got '
                         f'{arr.shape}')
    if num_points is not None and arr.shape[0] != num_points:
        raise ValueError(f'{path}: {arr.shape[0]} rows of teacher logits '
                         f'for a scan of {num_points} points')
    if num_classes is not None and arr.shape[1] != num_classes:
        raise ValueError(f'{path}: {arr.shape[1]} logit columns, expected '
                         f'{num_classes}')
    return arr.astype(np.float32, copy=False)


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
    atomically, so an existing file is always complete.

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
        key = _frame_key(dataset.get_data_info(i))
        if key is not None and osp.isfile(logits_path(out_dir, *key)):
            skipped += 1
            continue
        data = dataset[i]
        meta = data['data_samples'].metainfo
        key = (meta['sequence'], meta['frame_id'])
        path = logits_path(out_dir, *key)
        if osp.isfile(path):
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

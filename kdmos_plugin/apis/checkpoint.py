"""Refuse a checkpoint that does not belong to the model.

mmengine's Runner loads ``load_from`` with ``strict=False``: a checkpoint of
another model only logs a warning and the evaluation silently runs on
random weights. The tools check first and fail with the file's name.
:func:`merge_member_checkpoints` writes the one checkpoint of an ensemble.
"""
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, Sequence, Tuple

import torch
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)
from torch import nn


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model of the config."""


def _unwrapped(key: str) -> str:
    """A state-dict or module-metadata key without a DDP ``module.``
    prefix (``'module'`` itself, the wrapper's own entry, becomes ``''``)."""
    if key == 'module':
        return ''
    return key[7:] if key.startswith('module.') else key


def _load_state_dict(filename: str) -> Tuple[Dict, Dict]:
    """The state dict of a checkpoint file and its module metadata, both
    with :func:`_unwrapped` keys.

    Raises:
        CheckpointMismatchError: The file holds no state dict.
    """
    ckpt = _load_checkpoint(filename, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise CheckpointMismatchError(
            f'{filename}: holds no state dict (a {type(ckpt).__name__})')
    metadata = {_unwrapped(k): v
                for k, v in getattr(state, '_metadata', {}).items()}
    return {_unwrapped(k): v for k, v in state.items()}, metadata


def check_checkpoint_matches(model: nn.Module, filename: str) -> Dict:
    """Load ``filename`` and check it against ``model``'s state dict.

    Args:
        model (nn.Module): The model the config builds.
        filename (str): Checkpoint path (mmengine format or a bare state
            dict).

    Returns:
        dict: The checkpoint's state dict.

    Raises:
        CheckpointMismatchError: Missing or unexpected keys or shapes that
            differ, naming the file and the first offenders.
    """
    state, _ = _load_state_dict(filename)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(
        f'{k}: checkpoint {tuple(state[k].shape)} vs model '
        f'{tuple(own[k].shape)}' for k in set(own) & set(state)
        if isinstance(state[k], torch.Tensor) and state[k].shape !=
        own[k].shape)
    if missing or unexpected or shapes:
        parts = []
        for what, keys in (('missing', missing), ('unexpected', unexpected),
                           ('shape mismatch', shapes)):
            if keys:
                parts.append(f'{len(keys)} {what} (e.g. {", ".join(keys[:3])})')
        raise CheckpointMismatchError(
            f'{filename}: does not fit the model '
            f'{type(model).__name__}: {"; ".join(parts)}. Is it a checkpoint '
            f'of another config?')
    return state


def load_matching_checkpoint(model: nn.Module, filename: str) -> dict:
    """Check ``filename`` against ``model``, then load it strictly.

    Loads through mmengine with the checkpoint's own state dict, whose
    ``_metadata`` (module versions) tells mmdet3d's spconv loader not to
    permute spconv-2 kernels as if they were spconv-1 ones; a re-built plain
    dict would lose it and the sparse kernels would come out transposed.

    Returns:
        dict: The whole checkpoint (``meta`` etc.).

    Raises:
        CheckpointMismatchError: See :func:`check_checkpoint_matches`.
    """
    check_checkpoint_matches(model, filename)
    ckpt = _load_checkpoint(filename, map_location='cpu')
    _load_checkpoint_to_model(model, ckpt, strict=True, logger='silent',
                              revise_keys=[(r'^module\.', '')])
    return ckpt


def merge_member_checkpoints(filenames: Sequence[str], out: str) -> dict:
    """Write one checkpoint for :class:`~kdmos_plugin.models.MOSEnsemble`.

    Member ``i``'s weights go under ``members.<i>.``, with the module
    metadata of its state dict (spconv's loader reads the module versions
    there; see :func:`load_matching_checkpoint`). Only weights are kept (no
    optimizer state). ``meta.members`` records each source file and its
    SHA-256. The output is written atomically and may not be one of the
    inputs.

    Args:
        filenames (Sequence[str]): Two or more member checkpoints, in the
            order of the ensemble config's ``members``.
        out (str): Output path.

    Returns:
        dict: The ``meta`` written.
    """
    from ..datasets.teacher_logits import file_sha256
    from ..utils.atomic_files import atomic_path

    filenames = [os.fspath(f) for f in filenames]
    if len(filenames) < 2:
        raise ValueError(f'merge_member_checkpoints: needs two or more '
                         f'checkpoints, got {len(filenames)}')
    if any(osp.abspath(f) == osp.abspath(out) for f in filenames):
        raise ValueError(f'{out}: is also one of the inputs; choose another '
                         'output path')
    state: OrderedDict = OrderedDict()
    metadata: OrderedDict = OrderedDict(
        [('', dict(version=1)), ('members', dict(version=1))])
    members = []
    for i, filename in enumerate(filenames):
        sd, sd_metadata = _load_state_dict(filename)
        if not sd:
            raise CheckpointMismatchError(
                f'{filename}: holds no state dict (an empty one)')
        for key, value in sd.items():
            state[f'members.{i}.{key}'] = value
        for key, value in sd_metadata.items():
            metadata[f'members.{i}' + (f'.{key}' if key else '')] = value
        members.append(dict(file=osp.basename(filename),
                            sha256=file_sha256(filename)))
    state._metadata = metadata
    meta = dict(members=members)
    with atomic_path(out) as tmp:
        torch.save(dict(state_dict=state, meta=meta), tmp)
    return meta

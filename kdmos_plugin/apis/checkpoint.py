"""Refuse a checkpoint that does not belong to the model.

mmengine's Runner loads ``load_from`` with ``strict=False``: a checkpoint of
another model only logs a warning and the evaluation silently runs on
random weights. The tools check first and fail with the file's name.
"""
from typing import Dict

import torch
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)
from torch import nn


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model of the config."""


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
    ckpt = _load_checkpoint(filename, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise CheckpointMismatchError(
            f'{filename}: holds no state dict (a {type(ckpt).__name__})')
    state = {k[7:] if k.startswith('module.') else k: v
             for k, v in state.items()}
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

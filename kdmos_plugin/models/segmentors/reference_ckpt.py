"""Convert checkpoints of the published KDMOS / MotionBEV code.

The published ``ptBEVnet`` state dict (``torch.save(model.state_dict())``,
bare or under ``model_state_dict`` / ``state_dict`` / ``model``, optionally
with DataParallel's ``module.`` prefix) is renamed to the keys of
:class:`KDMOSStudent`: its voxel encoder, backbone and decode head
(``configs/kdmos/student_bev.py`` for KDMOS with DySample,
``configs/kdmos/motionbev.py`` for MotionBEV's deconvolutions).
Tensors are kept bit-identical; only names change.

The renaming is a table of published -> our key prefixes (the remainder of
every key is kept), defined below and published in the docstring of
``tools/convert_reference_ckpt.py``, the user's entry point.

Inside the double convolutions the remainder (``conv1.0.weight``,
``conv1.1.running_mean``, ...) is the same in both; DySample keeps
``offset.weight``, ``offset.bias`` and the ``init_pos`` buffer, the
MotionBEV deconvolution ``weight`` and ``bias``.
"""
from collections import OrderedDict
from pathlib import Path
from typing import Dict, List, Mapping, Tuple, Union

import torch
from torch import Tensor

_NET = 'BEV_model.network.'
_HEAD_WEIGHT = 'decode_head.conv_seg.weight'


def reference_prefix_table() -> List[Tuple[str, str]]:
    """The expanded (published prefix, our prefix) pairs of the table."""
    table = [('pt_model_in.bn1.', 'voxel_encoder.mlp.0.')]
    for layer, first in ((1, 1), (2, 4), (3, 7)):
        table += [(f'pt_model_in.layer{layer}.0.',
                   f'voxel_encoder.mlp.{first}.'),
                  (f'pt_model_in.layer{layer}.1.',
                   f'voxel_encoder.mlp.{first + 1}.')]
    table += [('pt_model_in.out.', 'voxel_encoder.mlp.10.'),
              ('fea_compression.0.', 'voxel_encoder.compression.0.')]
    for pre in ('', 'res_'):
        table += [(f'{_NET}{pre}inc.conv.0.', f'backbone.{pre}inc.norm.'),
                  (f'{_NET}{pre}inc.conv.1.', f'backbone.{pre}inc.conv.')]
    table += [(f'{_NET}down{k}.mpconv.1.', f'backbone.down{k}.conv.')
              for k in range(1, 5)]
    table += [(f'{_NET}res_down{k}.mpconv.1.', f'backbone.res_down{k}.conv.')
              for k in range(1, 4)]
    for k in range(4):
        cgm, cag = f'{_NET}CGM{k}.', f'backbone.cag{k}.'
        table += [
            (f'{cgm}fuse_feature1.conv1.', f'{cag}fuse_conv.'),
            (f'{cgm}fuse_feature2.', f'{cag}gate_conv.'),
            (f'{cgm}attention_module.conv1x1_spatial.',
             f'{cag}mga.spatial_conv.'),
            (f'{cgm}attention_module.conv1x1_channel_wise.',
             f'{cag}mga.channel_conv.'),
            (f'{cgm}motion_channel_attention.',
             f'{cag}unused_channel_attention.'),
            (f'{cgm}motion_spatial_attention.conv1.',
             f'{cag}unused_spatial_attention.conv.'),
        ]
    for k in range(4):
        table += [(f'{_NET}up{k}.up.', f'backbone.up{k}.upsample.'),
                  (f'{_NET}up{k}.conv.', f'backbone.up{k}.conv.')]
    table.append((f'{_NET}outc.conv.', 'decode_head.conv_seg.'))
    return table


def _rename(state_dict: Mapping[str, Tensor], table: List[Tuple[str, str]],
            what: str) -> 'OrderedDict[str, Tensor]':
    """Rename keys by their longest matching prefix of ``table``."""
    ordered = sorted(table, key=lambda pair: -len(pair[0]))
    out, unknown = OrderedDict(), []
    for key, value in state_dict.items():
        for old, new in ordered:
            if key.startswith(old):
                out[new + key[len(old):]] = value
                break
        else:
            unknown.append(key)
    if unknown:
        shown = ', '.join(unknown[:8]) + (' ...' if len(unknown) > 8 else '')
        raise KeyError(f'{what}: {len(unknown)} keys match no entry of the '
                       f'mapping table: {shown}')
    return out


def convert_reference_state_dict(
        state_dict: Mapping[str, Tensor]) -> 'OrderedDict[str, Tensor]':
    """Published ``ptBEVnet`` keys -> :class:`KDMOSStudent` keys.

    A leading ``module.`` (DataParallel) is dropped. Raises ``KeyError``
    naming the keys no table entry covers.
    """
    stripped = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())
    return _rename(stripped, reference_prefix_table(),
                   'convert_reference_state_dict')


def extract_state_dict(obj, path: str = '<checkpoint>') -> Dict[str, Tensor]:
    """The tensor dict of a loaded published checkpoint.

    Accepts a bare state dict or one under ``model_state_dict``,
    ``state_dict`` or ``model``.
    """
    if isinstance(obj, Mapping):
        for key in ('model_state_dict', 'state_dict', 'model'):
            if isinstance(obj.get(key), Mapping):
                obj = obj[key]
                break
        if obj and all(isinstance(v, Tensor) for v in obj.values()):
            return dict(obj)
    raise ValueError(
        f'{path}: not a state dict of the published code (expected a dict '
        f'of tensors, bare or under model_state_dict/state_dict/model)')


def convert_reference_checkpoint(src: Union[str, Path],
                                 dst: Union[str, Path]) -> dict:
    """Convert a published checkpoint file into an mmengine checkpoint.

    Args:
        src: ``torch.save`` output of the published code; loaded with
            ``weights_only=True``.
        dst: Output path; written as ``{'state_dict': ..., 'meta': ...}``.

    Returns:
        dict: The written checkpoint.
    """
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f'{src}: no such checkpoint file')
    try:
        obj = torch.load(src, map_location='cpu', weights_only=True)
    except Exception as err:  # unpickling errors of several kinds
        raise ValueError(f'{src}: cannot be loaded with weights_only=True '
                         f'({type(err).__name__}: {err})') from err
    state = convert_reference_state_dict(extract_state_dict(obj, str(src)))
    upsample = ('dysample' if 'backbone.up0.upsample.offset.weight' in state
                else 'deconv')
    ckpt = dict(
        state_dict=state,
        meta=dict(
            source=str(src),
            converted_by='kdmos_plugin.models.segmentors.reference_ckpt',
            upsample=upsample,
            out_channels=int(state[_HEAD_WEIGHT].shape[0])
            if _HEAD_WEIGHT in state else None))
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(ckpt, dst)
    return ckpt

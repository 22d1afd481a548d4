"""Batch the packed MOS samples and move them to the model's device."""
from typing import Dict, List

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from mmdet3d.registry import MODELS

#: Input keys a MOS sample may carry; every one is a list, one per sample.
INPUT_KEYS = ('points', 'point_feats', 'grid_ind', 'multi_points')


@MODELS.register_module()
class MOSDataPreprocessor(BaseDataPreprocessor):
    """Collate MOS samples without padding and cast them to the device.

    mmdet3d's ``Det3DDataPreprocessor`` voxelises on the GPU only (its
    ``cylindrical`` and ``minkunet`` modes), so the polar grid indices are
    computed in the data pipeline and this preprocessor only batches.

    Input (from ``pseudo_collate`` of :class:`PackMOSInputs` outputs)::

        data['inputs'] = dict(
            points=[(N_b, 4) float32],       # current scan x, y, z [m], intensity
            point_feats=[(N_b, 9 + R) float32],  # 9 appearance + R motion channels
            grid_ind=[(N_b, 3) int64],       # polar cell (i_rho, i_phi, i_z)
            multi_points=[(M_b, 5) float32], # optional: merged scans x, y, z,
                                             # intensity, age; current scan first
        )
        data['data_samples'] = [Det3DDataSample, ...]

    Returns the same structure on ``self.device``. Keys other than those in
    :data:`INPUT_KEYS` are passed through (cast to the device).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        """Cast a collated batch to the device; checks list lengths."""
        data = self.cast_data(data)
        inputs: Dict[str, List[Tensor]] = data['inputs']
        samples = data.get('data_samples')
        num = len(inputs['points'])
        for key, value in inputs.items():
            if isinstance(value, (list, tuple)) and len(value) != num:
                raise ValueError(
                    f'MOSDataPreprocessor: inputs[{key!r}] holds {len(value)} '
                    f'samples but inputs["points"] holds {num}')
        for key in ('points', 'point_feats', 'multi_points'):
            for i, t in enumerate(inputs.get(key, [])):
                if torch.is_floating_point(t) and not torch.isfinite(t).all():
                    name = _sample_name(samples, i)
                    raise ValueError(
                        f'MOSDataPreprocessor: non-finite values in '
                        f'inputs[{key!r}] of {name}')
        return {'inputs': inputs, 'data_samples': samples}


def _sample_name(samples, i: int) -> str:
    """The file path of sample ``i`` for error messages, if known."""
    if samples is None or i >= len(samples):
        return f'sample {i}'
    return str(samples[i].metainfo.get('lidar_path', f'sample {i}'))

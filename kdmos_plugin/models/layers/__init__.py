"""layers of kdmos_plugin."""
from .bev_point_encoder import BEVPointEncoder
from .bev_unet_blocks import (CircularConvBNAct, DoubleConvCircular, Down,
                              InConv, Up, circular_pad_phi, pad_to)
from .co_attention_gate import CoAttentionGate, MotionGuidedAttention
from .dropblock import DropBlock2D
from .dysample import DySample
from .pillar_scatter import (pillar_keys, pillar_max, scatter_to_bev,
                             unique_pillars)

__all__ = [
    'BEVPointEncoder', 'CircularConvBNAct', 'DoubleConvCircular', 'Down',
    'InConv', 'Up', 'circular_pad_phi', 'pad_to', 'CoAttentionGate',
    'MotionGuidedAttention', 'DropBlock2D', 'DySample', 'pillar_keys',
    'pillar_max', 'scatter_to_bev', 'unique_pillars'
]
from .spacetime_voxelizer import SpacetimeVoxelizer, VoxelizedBatch  # noqa: E402,E501
__all__ += ['SpacetimeVoxelizer', 'VoxelizedBatch']
from .sync_bn import (DistSyncBatchNorm, all_reduce_sum,  # noqa: E402
                      convert_sync_batchnorm)
__all__ += ['DistSyncBatchNorm', 'all_reduce_sum', 'convert_sync_batchnorm']

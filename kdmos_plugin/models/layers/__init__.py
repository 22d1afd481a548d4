"""Building blocks of the networks: BEV U-Net blocks, co-attention gate,
DySample, DropBlock, pillar scatter, SyncBN on CPU."""
from .bev_unet_blocks import (CircularConvBNAct, DoubleConvCircular, Down,
                              InConv, Up, circular_pad_phi, pad_to)
from .co_attention_gate import CoAttentionGate, MotionGuidedAttention
from .dropblock import DropBlock2D
from .dysample import DySample
from .pillar_scatter import (pillar_keys, pillar_max, scatter_to_bev,
                             unique_pillars)

__all__ = [
    'CircularConvBNAct', 'DoubleConvCircular', 'Down', 'InConv', 'Up',
    'circular_pad_phi', 'pad_to', 'CoAttentionGate', 'MotionGuidedAttention',
    'DropBlock2D', 'DySample', 'pillar_keys', 'pillar_max', 'scatter_to_bev',
    'unique_pillars'
]
from .sync_bn import (DistSyncBatchNorm, all_reduce_sum,  # noqa: E402
                      convert_sync_batchnorm)
__all__ += ['DistSyncBatchNorm', 'all_reduce_sum', 'convert_sync_batchnorm']

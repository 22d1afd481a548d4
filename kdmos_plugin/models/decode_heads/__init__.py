"""Decode heads, as mmdet3d's: features -> logits, and their losses.

``BEVVoxelHead``: the student's 1x1 classifier of polar BEV features, read
only at the voxels needed. ``MOSPointHead``: the teacher's linear
classifier of per-point features. Both take CE + Lovasz in
``loss_by_feat``.
"""
from .bev_voxel_head import BEVVoxelHead, check_cells, head_logits_at_cells
from .mos_decode_head import MOSDecodeHead
from .mos_point_head import MOSPointHead

__all__ = ['BEVVoxelHead', 'MOSDecodeHead', 'MOSPointHead', 'check_cells',
           'head_logits_at_cells']

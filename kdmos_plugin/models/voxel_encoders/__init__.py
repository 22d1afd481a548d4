"""Voxel encoders: points -> the grid a backbone reads.

``BEVPointEncoder`` pools point features into the student's polar BEV maps;
``SpacetimeVoxelizer`` voxelises the merged multi-scan cloud into the
teacher's sparse (x, y, z[, age]) cells.
"""
from .bev_point_encoder import BEVPointEncoder
from .spacetime_voxelizer import SpacetimeVoxelizer, VoxelizedBatch

__all__ = ['BEVPointEncoder', 'SpacetimeVoxelizer', 'VoxelizedBatch']

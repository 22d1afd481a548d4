"""Synthetic SemanticKITTI-MOS data: a ray-cast spinning LiDAR driving
through a procedural street with parked and moving cars, cyclists and
pedestrians (see :mod:`.generator` for the written layout).

Modules: :mod:`.geometry` (primitives and analytic ray intersection),
:mod:`.lidar` (beam model, casting, noise), :mod:`.scene` (streets, static
structure, agents, ego trajectory), :mod:`.generator` (sequences and files).
"""
from .generator import (KITTI_P, KITTI_TR, PRESETS, SyntheticSequence,
                        kitti_trajectory, write_dataset, write_sequence)
from .lidar import LIDAR_PRESETS, LidarModel, hdl64_elevations
from .scene import MOVING_ID, MOVING_SPEED, Scene, SceneBuilder

__all__ = [
    'KITTI_P', 'KITTI_TR', 'PRESETS', 'SyntheticSequence', 'kitti_trajectory',
    'write_dataset', 'write_sequence', 'LIDAR_PRESETS', 'LidarModel',
    'hdl64_elevations', 'MOVING_ID', 'MOVING_SPEED', 'Scene', 'SceneBuilder'
]

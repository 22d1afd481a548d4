"""Synthetic SemanticKITTI-MOS data: a ray-cast spinning LiDAR driving
through a procedural street with parked and moving cars, cyclists and
pedestrians (see :mod:`.generator` for the written layout).

Modules: :mod:`.geometry` (primitives and analytic ray intersection),
:mod:`.lidar` (beam model, casting, noise), :mod:`.scene` (the scene and
its builder) made of :mod:`.streets`, :mod:`.ego_path`,
:mod:`.static_world`, :mod:`.agents` and :mod:`.rich_detail`,
:mod:`.generator` (sequences and files), :mod:`.sensors` (the LiDAR of a
sensor profile, random profiles).
Not imported by ``import kdmos_plugin``: nothing here is registered, and
the tools and tests that generate data import it.
"""
from .agents import MOVING_SPEED
from .generator import (KITTI_P, KITTI_TR, PRESETS, SyntheticSequence,
                        kitti_trajectory, make_synthetic_data, write_dataset,
                        write_sequence)
from .lidar import LIDAR_PRESETS, LidarModel, hdl64_elevations
from .scene import SCENE_DETAILS, Scene, SceneBuilder
from .semantic_ids import EGO_BODY, MOVING_ID
from .sensors import lidar_from_profile, random_profile, scan_period

__all__ = [
    'KITTI_P', 'KITTI_TR', 'PRESETS', 'SyntheticSequence', 'kitti_trajectory',
    'make_synthetic_data', 'write_dataset', 'write_sequence', 'SCENE_DETAILS',
    'EGO_BODY', 'LIDAR_PRESETS', 'LidarModel',
    'hdl64_elevations', 'MOVING_ID', 'MOVING_SPEED', 'Scene', 'SceneBuilder',
    'lidar_from_profile', 'random_profile', 'scan_period'
]

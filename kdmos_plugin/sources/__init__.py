"""Your own LiDAR: sensor profiles, point cloud sources (folders of
``.bin``/``.pcd``/``.ply``/``.npy`` scans, ROS1 and ROS2 bags), pose files
and LiDAR odometry."""
from .base import (POINT_SOURCES, Frame, PointCloudSource, SourceFormatError,
                   natural_sorted, points_from_fields)
from .builder import build_source
from .folder import (BinFolderSource, NumpyFolderSource, PCDFolderSource,
                     PLYFolderSource)
from .odometry import Odometry
from .pcd import read_pcd, write_pcd
from .poses import POSE_FORMATS, read_pose_file
from .rosbag import RosbagSource, pointcloud2_to_points
from .sensor_profile import (PROFILE_ALIASES, SENSOR_PROFILES,
                             TRAINED_SCAN_RATE, SensorProfile,
                             SensorProfileError, get_profile, profile_table,
                             register_profile)

__all__ = [
    'POINT_SOURCES', 'Frame', 'PointCloudSource', 'SourceFormatError',
    'natural_sorted', 'points_from_fields', 'build_source',
    'BinFolderSource', 'NumpyFolderSource', 'PCDFolderSource',
    'PLYFolderSource', 'Odometry', 'read_pcd', 'write_pcd', 'POSE_FORMATS',
    'read_pose_file', 'RosbagSource', 'pointcloud2_to_points',
    'PROFILE_ALIASES', 'SENSOR_PROFILES', 'TRAINED_SCAN_RATE',
    'SensorProfile', 'SensorProfileError', 'get_profile', 'profile_table',
    'register_profile'
]

"""Your own LiDAR: sensor profiles, point cloud sources, poses and odometry."""
from .sensor_profile import (PROFILE_ALIASES, SENSOR_PROFILES,
                             TRAINED_SCAN_RATE, SensorProfile,
                             SensorProfileError, get_profile, profile_table,
                             register_profile)

__all__ = [
    'PROFILE_ALIASES', 'SENSOR_PROFILES', 'TRAINED_SCAN_RATE',
    'SensorProfile', 'SensorProfileError', 'get_profile', 'profile_table',
    'register_profile'
]

# The synthetic student (student_bev_synthetic.py) on data of several
# sensors: each sequence's sensor.json is read (sensor='auto') and
# MOSNormalizeIntensity puts every intensity on the 0-1 scale, so that 0-1,
# 0-255 and intensity-less sensors train and test together. The data:
# tools/make_synthetic_data.py --sensor ... (see
# ../_base_/datasets/synthetic_mixed_sensors.py); the cross-sensor
# experiment (tools/cross_sensor.py) trains and tests this config.
_base_ = [
    '../_base_/datasets/synthetic_mixed_sensors.py',
    '../_base_/models/kdmos_student_synthetic.py',
    '../_base_/schedules/synthetic_onecycle.py',
    '../_base_/default_runtime.py',
]

model = dict(
    grid_size={{_base_.grid_size}},
    num_classes={{_base_.num_classes}},
    voxel_encoder=dict(motion_channels={{_base_.motion_channels}}),
    backbone=dict(motion_channels={{_base_.motion_channels}}))
default_hooks = dict(logger=dict(interval=5))

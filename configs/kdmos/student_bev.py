# KDMOS student without distillation (the baseline of student_kd.py):
# SemanticKITTI-MOS, reference grid 480x360x32, the published 150-epoch SGD.
_base_ = [
    '../_base_/datasets/semantickitti_mos.py',
    '../_base_/models/kdmos_student.py',
    '../_base_/schedules/kdmos_150e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    grid_size={{_base_.grid_size}},
    num_classes={{_base_.num_classes}},
    voxel_encoder=dict(motion_channels={{_base_.motion_channels}}),
    backbone=dict(motion_channels={{_base_.motion_channels}}))

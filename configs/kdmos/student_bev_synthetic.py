# KDMOS student without distillation on the small synthetic sequences: a
# smoke-sized run (small grid, a few epochs) of the same model and recipe.
_base_ = [
    '../_base_/datasets/synthetic_mos.py',
    '../_base_/models/kdmos_student.py',
    '../_base_/schedules/kdmos_150e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    grid_size={{_base_.grid_size}},
    num_classes={{_base_.num_classes}},
    voxel_encoder=dict(motion_channels={{_base_.motion_channels}}),
    backbone=dict(motion_channels={{_base_.motion_channels}}))

train_cfg = dict(max_epochs=4, val_begin=2, val_interval=2)
default_hooks = dict(logger=dict(interval=5))

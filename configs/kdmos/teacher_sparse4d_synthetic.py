# Sparse 4-D teacher on the synthetic sequences: the same model and data flow
# as teacher_sparse4d.py, scaled to train in minutes on 2 CPU cores: 0.3 m x
# 1 scan cells, 3 levels of 16-64 channels, no residual block at the finest
# level (spconv's CPU cost grows with voxels x kernel taps, not with width),
# time mixed at the coarsest level, a short OneCycle at a larger lr.
# Measured (batch 2, ~125k merged points and ~100k voxels a batch): about
# 0.55 s an iteration on an idle 2-core machine; 5 epochs of the demo's
# 3 x 40 scans take about 3 min. Another length:
# --cfg-options train_cfg.max_epochs=N param_scheduler.0.total_steps=N
# param_scheduler.0.end=N.
_base_ = [
    '../_base_/datasets/synthetic_mos.py',
    '../_base_/models/sparse4d_teacher.py',
    '../_base_/schedules/teacher_adamw_50e.py',
    '../_base_/default_runtime.py',
]
# The dataset's teacher pipelines (the merged past scans; see the dataset
# base), batch 2.
train_dataloader = dict(
    batch_size=2, dataset=dict(pipeline={{_base_.teacher_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.teacher_test_pipeline}}))
test_dataloader = val_dataloader

model = dict(
    num_classes={{_base_.num_classes}},
    voxel_encoder=dict(
        voxel_size=(0.3, 0.3, 0.3, 1), max_age={{_base_.num_past_scans}}),
    backbone=dict(
        channels=(16, 32, 64),
        num_blocks=(0, 1, 1),
        decoder_blocks=(1, 0),  # deepest first; 0 = per-voxel fusion
        time_kernel=(1, 1, 3),  # time mixed at 1.2 m, 2 age cells of 4 scans
        temporal_strides=(2, 2)),
    decode_head=dict(channels=16))

# AdamW + OneCycle as the reference recipe, at a demo lr and length
lr = 2e-3
max_epochs = 5
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [
    dict(_base_.param_scheduler[0], eta_max=lr, total_steps=max_epochs,
         end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs, val_interval=1)
default_hooks = dict(logger=dict(interval=5))

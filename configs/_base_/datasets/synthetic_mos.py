# The synthetic SemanticKITTI-layout sequences (tools/make_synthetic_data.py):
# the classes, bounds, loaders and pipeline steps of semantickitti_mos.py
# (both complete mos_common.py), a small grid and the causal (past-only)
# motion features, small loaders without workers, for smoke runs on a CPU.
_base_ = ['./mos_common.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

data_root = 'data/synthetic_mos'
grid_size = [240, 180, 16]
motion_mode = 'causal'
num_future_scans = 0  # the causal features need no future scans
# 24 short scenes (20 scans each) for training; the demo scores three
# held-out scenes (08, 09, 10) together (validation here: 08). At the same
# number of iterations, more scenes made students better (moving IoU on
# 08-10, seed 0: 6 scenes x 4 epochs 60.8, 12 x 2 73.9, 24 x 1 77.9).
train_sequences = ['00', '01', '02', '03', '04', '05'] + [
    str(i) for i in range(11, 29)]

motion_cfg = dict(_base_.motion_cfg, mode=motion_mode)
voxelize_cfg = dict(_base_.voxelize_cfg, grid_size=grid_size)
train_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=True,
    num_future_scans=num_future_scans, motion_cfg=motion_cfg)
test_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=False,
    num_future_scans=num_future_scans, motion_cfg=motion_cfg)
# Offline distillation (python tools/dump_teacher_logits.py
# configs/kdmos/teacher_sparse4d_synthetic.py CKPT
# --out data/synthetic_mos_teacher_logits --split train).
teacher_logits_root = 'data/synthetic_mos_teacher_logits'
kd_train_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=True,
    num_future_scans=num_future_scans, motion_cfg=motion_cfg,
    teacher_logits=dict(logits_root=teacher_logits_root,
                        num_classes=_base_.num_classes))
# The teacher keeps the student's rigid augmentation here (the demo's
# numbers were measured with it), not the MambaMOS crop of the
# SemanticKITTI teacher.
teacher_train_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=True)
teacher_test_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=False)

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root, sequences=train_sequences,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

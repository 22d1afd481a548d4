# SemanticKITTI-MOS (docs/METHOD.md section 1): 4 classes, the reference polar
# grid 480x360x32 on fixed bounds, and the published 8-channel motion
# features computed online ('reference' mode: they look 7 scans ahead; about
# 0.6 CPU-s a shuffled sample). For long trainings write them once with
# `tools/create_data.py DATA_ROOT --residual-root DIR` and use
# motion_cfg = dict(type='MOSMotionFeatures', mode='file', residual_root=DIR)
# with num_future_scans = 0 (same values). motion_mode = 'causal' gives the
# online (past-only) features. Every pipeline of this data is built here
# once (student train/test, offline KD train, teacher train/test); leaves
# pick theirs. A child config that changes motion_mode must also rebuild the
# pipelines (mos_pipeline()).
# Classes, label map, bounds and loaders: mos_common.py.
_base_ = ['./mos_common.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

data_root = 'data/semantickitti'
grid_size = [480, 360, 32]
motion_mode = 'reference'

# Splits (docs/METHOD.md 1.2). KITTI-road training: train_sequences +
# road_train_sequences, validation on road_val_sequences.
train_sequences = ['00', '01', '02', '03', '04', '05', '06', '07', '09', '10']
test_sequences = ['11', '12', '13', '14', '15', '16', '17', '18', '19', '20',
                  '21']
road_train_sequences = ['30', '31', '32', '33', '34', '40']
road_val_sequences = ['35', '36', '37', '38', '39', '41']

num_future_scans = 7 if motion_mode == 'reference' else 0
motion_cfg = dict(_base_.motion_cfg, mode=motion_mode)
voxelize_cfg = dict(_base_.voxelize_cfg, grid_size=grid_size)
train_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=True,
    num_future_scans=num_future_scans, motion_cfg=motion_cfg)
test_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=False,
    num_future_scans=num_future_scans, motion_cfg=motion_cfg)
# Offline distillation: the student pipeline reading the teacher's logits
# (python tools/dump_teacher_logits.py TEACHER_CFG CKPT --out
# data/teacher_logits --split train).
teacher_logits_root = 'data/teacher_logits'
kd_train_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=True,
    num_future_scans=num_future_scans, motion_cfg=motion_cfg,
    teacher_logits=dict(logits_root=teacher_logits_root,
                        num_classes=_base_.num_classes))
# The sparse teacher reads only the merged cloud: past scans, no future
# scans, no motion features (PolarVoxelize stays for the packed student
# keys). It trains with the MambaMOS augmentations (rotate, scale, flip,
# jitter, a sphere crop keeping 80% of the merged cloud: docs/METHOD.md
# 3.2); the crop drops points, so it is for training the teacher only,
# never for dumping logits.
teacher_train_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=True, train_aug='mambamos')
teacher_test_pipeline = mos_pipeline(
    _base_.num_past_scans, voxelize_cfg, train=False)

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        sequences=train_sequences,
        filter_static_frames=True,  # frames with moving points + every 10th
        pipeline=train_pipeline))
# Evaluation runs on the labelled val split; the hidden test split (no
# labels, for the benchmark submission) is benchmark_test_dataloader.
val_dataloader = dict(
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
benchmark_test_dataloader = dict(
    _base_.val_dataloader,
    dataset=dict(_base_.val_dataloader.dataset, data_root=data_root,
                 split='test', sequences=test_sequences,
                 pipeline=test_pipeline))
# With benchmark_test_dataloader: write sequences/XX/predictions/*.label.
benchmark_test_evaluator = dict(
    type='MOSMetric',
    format_only=True,
    submission_prefix='work_dirs/semantickitti_mos_submission')

# SemanticKITTI-MOS (docs/METHOD.md section 1): 4 classes, the reference polar
# grid 480x360x32 on fixed bounds, and the published 8-channel motion
# features computed online ('reference' mode: they look 7 scans ahead; about
# 0.6 CPU-s a shuffled sample). For long trainings write them once with
# `tools/create_data.py DATA_ROOT --residual-root DIR` and use
# motion_cfg = dict(type='MOSMotionFeatures', mode='file', residual_root=DIR)
# with num_future_scans = 0 (same values). motion_mode = 'causal' gives the
# online (past-only) features. Pipelines are built here: a child config that
# changes motion_mode must also rebuild the pipelines (mos_pipeline()).
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

# SemanticKITTI-MOS (REFERENCE.md section 1): 4 classes, the reference polar
# grid 480x360x32 on fixed bounds, and the published 8-channel motion
# features computed online ('reference' mode: they look 7 scans ahead; about
# 0.6 CPU-s a shuffled sample). For long trainings write them once with
# `tools/create_data.py DATA_ROOT --residual-root DIR` and use
# motion_cfg = dict(type='MOSMotionFeatures', mode='file', residual_root=DIR)
# with num_future_scans = 0 (same values). motion_mode = 'causal' gives the
# online (past-only) features. Pipelines are built here: a child config that
# changes motion_mode must also redefine the pipelines.
dataset_type = 'SemanticKittiMOSDataset'
data_root = 'data/semantickitti'

class_names = ('unlabeled', 'static', 'movable', 'moving')
num_classes = 4
motion_channels = 8
grid_size = [480, 360, 32]
min_bound = [1.85, -3.141592653589793, -4.0]
max_bound = [50.15, 3.141592653589793, 2.0]
num_past_scans = 7  # teacher input and causal motion features
motion_mode = 'reference'

# Raw SemanticKITTI semantic ids of each class (REFERENCE 1.1); unknown raw
# ids are an error. MotionBEV's 2-class map: label_map='mos_2class' with
# class_names = ('static', 'moving') and num_classes = 2.
label_map = dict(
    unlabeled=[0, 1],
    static=[9, 40, 44, 48, 49, 50, 51, 52, 60, 70, 71, 72, 80, 81, 99],
    movable=[10, 11, 13, 15, 16, 18, 20, 30, 31, 32, 250],
    moving=[251, 252, 253, 254, 255, 256, 257, 258, 259])
metainfo = dict(classes=class_names)

# Splits (REFERENCE 1.2). KITTI-road training: train_sequences +
# road_train_sequences, validation on road_val_sequences.
train_sequences = ['00', '01', '02', '03', '04', '05', '06', '07', '09', '10']
val_sequences = ['08']
test_sequences = ['11', '12', '13', '14', '15', '16', '17', '18', '19', '20',
                  '21']
road_train_sequences = ['30', '31', '32', '33', '34', '40']
road_val_sequences = ['35', '36', '37', '38', '39', '41']

num_future_scans = 7 if motion_mode == 'reference' else 0
motion_cfg = dict(type='MOSMotionFeatures', mode=motion_mode,
                  num_channels=motion_channels)
voxelize_cfg = dict(
    type='PolarVoxelize',
    grid_size=grid_size,
    min_bound=min_bound,
    max_bound=max_bound,
    num_classes=num_classes)

train_pipeline = [
    dict(type='LoadMOSScans', num_past=num_past_scans,
         num_future=num_future_scans),
    dict(type='LoadMOSLabels'),
    motion_cfg,
    dict(type='MOSGlobalAug', rotate=True, flip=True, translate_std=0.1),
    voxelize_cfg,
    dict(type='PackMOSInputs'),
]
test_pipeline = [
    dict(type='LoadMOSScans', num_past=num_past_scans,
         num_future=num_future_scans),
    dict(type='LoadMOSLabels'),
    motion_cfg,
    voxelize_cfg,
    dict(type='PackMOSInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        sequences=train_sequences,
        label_map=label_map,
        metainfo=metainfo,
        filter_static_frames=True,  # frames with moving points + every 10th
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        sequences=val_sequences,
        label_map=label_map,
        metainfo=metainfo,
        test_mode=True,
        pipeline=test_pipeline))
# Evaluation runs on the labelled val split; the hidden test split (no
# labels, for the benchmark submission) is benchmark_test_dataloader.
test_dataloader = val_dataloader
benchmark_test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        sequences=test_sequences,
        label_map=label_map,
        metainfo=metainfo,
        test_mode=True,
        pipeline=test_pipeline))

val_evaluator = dict(type='MOSMetric')
test_evaluator = val_evaluator
# With benchmark_test_dataloader: write sequences/XX/predictions/*.label.
benchmark_test_evaluator = dict(
    type='MOSMetric',
    format_only=True,
    submission_prefix='work_dirs/semantickitti_mos_submission')

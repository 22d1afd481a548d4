# The synthetic SemanticKITTI-layout sequences (tools/make_synthetic_data.py):
# same classes, bounds and pipeline as semantickitti_mos.py, a small grid and
# the causal (past-only) motion features, for smoke runs on a CPU.
dataset_type = 'SemanticKittiMOSDataset'
data_root = 'data/synthetic_mos'

class_names = ('unlabeled', 'static', 'movable', 'moving')
num_classes = 4
motion_channels = 8
grid_size = [240, 180, 16]
min_bound = [1.85, -3.141592653589793, -4.0]
max_bound = [50.15, 3.141592653589793, 2.0]
num_past_scans = 7
num_future_scans = 0  # the causal features need no future scans
motion_mode = 'causal'

label_map = dict(
    unlabeled=[0, 1],
    static=[9, 40, 44, 48, 49, 50, 51, 52, 60, 70, 71, 72, 80, 81, 99],
    movable=[10, 11, 13, 15, 16, 18, 20, 30, 31, 32, 250],
    moving=[251, 252, 253, 254, 255, 256, 257, 258, 259])
metainfo = dict(classes=class_names)

train_sequences = ['00', '01', '02']
val_sequences = ['08']

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
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        sequences=train_sequences,
        label_map=label_map,
        metainfo=metainfo,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
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
test_dataloader = val_dataloader

val_evaluator = dict(type='MOSMetric')
test_evaluator = val_evaluator

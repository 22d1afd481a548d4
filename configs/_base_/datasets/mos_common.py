# What every SemanticKITTI-layout MOS dataset base shares
# (semantickitti_mos.py, synthetic_mos.py): the 4 classes and the label map,
# the reference polar bounds, K past scans, the val split, the loaders and
# the metric. A dataset base completes it with its data_root, grid_size,
# motion mode, sequences and pipelines (kdmos_plugin's mos_pipeline()).
dataset_type = 'SemanticKittiMOSDataset'

class_names = ('unlabeled', 'static', 'movable', 'moving')
num_classes = 4
motion_channels = 8
min_bound = [1.85, -3.141592653589793, -4.0]
max_bound = [50.15, 3.141592653589793, 2.0]
num_past_scans = 7  # teacher input and causal motion features

# Raw SemanticKITTI semantic ids of each class (docs/METHOD.md 1.1); unknown raw
# ids are an error. MotionBEV's 2-class map: label_map='mos_2class' with
# class_names = ('static', 'moving') and num_classes = 2.
label_map = dict(
    unlabeled=[0, 1],
    static=[9, 40, 44, 48, 49, 50, 51, 52, 60, 70, 71, 72, 80, 81, 99],
    movable=[10, 11, 13, 15, 16, 18, 20, 30, 31, 32, 250],
    moving=[251, 252, 253, 254, 255, 256, 257, 258, 259])
metainfo = dict(classes=class_names)

val_sequences = ['08']

# Completed by the dataset base: the motion `mode`, the `grid_size`.
motion_cfg = dict(type='MOSMotionFeatures', num_channels=motion_channels)
voxelize_cfg = dict(
    type='PolarVoxelize',
    min_bound=min_bound,
    max_bound=max_bound,
    num_classes=num_classes)

# Completed by the dataset base: data_root, sequences, pipeline.
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        split='train',
        label_map=label_map,
        metainfo=metainfo))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=dataset_type,
        split='val',
        sequences=val_sequences,
        label_map=label_map,
        metainfo=metainfo,
        test_mode=True))
test_dataloader = val_dataloader

val_evaluator = dict(type='MOSMetric')
test_evaluator = val_evaluator

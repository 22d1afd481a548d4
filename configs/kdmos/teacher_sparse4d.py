# Sparse 4-D teacher on SemanticKITTI-MOS: the current scan and K = 7 past
# scans merged into one (x, y, z, intensity, age) cloud (`multi_points`),
# space-time voxels of 0.1 m x 1 scan, the MambaMOS training recipe.
# Train:  python tools/train.py configs/kdmos/teacher_sparse4d.py
# Logits: python tools/dump_teacher_logits.py configs/kdmos/teacher_sparse4d.py
#             CKPT --out data/teacher_logits --split train
_base_ = [
    '../_base_/datasets/semantickitti_mos.py',
    '../_base_/models/sparse4d_teacher.py',
    '../_base_/schedules/teacher_adamw_50e.py',
    '../_base_/default_runtime.py',
]
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

# The teacher reads only the merged cloud: past scans, no future scans, no
# motion features (PolarVoxelize stays for the packed student keys). It trains
# with the MambaMOS augmentations (rotate, scale, flip, jitter, a sphere crop
# keeping 80% of the merged cloud: docs/METHOD.md 3.2); the crop drops points, so
# it is for training the teacher only, never for dumping logits.
teacher_train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    train_aug='mambamos')
teacher_test_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=False)
train_dataloader = dict(
    batch_size=2, dataset=dict(pipeline=teacher_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=teacher_test_pipeline))
test_dataloader = val_dataloader

model = dict(
    num_classes={{_base_.num_classes}},
    voxelizer=dict(max_age={{_base_.num_past_scans}}))

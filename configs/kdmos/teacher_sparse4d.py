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
# The dataset's teacher pipelines (the merged past scans; see the dataset
# base), batch 2.
train_dataloader = dict(
    batch_size=2, dataset=dict(pipeline={{_base_.teacher_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.teacher_test_pipeline}}))
test_dataloader = val_dataloader

model = dict(
    num_classes={{_base_.num_classes}},
    voxel_encoder=dict(max_age={{_base_.num_past_scans}}))

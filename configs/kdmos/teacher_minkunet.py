# A new teacher backbone by config inheritance alone: mmdet3d's own MinkUNet
# (its `_base_/models/minkunet.py`, the model of its minkunet34_w32_spconv
# configs) fed with the merged K = 7 multi-scan cloud. The 3-D MinkUNet sees
# (x, y, z) cells and gets the scan age as a fifth voxel feature (mean x, y,
# z, intensity, age); Sparse4DMOSTeacher supplies voxelisation, the MOS point
# head with its losses, and switches every spconv layer to the native
# algorithm on CPU.
# mmdet3d's full minkunet34 spconv config also carries its SemanticKITTI
# data, schedule and runtime, whose keys would clash with ours among bases,
# so the model file is inherited and its two spconv/-34 deltas restated.
_base_ = [
    'mmdet3d::_base_/models/minkunet.py',
    '../_base_/datasets/semantickitti_mos.py',
    '../_base_/schedules/teacher_adamw_50e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='Sparse4DMOSTeacher',
    data_preprocessor=dict(_delete_=True, type='MOSDataPreprocessor'),
    num_classes={{_base_.num_classes}},
    ignore_index=0,
    voxel_encoder=dict(
        type='SpacetimeVoxelizer',
        # mmdet3d's MinkUNet cell size, 3-D cells: the age is a feature only
        voxel_size={{_base_.model.data_preprocessor.voxel_layer.voxel_size}},
        point_cloud_range=(-51.2, -51.2, -4.0, 51.2, 51.2, 4.0),
        max_age={{_base_.num_past_scans}},
        with_offset=False),
    backbone=dict(
        in_channels=5,  # x, y, z, intensity, age
        encoder_blocks=[2, 3, 4, 6],  # MinkUNet-34, as mmdet3d's minkunet34
        sparseconv_backend='spconv'),
    # mmdet3d's MinkUNetHead settings for our point head (a Linear, too)
    decode_head=dict(
        _delete_=True,
        type='MOSPointHead',
        channels={{_base_.model.decode_head.channels}},
        dropout_ratio={{_base_.model.decode_head.dropout_ratio}},
        loss_decode=dict(
            type='mmdet.CrossEntropyLoss',
            use_sigmoid=False,
            avg_non_ignore=True,
            loss_weight=1.0),
        loss_lovasz=dict(type='LovaszSoftmaxLoss', ignore_index=0,
                         loss_weight=1.0)))

# The dataset's teacher pipelines (the merged past scans; see the dataset
# base), batch 2.
train_dataloader = dict(
    batch_size=2, dataset=dict(pipeline={{_base_.teacher_train_pipeline}}))
val_dataloader = dict(dataset=dict(pipeline={{_base_.teacher_test_pipeline}}))
test_dataloader = val_dataloader

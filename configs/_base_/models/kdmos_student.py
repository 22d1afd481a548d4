# KDMOS polar-BEV student (docs/METHOD.md section 2): voxel encoder (point MLP
# -> per-pillar max -> appearance + motion BEV) -> backbone (CA-BEV-UNet with
# DySample, decoder features out) -> decode head (dropout, 1x1 classifier to
# C * Z channels read only at the voxels needed; CE + Lovasz on voxels,
# ignoring 0). The head's channels, classes and heights follow the backbone
# and grid_size.
# grid_size / motion channels are the reference ones; leaf configs set them
# from their dataset base ({{_base_.grid_size}}).
model = dict(
    type='KDMOSStudent',
    data_preprocessor=dict(type='MOSDataPreprocessor'),
    grid_size=(480, 360, 32),
    num_classes=4,
    ignore_index=0,
    voxel_encoder=dict(
        type='BEVPointEncoder',
        in_channels=9,
        feat_channels=(32, 64, 128, 256),
        out_channels=32,
        motion_channels=8,
        reduce_backend='torch'),  # or 'torch_scatter' / 'index_reduce'
    backbone=dict(
        type='CABEVUNet',
        in_channels=32,
        motion_channels=8,
        channels=(32, 64, 128, 256, 256),
        motion_widths=(16, 32, 64, 128),
        upsample='dysample',  # 'deconv' = MotionBEV
        dropblock_size=7,
        dropblock_prob=0.5,
        input_norm=True,
        with_unused_attention=True),  # published params: 4,031,366
    decode_head=dict(
        type='BEVVoxelHead',
        dropout_ratio=0.5,
        loss_decode=dict(
            type='mmdet.CrossEntropyLoss',
            use_sigmoid=False,
            class_weight=None,
            ignore_index=0,
            avg_non_ignore=True,
            loss_weight=1.0),
        loss_lovasz=dict(
            type='LovaszSoftmaxLoss',
            classes='present',
            ignore_index=0,
            loss_weight=1.0)))

# The published co-attention gates hold attention modules that are never
# called (kept above for the exact parameter count): DistributedDataParallel
# must be told, or the second iteration fails waiting for their gradients.
find_unused_parameters = True

# Sparse 4-D teacher (docs/METHOD.md 8): the merged cloud of the current
# scan and K = 7 past scans (x, y, z, intensity, age) is voxelised in
# space-time (0.1 m cells, one scan per age cell), a sparse residual U-Net
# over (x, y, z, t) (spconv; native algorithm on CPU) gives voxel features,
# and a point head (linear classifier) the logits of every current-scan
# point. Loss (in the head): CE + Lovasz on the current scan's points,
# ignoring class 0.
model = dict(
    type='Sparse4DMOSTeacher',
    data_preprocessor=dict(type='MOSDataPreprocessor'),
    num_classes=4,
    ignore_index=0,
    voxel_encoder=dict(
        type='SpacetimeVoxelizer',
        voxel_size=(0.1, 0.1, 0.1, 1),  # metres x 3, scans per age cell
        point_cloud_range=(-51.2, -51.2, -4.0, 51.2, 51.2, 4.0),
        max_age=7,  # K; beyond it: clamped into the oldest cell
        with_offset=True),  # 8 features: mean x, y, z, i, age + offsets
    backbone=dict(
        type='SparseUNet4D',
        in_channels=8,
        channels=(32, 64, 128, 256),
        num_blocks=(1, 2, 2, 2),
        decoder_blocks=1,
        space_kernel=3,
        time_kernel=(1, 3, 3, 1),  # per level; 1 = per age cell, 3 = 3 cells
        temporal_strides=(2, 2, 2)),  # 8 age cells -> 4 -> 2 -> 1
    decode_head=dict(
        type='MOSPointHead',
        channels=32,
        dropout_ratio=0.0,
        loss_decode=dict(
            type='mmdet.CrossEntropyLoss',
            use_sigmoid=False,
            class_weight=None,
            avg_non_ignore=True,
            loss_weight=1.0),
        loss_lovasz=dict(
            type='LovaszSoftmaxLoss',
            classes='present',
            ignore_index=0,
            loss_weight=1.0)))

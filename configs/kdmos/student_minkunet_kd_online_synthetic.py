# Distillation into a student that is not ours, by config alone: mmdet3d's
# own MinkUNet segmentor (MinkUNetBackbone with the spconv backend, native
# algorithm on CPU; MinkUNetHead with its CE loss, logged as loss_sem_seg)
# learns from the sparse 4-D teacher run online (teacher_sparse4d_synthetic.py,
# frozen) with the decoupled loss of student_kd_synthetic.py (loss_tckd,
# loss_nckd). MOSDistiller recognises the MinkUNet and gives it the per-point
# contract (MinkUNetAdapter): mmdet3d's minkunet voxels of the current scan,
# made on any device with the voxel size of the model's own
# data_preprocessor, the features of the first point of each voxel taken
# from the student point features (9 appearance + the motion channels), so
# the 3-D network sees motion. Data and schedule: student_bev_synthetic.py.
# Checkpoints hold the MinkUNet's own keys (backbone., decode_head.).
_base_ = ['./student_kd_online_synthetic.py']

model = dict(
    student=dict(
        _delete_=True,
        type='MinkUNet',
        data_preprocessor=dict(
            type='Det3DDataPreprocessor',
            voxel=True,
            voxel_type='minkunet',
            batch_first=True,  # spconv, as mmdet3d's minkunet34 spconv
            voxel_layer=dict(
                max_num_points=-1,
                point_cloud_range=[-100, -100, -20, 100, 100, 20],
                voxel_size=[0.2, 0.2, 0.2],
                max_voxels=(-1, -1))),
        backbone=dict(
            type='MinkUNetBackbone',
            in_channels=9 + _base_.motion_channels,
            base_channels=16,
            encoder_channels=[16, 32, 64, 64],
            encoder_blocks=[1, 1, 1, 1],
            decoder_channels=[64, 64, 32, 32],
            decoder_blocks=[1, 1, 1, 1],
            sparseconv_backend='spconv'),
        decode_head=dict(
            type='MinkUNetHead',
            channels=32,
            num_classes={{_base_.num_classes}},
            ignore_index=0,
            dropout_ratio=0,
            loss_decode=dict(type='mmdet.CrossEntropyLoss',
                             avg_non_ignore=True)),
        train_cfg=dict(),
        test_cfg=dict()),
    adapter=dict(features='point_feats'))
# float32: spconv has no bfloat16 kernels, so the bf16 autocast of
# student_bev_synthetic.py does not apply to a sparse student.
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer={{_base_.optim_wrapper.optimizer}})

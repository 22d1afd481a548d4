# Another BEV backbone for the student, by config alone: PlainBEVUNet, one
# U-Net over the concatenated appearance and motion maps (no motion branch,
# no co-attention gates, transposed-conv up-sampling) in place of
# CA-BEV-UNet. Voxel encoder, decode head, data and schedule are those of
# student_bev_synthetic.py; the head takes its width from the backbone.
_base_ = './student_bev_synthetic.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='PlainBEVUNet',
        in_channels=32,
        motion_channels={{_base_.motion_channels}},
        channels=(32, 64, 128, 128)))

# The KDMOS student at half the published widths, for the synthetic
# recipes (configs/kdmos/student_bev_synthetic*.py): appearance 16-128,
# motion 8-64, 1.1M instead of 4.0M parameters, light DropBlock and head
# dropout (0.1 instead of 0.5). A leaf still sets grid_size, num_classes and
# the motion channels from its dataset base.
_base_ = ['./kdmos_student.py']

model = dict(
    backbone=dict(
        channels=(16, 32, 64, 128, 128),
        motion_widths=(8, 16, 32, 64),
        dropblock_prob=0.1),
    decode_head=dict(dropout_ratio=0.1))

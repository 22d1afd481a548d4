# MotionBEV (transposed-conv up-sampling) on the small synthetic sequences.
_base_ = './student_bev_synthetic.py'

model = dict(backbone=dict(upsample='deconv'))

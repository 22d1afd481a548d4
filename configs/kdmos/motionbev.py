# MotionBEV (the KDMOS baseline network): transposed-conv up-sampling instead
# of DySample, 4 classes; 4,364,518 parameters.
_base_ = './student_bev.py'

model = dict(backbone=dict(upsample='deconv'))

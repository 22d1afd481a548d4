# KDMOS: the polar-BEV student distilled from offline teacher logits, the
# published recipe (docs/METHOD.md sections 4 and 5): CE + Lovasz on voxels plus
# 0.3 * (1 * TCKD on moving points + 3 * class-weighted NCKD), tau 4, no tau^2;
# SGD 150 epochs; the best checkpoint by moving IoU on the val split.
# Logits: python tools/dump_teacher_logits.py configs/kdmos/teacher_sparse4d.py
#             CKPT --out data/teacher_logits --split train
# Checkpoints hold the student only and load into student_bev.py directly.
_base_ = ['./student_bev.py', '../_base_/models/kdmos_distill_loss.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

teacher_logits_root = 'data/teacher_logits'

model = dict(
    _delete_=True,
    type='MOSDistiller',
    student={{_base_.model}},
    teacher=None,  # offline: gt_pts_seg.teacher_logits from the pipeline
    distill_loss={{_base_.distill_loss}})

kd_train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    teacher_logits=dict(logits_root=teacher_logits_root,
                        num_classes=_base_.num_classes))
train_dataloader = dict(dataset=dict(pipeline=kd_train_pipeline))

# KDMOS: the polar-BEV student distilled from offline teacher logits, the
# published recipe (docs/METHOD.md sections 4 and 5): CE + Lovasz on voxels
# plus 0.3 * (1 * TCKD on moving points + 3 * class-weighted NCKD), tau 4, no
# tau^2; SGD 150 epochs; the best checkpoint by moving IoU on the val split.
# Logits: python tools/dump_teacher_logits.py configs/kdmos/teacher_sparse4d.py
#             CKPT --out data/teacher_logits --split train
# Checkpoints hold the student only and load into student_bev.py directly.
# The deltas: the student wrapped into MOSDistiller, and the dataset's KD
# pipeline (its teacher_logits_root); student_kd_synthetic.py does the same
# to the synthetic student.
_base_ = ['./student_bev.py', '../_base_/models/kdmos_distill_loss.py']

model = dict(
    _delete_=True,
    type='MOSDistiller',
    student={{_base_.model}},
    teacher=None,  # offline: gt_pts_seg.teacher_logits from the pipeline
    distill_loss={{_base_.distill_loss}})
train_dataloader = dict(dataset=dict(pipeline={{_base_.kd_train_pipeline}}))

# student_kd.py's deltas on the synthetic student (student_bev_synthetic.py:
# small grid, short schedule): the same distillation from offline teacher
# logits, read from the synthetic dataset's teacher_logits_root.
# The published weights (0.3, no tau^2) are kept. Tried on the 24-scene
# recipe with the demo's teacher (80.2 on 08-10), tuning seeds 0 and 1:
# both terms times tau^2 (16x, the distillation terms then outweigh CE +
# Lovasz) gave 47.4 and 35.1 against 77.9 and 31.4 without distillation
# (seed 2 not run). With the 2-epoch bf16 student and the 6-epoch teacher
# (89.2), published weights, tuning seeds 0 / 1 / 2: 82.9 / 83.4 / 83.2
# against 81.9 / 82.5 / 87.1 without distillation (the demo's report seeds
# 10-14: -0.8 on average, see README). On an AVX2-only AMD EPYC (float32
# student, teacher 86.1 = 93.0 / 74.4 / 92.3 on 08 / 09 / 10, plain student
# 84.1 / 80.7 / 84.4 on seeds 0 / 1 / 2), tuning seed 0: both terms times
# tau^2 71.2, the published weights 84.0 (seed 1: 80.8 against 80.7),
# standard DKD (mode='dkd', loss_weight 0.1: 1.6 TCKD + 12.8
# NCKD over all points) 80.7, i.e. -12.9, -0.1 and -3.3; DKD lost most on 09
# (70.0 against 77.6 plain), the sequence where that teacher is below the
# student: a heavier distillation copies the teacher's errors. Same CPU:
# the loss only where the teacher's argmax is the label
# (distill_loss.teacher_correct_only=True) 83.2 and 84.2 on seeds 0 and 2;
# the published loss with the ensemble of two teachers (87.7, the demo's
# --teacher-members 2) 83.7 / 83.1 / 86.0 on seeds 0 / 1 / 2, i.e. -0.4,
# +2.4 and +1.6 against the plain student. On the report seeds 10-14 (not
# tuned on) the same gave +1.1, -2.4, -3.6, -2.3, -1.3 (mean -1.7); seed 15
# +1.6. See the README.
# Logits: python tools/dump_teacher_logits.py
#             configs/kdmos/teacher_sparse4d_synthetic.py CKPT
#             --out data/synthetic_mos_teacher_logits --split train
_base_ = ['./student_bev_synthetic.py',
          '../_base_/models/kdmos_distill_loss.py']

model = dict(
    _delete_=True,
    type='MOSDistiller',
    student={{_base_.model}},
    teacher=None,
    distill_loss={{_base_.distill_loss}})
train_dataloader = dict(dataset=dict(pipeline={{_base_.kd_train_pipeline}}))

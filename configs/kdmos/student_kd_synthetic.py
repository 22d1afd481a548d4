# student_kd.py's deltas on the synthetic student (student_bev_synthetic.py:
# small grid, short schedule): the same distillation from offline teacher
# logits, read from the synthetic dataset's teacher_logits_root.
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

# student_kd.py on the small synthetic sequences: the same distillation from
# offline teacher logits, with the small grid and short schedule of
# student_bev_synthetic.py.
# Logits: python tools/dump_teacher_logits.py
#             configs/kdmos/teacher_sparse4d_synthetic.py CKPT
#             --out data/synthetic_mos_teacher_logits --split train
_base_ = ['./student_bev_synthetic.py',
          '../_base_/models/kdmos_distill_loss.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

teacher_logits_root = 'data/synthetic_mos_teacher_logits'

model = dict(
    _delete_=True,
    type='MOSDistiller',
    student={{_base_.model}},
    teacher=None,
    distill_loss={{_base_.distill_loss}})

kd_train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    teacher_logits=dict(logits_root=teacher_logits_root,
                        num_classes=_base_.num_classes))
train_dataloader = dict(dataset=dict(pipeline=kd_train_pipeline))

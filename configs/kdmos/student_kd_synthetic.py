# student_kd.py on the small synthetic sequences: the same distillation from
# offline teacher logits, with the small grid and short schedule of
# student_bev_synthetic.py.
# Logits: python tools/dump_teacher_logits.py
#             configs/kdmos/teacher_sparse4d_synthetic.py CKPT
#             --out data/synthetic_mos_teacher_logits --split train
_base_ = ['./student_bev_synthetic.py']

teacher_logits_root = 'data/synthetic_mos_teacher_logits'

distill_loss = dict(
    type='DecoupledMOSDistillLoss',
    tau=4.0,
    loss_weight=0.3,
    tckd_weight=1.0,
    nckd_weight=3.0,
    class_weight=[0.0, 1.0716, 22.0882, 421.3364],
    tckd_classes=[3],
    scale_by_tau_sq=False,
    mode='kdmos',
    reference_numerics=False)

model = dict(
    _delete_=True,
    type='MOSDistiller',
    student={{_base_.model}},
    teacher=None,
    distill_loss=distill_loss)

kd_train_pipeline = [
    dict(type='LoadMOSScans', num_past={{_base_.num_past_scans}},
         num_future=0),
    dict(type='LoadMOSLabels'),
    dict(type='LoadTeacherLogits', logits_root=teacher_logits_root,
         num_classes={{_base_.num_classes}}),
    {{_base_.motion_cfg}},
    dict(type='MOSGlobalAug', rotate=True, flip=True, translate_std=0.1),
    {{_base_.voxelize_cfg}},
    dict(type='PackMOSInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=kd_train_pipeline))

default_hooks = dict(
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='mos/IoU_moving', rule='greater'))

# Distillation on unlabelled scans (the demo's second setting): the student
# of student_kd_synthetic.py sees the ground truth of some training
# sequences only; on the others (`unlabelled_sequences`) it sees only the
# teacher's offline logits: TeacherPseudoLabels puts the teacher's most
# likely class in place of the labels, so the student's own losses and the
# distillation target follow the teacher there. The teacher must be trained
# on the labelled sequences only (the demo does: configs/kdmos/
# teacher_sparse4d_synthetic.py with train_dataloader.dataset.sequences set).
_base_ = ['./student_kd_synthetic.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

unlabelled_sequences = ['03', '04', '05']

# the teacher's labels right after its logits are loaded
kd_unlabelled_pipeline = sum(
    ([step, dict(type='TeacherPseudoLabels', sequences=unlabelled_sequences)]
     if step['type'] == 'LoadTeacherLogits' else [step]
     for step in mos_pipeline(
         _base_.num_past_scans, _base_.voxelize_cfg, train=True,
         num_future_scans=_base_.num_future_scans,
         motion_cfg=_base_.motion_cfg,
         teacher_logits=dict(logits_root=_base_.teacher_logits_root,
                             num_classes=_base_.num_classes))), [])
train_dataloader = dict(dataset=dict(pipeline=kd_unlabelled_pipeline))

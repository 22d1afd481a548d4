# The synthetic distillation (student_kd_synthetic.py: offline teacher
# logits) on data of several sensors, as student_bev_synthetic_sensors.py
# trains the plain student (whose data and test pipeline it keeps):
# sensor='auto', intensities normalised, past scans at the sensor's stride.
# The cross-sensor experiment distils the randomised teacher
# (teacher_sparse4d_synthetic_sensors.py) with it and tests the student it
# trains with student_bev_synthetic_sensors.py.
_base_ = ['./student_bev_synthetic_sensors.py',
          '../_base_/models/kdmos_distill_loss.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

model = dict(_delete_=True, type='MOSDistiller', student={{_base_.model}},
             teacher=None, distill_loss={{_base_.distill_loss}})
kd_train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    teacher_logits=dict(logits_root=_base_.teacher_logits_root,
                        num_classes=_base_.num_classes),
    normalize_intensity=True)
train_dataloader = dict(dataset=dict(pipeline=kd_train_pipeline))

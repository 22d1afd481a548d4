# The synthetic distillation (student_kd_synthetic.py: offline teacher
# logits) on data of several sensors, as student_bev_synthetic_sensors.py
# trains the plain student: sensor='auto', intensities normalised, past
# scans at the sensor's stride. The cross-sensor experiment distils the
# randomised teacher (teacher_sparse4d_synthetic_sensors.py) with it; the
# student it trains is tested with student_bev_synthetic_sensors.py.
_base_ = ['./student_kd_synthetic.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

data_root = 'data/synthetic_mixed_sensors'
kd_train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    teacher_logits=dict(logits_root=_base_.teacher_logits_root,
                        num_classes=_base_.num_classes),
    normalize_intensity=True)
test_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=False,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    normalize_intensity=True)
train_dataloader = dict(
    dataset=dict(data_root=data_root, sensor='auto',
                 pipeline=kd_train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, sensor='auto', pipeline=test_pipeline))
test_dataloader = val_dataloader

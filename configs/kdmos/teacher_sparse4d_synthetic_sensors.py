# The synthetic sparse teacher (teacher_sparse4d_synthetic.py) on data of
# several sensors: each sequence's sensor.json (sensor='auto') gives the
# intensity scale (MOSNormalizeIntensity) and the past-scan stride (every
# 2nd scan at 20 Hz). The randomised teacher of the cross-sensor
# experiment (tools/cross_sensor.py); data: tools/make_synthetic_data.py
# --sensor random (see ../_base_/datasets/synthetic_mixed_sensors.py).
_base_ = ['./teacher_sparse4d_synthetic.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

sensors = dict(data_root='data/synthetic_mixed_sensors', sensor='auto')
train_pipeline, test_pipeline = (
    mos_pipeline(_base_.num_past_scans, _base_.voxelize_cfg, train=train,
                 normalize_intensity=True) for train in (True, False))
train_dataloader = dict(dataset=dict(sensors, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(sensors, pipeline=test_pipeline))
test_dataloader = val_dataloader

# The synthetic student (student_bev_synthetic.py) on data of several
# sensors: each sequence's sensor.json is read (sensor='auto') and
# MOSNormalizeIntensity puts every intensity on the 0-1 scale, so that 0-1,
# 0-255 and intensity-less sensors train and test together. The data:
# tools/make_synthetic_data.py --sensor ... (see
# ../_base_/datasets/synthetic_mixed_sensors.py); the cross-sensor
# experiment (tools/cross_sensor.py) trains and tests this config.
_base_ = ['./student_bev_synthetic.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

data_root = 'data/synthetic_mixed_sensors'
train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    normalize_intensity=True)
test_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=False,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    normalize_intensity=True)
train_dataloader = dict(
    dataset=dict(data_root=data_root, sensor='auto',
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, sensor='auto', pipeline=test_pipeline))
test_dataloader = val_dataloader

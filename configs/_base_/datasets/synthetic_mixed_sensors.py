# Sensor randomisation: synthetic sequences of several sensors in one
# dataset, so that one model sees many beam patterns, rates, mounting
# heights and intensity scales. Write them with one profile a sequence
# (given in turn), e.g.
#   python tools/make_synthetic_data.py data/synthetic_mixed_sensors \
#       --sequences 00 01 02 03 04 05 08 --scans 40 \
#       --sensor hdl64e hdl32e vlp16 os1-64 os1-128
# Each sequence holds its sensor.json; the dataset reads it (sensor='auto')
# and MOSNormalizeIntensity puts every intensity on the 0-1 scale the model
# learns; LoadMOSScans takes the past scans at the profile's stride (every
# 2nd scan of a 20 Hz sequence: 7 past scans span 0.7 s, as at 10 Hz).
# Otherwise synthetic_mos.py.
_base_ = ['./synthetic_mos.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

data_root = 'data/synthetic_mixed_sensors'
sensor = 'auto'  # each sequence's sensor.json

train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    normalize_intensity=True)
test_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=False,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    normalize_intensity=True)
# the same intensity scale for the distilled student and the teacher
kd_train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    num_future_scans=_base_.num_future_scans, motion_cfg=_base_.motion_cfg,
    teacher_logits=dict(logits_root=_base_.teacher_logits_root,
                        num_classes=_base_.num_classes),
    normalize_intensity=True)
teacher_train_pipeline, teacher_test_pipeline = (
    mos_pipeline(_base_.num_past_scans, _base_.voxelize_cfg, train=train,
                 normalize_intensity=True) for train in (True, False))

train_dataloader = dict(
    dataset=dict(data_root=data_root, sensor=sensor,
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, sensor=sensor, pipeline=test_pipeline))
test_dataloader = val_dataloader

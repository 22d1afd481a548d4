# Non-causal sparse 4-D teacher on the synthetic sequences: the model, data
# and recipe of teacher_sparse4d_synthetic.py, but its cloud also holds the
# next 3 scans (ages -1..-3) beside the 7 past ones. A teacher of offline
# distillation is run once to dump its logits, never on a live sensor, so it
# may look ahead: a car seen to stay put in the following scans is parked.
# The time axis then has 11 age cells (-3..7): 6 after the first temporal
# stride, 3 after the second. The student stays causal. Near a sequence end
# the teacher sees the future scans that exist (none for the last scan).
_base_ = ['./teacher_sparse4d_synthetic.py']
from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline  # noqa

num_future_scans = 3
teacher_train_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=True,
    num_future_scans=num_future_scans, future_in_multi_points=True)
teacher_test_pipeline = mos_pipeline(
    _base_.num_past_scans, _base_.voxelize_cfg, train=False,
    num_future_scans=num_future_scans, future_in_multi_points=True)
train_dataloader = dict(dataset=dict(pipeline=teacher_train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=teacher_test_pipeline))
test_dataloader = val_dataloader
model = dict(voxel_encoder=dict(min_age=-num_future_scans))

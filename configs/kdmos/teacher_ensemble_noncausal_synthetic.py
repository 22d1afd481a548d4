# An ensemble of non-causal sparse 4-D teachers on the synthetic sequences:
# teacher_ensemble_synthetic.py with members of
# teacher_sparse4d_noncausal_synthetic.py (7 past and 3 future scans), and
# the members' data pipelines. Assembled the same way (one training a
# member, tools/merge_checkpoints.py).
_base_ = ['./teacher_sparse4d_noncausal_synthetic.py']

from kdmos_plugin.models.segmentors.mos_ensemble import \
    ensemble_model_config  # noqa: E402

model = ensemble_model_config(_base_.model, _base_.num_classes)

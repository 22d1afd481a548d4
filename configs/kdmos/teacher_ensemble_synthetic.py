# An ensemble of sparse 4-D teachers on the synthetic sequences: the mean of
# the logits of num_members teachers of teacher_sparse4d_synthetic.py, each
# trained on its own (another seed), for a steadier and more accurate
# teacher. Assembled, not trained:
#   python tools/train.py configs/kdmos/teacher_sparse4d_synthetic.py \
#       --cfg-options randomness.seed=S          (once per member)
#   python tools/merge_checkpoints.py ensemble.pth CKPT_1 CKPT_2 ...
#   python tools/test.py configs/kdmos/teacher_ensemble_synthetic.py \
#       ensemble.pth
#   python tools/dump_teacher_logits.py \
#       configs/kdmos/teacher_ensemble_synthetic.py ensemble.pth --out DIR
# Another member count: --cfg-options model.num_members=N; a change to
# every member: model.member.<key>=... (e.g. model.member.backbone.channels).
_base_ = ['./teacher_sparse4d_synthetic.py']

from kdmos_plugin.models.segmentors.mos_ensemble import \
    ensemble_model_config  # noqa: E402

model = ensemble_model_config(_base_.model, _base_.num_classes)

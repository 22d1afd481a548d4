# KDMOS student without distillation on the small synthetic sequences: the
# same model, a small grid and a short schedule that converges in minutes on
# 2 CPU cores.
#
# The published recipe (SGD lr 0.01 with one warm-up epoch, DropBlock and
# head dropout 0.5, 150 epochs) barely moves in ~200 iterations: in the demo
# it gave 25% moving IoU after 2 epochs and 50% (+- 25 across seeds once
# distilled) after 4. For the short run we therefore use AdamW with a
# OneCycle learning rate and light dropout (0.1): measured on the demo data,
# 60% after 2 of 4 epochs and 68% after 4, with the train loss at 0.50
# instead of 0.90. The full-size configs keep the published recipe.
#
# Half the published widths (appearance 16-128, motion 8-64; 1.1M instead of
# 4.0M parameters): measured on one 2-scan batch at 1 thread, 0.94 s an
# iteration instead of 1.7, so 4 epochs cost about what 3 full-width ones
# did, and the sparse teacher is the slow, accurate model it is in the
# paper. One epoch over the 24 training scenes of the dataset base (240
# iterations, what 4 epochs over 6 scenes cost): measured on the held-out
# 08-10 together, seed 0, moving IoU 77.9, against 73.9 for 12 scenes x 2
# epochs and 60.8 for 6 scenes x 4 epochs (seeds 1, 2 there: 63.3, 71.2).
# Seeds 1 and 2 of this recipe: 31.4 and 78.0; seed 1 never learned to tell
# moving from parked vehicles (movable IoU 55.6 against 84-85; its train
# loss stalled at 0.73 against 0.53-0.61), a failure mode this short
# schedule still has.
# Tried and dropped: a 120x90 grid with 6 epochs and an EMA of the weights
# (36.2 / 65.4 / 58.4 on 08); distillation with the loss scaled by tau^2
# (16x the published weight: 57.6 and 44.2 against 60.8 and 63.3 plain).
_base_ = [
    '../_base_/datasets/synthetic_mos.py',
    '../_base_/models/kdmos_student_synthetic.py',
    '../_base_/schedules/synthetic_onecycle.py',
    '../_base_/default_runtime.py',
]

# Two epochs in bf16 autocast (AutocastOptimWrapper, float32 weights):
# measured on one 30-iteration run at 1 thread of a CPU with AVX-512 and
# AMX, 0.80 s an iteration against 1.08 in float32 with the same loss curve
# (1.68 / 1.71 at the end), so two bf16 epochs cost about 1.5 float32 ones.
# Tuning seeds 0 and 1 on 08-10: 81.9 and 82.5 (the float32 single epoch
# above: 77.9 and 31.4), train loss 0.47-0.49 at the end. native_only: a
# CPU without AVX-512 emulates bf16 (15.6 s an iteration on an AVX2-only
# AMD EPYC against 2.4 s in float32), so there the same schedule trains in
# float32 and the log says so (likewise a GPU older than Ampere; there
# tools/train.py --amp trains in fp16 with a loss scaler instead).
max_epochs = 2
optim_wrapper = dict(type='AutocastOptimWrapper', dtype='bfloat16',
                     native_only=True)
param_scheduler = [
    dict(_base_.param_scheduler[0], total_steps=max_epochs, end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs, val_begin=max_epochs)

model = dict(
    grid_size={{_base_.grid_size}},
    num_classes={{_base_.num_classes}},
    voxel_encoder=dict(motion_channels={{_base_.motion_channels}}),
    backbone=dict(motion_channels={{_base_.motion_channels}}))
default_hooks = dict(logger=dict(interval=5))

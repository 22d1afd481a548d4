# The short schedule of the synthetic students (configs/kdmos/
# student_bev_synthetic*.py): AdamW with a OneCycle learning rate, one
# epoch. Instead of kdmos_150e.py (the published SGD schedule).
# Another length: --cfg-options train_cfg.max_epochs=N
#                 param_scheduler.0.total_steps=N param_scheduler.0.end=N
lr = 2e-3
max_epochs = 1
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=lr, weight_decay=0.01))
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=lr,
        total_steps=max_epochs,
        begin=0,
        end=max_epochs,  # not the Runner's max_epochs: a shorter run keeps
        pct_start=0.1,   # the same curve (tests/tools/test_resume.py)
        anneal_strategy='cos',
        div_factor=10.0,
        final_div_factor=100.0,
        by_epoch=True,
        convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_begin=max_epochs,
    val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=8)

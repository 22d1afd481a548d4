# Teacher recipe of MambaMOS (docs/METHOD.md 3.2): AdamW, lr 1.6e-4, weight
# decay 0.005, OneCycle (5 % warm-up, cosine, div 10, final div 1000) stepped
# per iteration, 50 epochs (batch 2 in the leaf configs). MambaMOS scales the
# lr of its transformer blocks by 0.1; the sparse U-Net has no such blocks,
# so every parameter uses the base lr. A leaf that changes `lr` or
# `max_epochs` restates `param_scheduler` (its numbers are resolved here):
# [dict(_base_.param_scheduler[0], eta_max=lr, total_steps=max_epochs,
#       end=max_epochs)].
lr = 1.6e-4
max_epochs = 50

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=lr, weight_decay=0.005))
param_scheduler = [
    dict(
        type='OneCycleLR',
        eta_max=lr,
        total_steps=max_epochs,  # epochs; x iterations/epoch by mmengine
        begin=0,
        end=max_epochs,  # explicit: the Runner's default end would follow
        pct_start=0.05,  # a changed max_epochs and freeze the lr there
        anneal_strategy='cos',
        div_factor=10.0,
        final_div_factor=1000.0,
        by_epoch=True,
        convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs,
                 val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

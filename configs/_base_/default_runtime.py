# Runtime shared by every kdmos config: mmdet3d scope, our plugin imported,
# mmengine's standard hooks and logging.
default_scope = 'mmdet3d'
custom_imports = dict(imports=['kdmos_plugin'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keeps the last 3 and the best by the official moving IoU
    checkpoint=dict(
        type='CheckpointHook', interval=1, max_keep_ckpts=3,
        save_best='mos/IoU_moving', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))

# Before every run: the data and the model agree (grid, classes, motion
# channels) and a load_from / resume checkpoint fits the model
# (kdmos_plugin/engine/setup_check.py).
custom_hooks = [dict(type='MOSSetupCheckHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'nccl' on GPUs; tools switch to 'gloo' when CUDA is not available.
    dist_cfg=dict(backend='nccl'))

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='Visualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=114514, deterministic=False)

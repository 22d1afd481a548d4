"""The kdmos_150e schedule reproduces the published learning-rate curve."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import kdmos_plugin  # noqa: F401  (registers EpochExponentialLR)
from mmdet3d.registry import PARAM_SCHEDULERS

CFG = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_',
               'schedules', 'kdmos_150e.py')


def build_schedulers(cfg, optimizer, epoch_length):
    """What mmengine's Runner does with ``param_scheduler``."""
    return [PARAM_SCHEDULERS.build(
        sched, default_args=dict(optimizer=optimizer,
                                 epoch_length=epoch_length))
        for sched in cfg.param_scheduler]


def reference_lr(t, steps_per_epoch=1048, base=0.01):
    """docs/METHOD.md 5.1: CyclicLR warm-up from 0, then x0.99 per epoch."""
    if t < steps_per_epoch:
        return base * t / steps_per_epoch
    return base * 0.99**((t - steps_per_epoch) / steps_per_epoch)


def lr_curve(cfg, epoch_length, checks):
    """lr at the iterations ``checks`` of a whole run (ParamSchedulerHook
    order: read the lr, optimizer step, scheduler steps)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.01, momentum=0.9)
    schedulers = build_schedulers(cfg, optimizer, epoch_length)
    seen = {}
    for t in range(cfg.train_cfg.max_epochs * epoch_length):
        if t in checks:
            seen[t] = optimizer.param_groups[0]['lr']
        optimizer.step()
        for s in schedulers:
            s.step()
    return seen


def test_published_learning_rate_curve():
    cfg = Config.fromfile(CFG)
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)
    assert cfg.train_cfg.max_epochs == 150 and cfg.train_cfg.val_begin == 31
    assert cfg.auto_scale_lr.base_batch_size == 8
    total = cfg.train_cfg.max_epochs * 1048  # the published epoch length
    checks = {0, 1, 524, 1047, 1048, 1049, 5000, 31 * 1048, total - 1}
    seen = lr_curve(cfg, 1048, checks)
    for t, lr in seen.items():
        # mmengine's LinearLR reaches the end factor one step early
        assert lr == pytest.approx(reference_lr(t), rel=2e-3, abs=2e-6), t
    # about 0.0022 at the end, as in the paper's code
    assert seen[total - 1] == pytest.approx(0.01 * 0.99**149, rel=1e-3)


@pytest.mark.parametrize('epoch_length', [7, 300])
def test_decay_is_per_epoch_for_any_epoch_length(epoch_length):
    """Another dataset size or batch: still one epoch of warm-up, then
    x0.99 an epoch (the config no longer assumes 1048 iterations). The
    warm-up's own one-step offset is checked at 1048 above."""
    cfg = Config.fromfile(CFG)
    n = epoch_length
    checks = {n, n + 1, 2 * n, 31 * n + n // 3, 150 * n - 1}
    seen = lr_curve(cfg, n, checks)
    for t, lr in seen.items():
        assert lr == pytest.approx(reference_lr(t, steps_per_epoch=n),
                                   rel=2e-3, abs=2e-6), t

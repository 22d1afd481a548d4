"""The kdmos_150e schedule reproduces the published learning-rate curve."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
import mmengine.optim  # noqa: F401  (registers the schedulers)
from mmengine.registry import PARAM_SCHEDULERS

CFG = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_',
               'schedules', 'kdmos_150e.py')


def build_schedulers(cfg, optimizer, epoch_length):
    """What mmengine's Runner does with ``param_scheduler``."""
    out = []
    for sched in cfg.param_scheduler:
        sched = dict(sched)
        cls = PARAM_SCHEDULERS.get(sched.pop('type'))
        if sched.pop('convert_to_iter_based', False):
            out.append(cls.build_iter_from_epoch(
                optimizer, epoch_length=epoch_length, **sched))
        else:
            out.append(cls(optimizer, **sched))
    return out


def reference_lr(t, steps_per_epoch=1048, base=0.01):
    """REFERENCE 5.1: CyclicLR warm-up from 0, then x0.99 per epoch."""
    if t < steps_per_epoch:
        return base * t / steps_per_epoch
    return base * 0.99**((t - steps_per_epoch) / steps_per_epoch)


def test_published_learning_rate_curve():
    cfg = Config.fromfile(CFG)
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4)
    assert cfg.train_cfg.max_epochs == 150 and cfg.train_cfg.val_begin == 31
    assert cfg.auto_scale_lr.base_batch_size == 8
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.01, momentum=0.9)
    epoch_length = cfg.iters_per_epoch
    schedulers = build_schedulers(cfg, optimizer, epoch_length)
    total = cfg.train_cfg.max_epochs * epoch_length
    checks = {0, 1, 524, 1047, 1048, 1049, 5000, 31 * 1048, total - 1}
    seen = {}
    for t in range(total):  # the ParamSchedulerHook order: lr, step, step
        if t in checks:
            seen[t] = optimizer.param_groups[0]['lr']
        optimizer.step()
        for s in schedulers:
            s.step()
    for t, lr in seen.items():
        # mmengine's LinearLR reaches the end factor one step early
        assert lr == pytest.approx(reference_lr(t), rel=2e-3, abs=2e-6), t
    # about 0.0022 at the end, as in the paper's code
    assert seen[total - 1] == pytest.approx(0.01 * 0.99**149, rel=1e-3)

"""EpochExponentialLR: gamma per epoch, stepped per epoch or per iteration."""
import pytest
import torch

import kdmos_plugin  # noqa: F401
from mmdet3d.registry import PARAM_SCHEDULERS


def _optimizer(lr=0.1):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _lrs(scheduler, optimizer, steps):
    """The lr before each of ``steps`` scheduler steps."""
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    return out


def test_iteration_based_decays_gamma_per_epoch():
    opt = _optimizer()
    sched = PARAM_SCHEDULERS.build(
        dict(type='EpochExponentialLR', gamma=0.5, by_epoch=True, begin=1,
             end=5, convert_to_iter_based=True),
        default_args=dict(optimizer=opt, epoch_length=4))
    lrs = _lrs(sched, opt, 24)
    for t, lr in enumerate(lrs):
        # constant in the first epoch, then 0.5 ** (iterations / 4) up to
        # the last iteration before `end` (mmengine: end is exclusive)
        k = min(max(t - 4, 0), 15)
        assert lr == pytest.approx(0.1 * 0.5**(k / 4)), t
    assert lrs[8] == pytest.approx(0.05)  # one epoch: exactly x gamma


def test_epoch_based_is_mmengine_exponential_lr():
    opt_a, opt_b = _optimizer(), _optimizer()
    ours = PARAM_SCHEDULERS.build(
        dict(type='EpochExponentialLR', gamma=0.9),
        default_args=dict(optimizer=opt_a))
    theirs = PARAM_SCHEDULERS.build(
        dict(type='ExponentialLR', gamma=0.9),
        default_args=dict(optimizer=opt_b))
    a, b = _lrs(ours, opt_a, 6), _lrs(theirs, opt_b, 6)
    assert a == pytest.approx(b)
    assert a == pytest.approx([0.1 * 0.9**e for e in range(6)])


def test_conversion_needs_an_epoch_length():
    with pytest.raises(ValueError, match='epoch_length'):
        PARAM_SCHEDULERS.build(
            dict(type='EpochExponentialLR', gamma=0.9,
                 convert_to_iter_based=True),
            default_args=dict(optimizer=_optimizer(), epoch_length=0))

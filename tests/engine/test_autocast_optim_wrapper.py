"""bf16 autocast training on CPU through AutocastOptimWrapper."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from torch import nn

from mmdet3d.registry import DATASETS, MODELS, OPTIM_WRAPPERS
from kdmos_plugin.engine import AutocastOptimWrapper, set_amp


def _wrapper(model, **kwargs):
    return OPTIM_WRAPPERS.build(dict(
        type='AutocastOptimWrapper',
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1), **kwargs))


def test_forward_runs_under_cpu_bf16_autocast_and_updates_fp32_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    wrapper = _wrapper(model)
    assert isinstance(wrapper, AutocastOptimWrapper)
    before = model[0].weight.detach().clone()
    x = torch.randn(5, 4)
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled('cpu')
        out = model(x)
        assert out.dtype == torch.bfloat16
        loss = out.float().pow(2).mean()
    assert not torch.is_autocast_enabled('cpu')
    wrapper.update_params(loss)
    assert model[0].weight.dtype == torch.float32
    # the step is plain SGD on the fp32 weights with the gradient of the
    # bf16 forward: d/dW mean((x W^T + b)^2) with x, W rounded to bf16
    xb = x.bfloat16().double()
    grad = 2 * out.detach().double().T @ xb / out.numel()
    assert not torch.allclose(grad.float(), torch.zeros_like(grad.float()))
    torch.testing.assert_close(model[0].weight.detach().double(),
                               before.double() - 0.1 * grad,
                               rtol=0.02, atol=2e-3)


def test_refuses_what_it_cannot_do():
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match='dtype'):
        _wrapper(model, dtype='int8')
    wrapper = _wrapper(model, dtype='float16')
    with pytest.raises(ValueError, match='bfloat16'):
        with wrapper.optim_context(model):
            pass


def test_set_amp_picks_the_wrapper_of_the_device():
    cfg = Config(dict(optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1),
        clip_grad=dict(max_norm=10))))
    cpu = copy.deepcopy(cfg)
    set_amp(cpu, cuda=False)
    assert cpu.optim_wrapper.type == 'AutocastOptimWrapper'
    assert cpu.optim_wrapper.dtype == 'bfloat16'
    assert cpu.optim_wrapper.clip_grad == dict(max_norm=10)
    gpu = copy.deepcopy(cfg)
    set_amp(gpu, cuda=True)
    assert gpu.optim_wrapper.type == 'AmpOptimWrapper'
    assert gpu.optim_wrapper.loss_scale == 'dynamic'
    assert 'dtype' not in gpu.optim_wrapper
    # a config that autocasts where native (the synthetic student): --amp
    # asks for mixed precision anyway, with AmpOptimWrapper's arguments
    native = Config(dict(optim_wrapper=dict(
        type='AutocastOptimWrapper', dtype='bfloat16', native_only=True,
        optimizer=dict(type='SGD', lr=0.1))))
    set_amp(native, cuda=True)
    assert native.optim_wrapper.type == 'AmpOptimWrapper'
    assert 'native_only' not in native.optim_wrapper


def _train_losses(cfg, batch, wrapper_type, iters=4):
    """Losses of ``iters`` train steps of the tiny student on one batch,
    from the same initial weights and random draws."""
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.train()
    kwargs = dict(dtype='bfloat16') if wrapper_type != 'OptimWrapper' else {}
    wrapper = OPTIM_WRAPPERS.build(dict(
        type=wrapper_type,
        optimizer=torch.optim.AdamW(model.parameters(), lr=2e-3), **kwargs))
    losses = []
    for _ in range(iters):
        log = model.train_step(copy.deepcopy(batch), wrapper)
        losses.append(float(log['loss']))
    return np.array(losses)


def test_bf16_training_follows_fp32_on_a_tiny_run(tiny_grid_config,
                                                  synthetic_root):
    init_default_scope('mmdet3d')
    cfg = tiny_grid_config()
    ds_cfg = copy.deepcopy(cfg.val_dataloader.dataset)
    ds_cfg.update(data_root=synthetic_root, sequences=['00'])
    dataset = DATASETS.build(ds_cfg)
    batch = pseudo_collate([dataset[i] for i in (7, 9)])
    fp32 = _train_losses(cfg, batch, 'OptimWrapper')
    bf16 = _train_losses(cfg, batch, 'AutocastOptimWrapper')
    assert np.isfinite(bf16).all() and np.isfinite(fp32).all()
    assert fp32[-1] < fp32[0]  # it learns (the comparison means something)
    assert bf16[-1] < bf16[0]
    np.testing.assert_allclose(bf16, fp32, rtol=0.05)


@pytest.mark.parametrize('native,native_only,autocast', [
    (False, True, False),  # float32 instead of slow emulation
    (False, False, True),  # as asked, with a warning
    (True, True, True),
])
def test_native_only_trains_in_float32_without_native_kernels(
        monkeypatch, native, native_only, autocast):
    from kdmos_plugin.engine import autocast_optim_wrapper as module
    calls, logged = [], []
    monkeypatch.setattr(module, 'has_native_kernels',
                        lambda device, dtype: calls.append(device) or native)
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    model = nn.Linear(4, 3)
    wrapper = _wrapper(model, native_only=native_only)
    for _ in range(2):  # decided once, on the first forward
        with wrapper.optim_context(model):
            assert torch.is_autocast_enabled('cpu') is autocast
            out = model(torch.randn(5, 4))
        assert out.dtype == (torch.bfloat16 if autocast else torch.float32)
    assert calls == ['cpu']
    assert len(logged) == (0 if native else 1)
    if logged:
        assert 'no native bfloat16' in logged[0]
        assert ('float32 instead' in logged[0]) is native_only

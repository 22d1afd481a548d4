"""The stack fixes of kdmos_plugin.utils.compat, each shown necessary."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

from kdmos_plugin.utils import compat


def _runner_like_checkpoint(path):
    """A checkpoint with the meta a mmengine Runner writes on this stack."""
    hub = MessageHub.get_instance('test_compat')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/lr', np.float64(0.01))
    hub.update_info('iter', np.int64(3))
    torch.save(
        dict(
            meta=dict(
                message_hub=hub.state_dict(),
                seed=np.int64(114514),
                dataset_meta=dict(palette=np.zeros((4, 3), np.uint8))),
            state_dict={'w': torch.arange(3.)}), path)
    return path


def test_plain_torch_load_fails_on_runner_checkpoints(tmp_path):
    """The breakage: torch >= 2.6 refuses numpy and mmengine objects."""
    path = _runner_like_checkpoint(tmp_path / 'ckpt.pth')
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_mmengine_loads_runner_checkpoints_through_our_loader(tmp_path):
    assert compat.is_applied()
    path = _runner_like_checkpoint(tmp_path / 'ckpt.pth')
    ckpt = _load_checkpoint(str(path))
    assert torch.equal(ckpt['state_dict']['w'], torch.arange(3.))
    buf = ckpt['meta']['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.mean() == 0.5
    assert ckpt['meta']['seed'] == 114514


def test_history_buffer_pickles_without_getattr():
    """Only allow-listed globals remain: no builtins.getattr."""
    buf = HistoryBuffer()
    buf.update(2.0)
    data = pickle.dumps(buf, protocol=2)
    assert b'getattr' not in data
    back = pickle.loads(data)
    assert back.mean() == 2.0 and back.max() == 2.0


class _Evil:

    def __reduce__(self):
        return (print, ('executed',))


def test_untrusted_objects_are_refused_with_the_file_name(tmp_path,
                                                         monkeypatch):
    path = tmp_path / 'evil.pth'
    torch.save({'x': _Evil()}, path)
    monkeypatch.delenv(compat.UNSAFE_ENV, raising=False)
    with pytest.raises(RuntimeError, match='evil.pth'):
        _load_checkpoint(str(path))
    monkeypatch.setenv(compat.UNSAFE_ENV, '1')
    assert _load_checkpoint(str(path)) == {'x': None}  # print() returned


def test_missing_checkpoint_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'))


def test_runner_resume_works_on_torch_2_6_plus(tmp_path):
    """A real mmengine Runner saves, then resumes, through our loader."""
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    class Toy(BaseModel):

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(2))

        def forward(self, inputs, data_samples=None, mode='tensor'):
            x = torch.stack(inputs)
            return {'loss': ((x * self.w).sum(1) ** 2).mean()}

    def build(max_iters, resume):
        return Runner(
            model=Toy(),
            work_dir=str(tmp_path),
            train_dataloader=dict(
                dataset=[dict(inputs=torch.ones(2))] * 8,
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='pseudo_collate'),
                batch_size=2),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
            train_cfg=dict(by_epoch=False, max_iters=max_iters),
            default_hooks=dict(
                checkpoint=dict(type='CheckpointHook', interval=2,
                                by_epoch=False),
                logger=dict(type='LoggerHook', interval=1)),
            resume=resume,
            default_scope='mmengine',
            experiment_name=f'toy_{max_iters}_{resume}')

    build(2, False).train()
    runner = build(4, True)
    runner.train()
    assert runner.iter == 4


@pytest.mark.parametrize('kind', ['OneCycleParamScheduler', 'CosineAnnealingLR',
                                  'LinearLR', 'ExponentialLR'])
def test_scheduler_states_load_with_weights_only(tmp_path, kind):
    """OneCycle's state held a function (a getattr reference in the pickle);
    every scheduler state now loads with weights_only=True and resumes."""
    import mmengine.optim.scheduler  # noqa: F401  (registers them)
    from mmengine.registry import PARAM_SCHEDULERS as REG
    args = dict(OneCycleParamScheduler=dict(param_name='lr', eta_max=0.1,
                                            total_steps=10),
                CosineAnnealingLR=dict(T_max=10), LinearLR=dict(),
                ExponentialLR=dict(gamma=0.9))[kind]

    def build():
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
        return opt, REG.build(dict(type=kind, optimizer=opt, **args))

    opt, sched = build()
    for _ in range(3):
        opt.step()
        sched.step()
    path = tmp_path / 'sched.pth'
    torch.save({'param_schedulers': [sched.state_dict()],
                'optimizer': opt.state_dict()}, path)
    assert b'getattr' not in path.read_bytes()
    ckpt = _load_checkpoint(str(path))
    opt2, sched2 = build()
    opt2.load_state_dict(ckpt['optimizer'])
    sched2.load_state_dict(ckpt['param_schedulers'][0])
    assert sched2.last_step == sched.last_step
    opt2.step()
    sched2.step()
    opt.step()
    sched.step()
    assert opt2.param_groups[0]['lr'] == pytest.approx(
        opt.param_groups[0]['lr'])

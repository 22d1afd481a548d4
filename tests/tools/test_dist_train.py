"""Distributed training and testing on 2 CPU processes (gloo)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from typing import Optional

import numpy as np
import pytest
import torch
from mmengine.config import Config

from kdmos_plugin.datasets.teacher_logits import logits_path, save_logits
from kdmos_plugin.datasets.kitti_io import read_points
from kdmos_plugin.synthetic import write_dataset

REPO = Path(__file__).resolve().parents[2]
GRID = [48, 36, 8]

HOOK = textwrap.dedent('''
    """Test helper: every rank saves its parameters, its buffers (BatchNorm
    running statistics are per process with mmengine's
    broadcast_buffers=False, unless synchronised) and its norm layer types."""
    import torch
    from mmengine.dist import get_rank
    from mmengine.hooks import Hook
    from mmdet3d.registry import HOOKS
    from torch.nn.modules.batchnorm import _BatchNorm


    @HOOKS.register_module()
    class DumpRankWeights(Hook):

        def __init__(self, out_dir):
            self.out_dir = out_dir

        def _dump(self, runner, tag):
            model = getattr(runner.model, 'module', runner.model)
            torch.save(dict(
                params={k: v.detach().cpu().clone() for k, v in
                        model.named_parameters()},
                buffers={k: v.detach().cpu().clone() for k, v in
                         model.named_buffers()},
                norms=sorted({type(m).__name__ for m in model.modules()
                              if isinstance(m, _BatchNorm)})),
                f'{self.out_dir}/rank{get_rank()}{tag}.pth')

        def before_train(self, runner):
            self._dump(runner, '_init')

        def after_train(self, runner):
            self._dump(runner, '')
''')


def small_config(src: str, dst: Path, data_root: str,
                 logits_root: Optional[str] = None, **extra) -> str:
    """``src`` on a tiny grid and the given data (and offline teacher
    logits), one short epoch."""
    cfg = Config.fromfile(src)
    cfg.merge_from_dict(extra)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[loader].dataset
        ds.data_root = data_root
        for step in ds.pipeline:
            if step['type'] == 'PolarVoxelize':
                step['grid_size'] = GRID
            if step['type'] == 'LoadTeacherLogits':
                step['logits_root'] = logits_root
    cfg.train_dataloader.dataset.sequences = ['00']
    student = cfg.model.student if cfg.model.type == 'MOSDistiller' \
        else cfg.model
    student.grid_size = GRID
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_begin = 2
    cfg.default_hooks.logger.interval = 1
    cfg.dump(str(dst))
    return str(dst)


@pytest.fixture(scope='module')
def odd_root(tmp_path_factory):
    """Synthetic train '00' (6 scans) and val '08' with an odd 5 scans, so
    that the distributed sampler must pad one rank."""
    root = str(tmp_path_factory.mktemp('odd_synthetic'))
    write_dataset(root, ['00'], num_scans=6, seed=3, preset='small')
    write_dataset(root, ['08'], num_scans=5, seed=4, preset='small')
    return root


@pytest.fixture(scope='module')
def odd_logits(odd_root, tmp_path_factory):
    """Random offline teacher logits (N, 4) for every scan of train '00'."""
    out = str(tmp_path_factory.mktemp('odd_logits'))
    rng = np.random.default_rng(5)
    velodyne = Path(odd_root) / 'sequences' / '00' / 'velodyne'
    for scan in sorted(velodyne.glob('*.bin')):
        n = len(read_points(str(scan)))
        save_logits(logits_path(out, '00', int(scan.stem)),
                    rng.normal(0, 3, (n, 4)), 'float16')
    return out


def _run(cmd, env, timeout=900):
    res = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return res


def train_two_ranks(config: str, data_root: str, tmp_path: Path,
                    port: int, **options) -> dict:
    """``configs/kdmos/<config>`` made small (``small_config(**options)``)
    and trained by tools/dist_train.sh on 2 processes into
    ``tmp_path/work``; every rank dumps its weights into ``tmp_path``
    (DumpRankWeights). Returns the environment of the run."""
    (tmp_path / 'rank_hook.py').write_text(HOOK)
    cfg = small_config(
        str(REPO / 'configs/kdmos' / config), tmp_path / config, data_root,
        custom_imports=dict(imports=['kdmos_plugin', 'rank_hook'],
                            allow_failed_imports=False),
        custom_hooks=[dict(type='DumpRankWeights', out_dir=str(tmp_path))],
        **options)
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
               PYTHONPATH=f'{tmp_path}{os.pathsep}{REPO}', PORT=str(port))
    _run(['bash', str(REPO / 'tools/dist_train.sh'), cfg, '2',
          '--work-dir', str(tmp_path / 'work')], env)
    return env


def test_two_processes_distil_identical_weights_and_evaluate_once(
        odd_root, odd_logits, tmp_path, free_port):
    """student_kd (offline teacher logits) on 2 gloo processes; then the
    checkpoint evaluated by the student config on 2 and on 1 process."""
    work = tmp_path / 'work'
    env = train_two_ranks('student_kd_synthetic.py', odd_root, tmp_path,
                          free_port, logits_root=odd_logits)
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    w0, w1 = r0['params'], r1['params']
    assert w0.keys() == w1.keys()
    for key in w0:
        assert torch.equal(w0[key], w1[key]), key
    init = torch.load(tmp_path / 'rank0_init.pth')['params']
    assert any(not torch.equal(init[k], w0[k]) for k in w0)  # it trained
    assert all(k.startswith('student.') for k in w0)  # the distiller's
    log = next(work.glob('*/vis_data/scalars.json')).read_text()
    assert 'loss_tckd' in log and 'loss_nckd' in log  # it distilled
    # plain BatchNorm: each rank keeps the statistics of its own batches
    assert r0['norms'] == ['BatchNorm1d', 'BatchNorm2d']
    assert not all(torch.equal(r0['buffers'][k], r1['buffers'][k])
                   for k in running_stats(r0))
    ckpt = (work / 'last_checkpoint').read_text().strip()
    cfg = small_config(str(REPO / 'configs/kdmos/student_bev_synthetic.py'),
                       tmp_path / 'student.py', odd_root)
    # evaluation: 2 processes give the very numbers of 1 process, on an odd
    # number of scans (one rank is padded; the padding must not count twice)
    _run(['bash', str(REPO / 'tools/dist_test.sh'), cfg, ckpt, '2',
          '--work-dir', str(tmp_path / 'test2'), '--metrics-out',
          str(tmp_path / 'm2.json')], env)
    _run([sys.executable, str(REPO / 'tools/test.py'), cfg, ckpt,
          '--work-dir', str(tmp_path / 'test1'), '--metrics-out',
          str(tmp_path / 'm1.json')], env)
    m1 = json.loads((tmp_path / 'm1.json').read_text())
    m2 = json.loads((tmp_path / 'm2.json').read_text())
    assert m1 == m2
    assert m1['mos/num_scans'] == 5


def running_stats(dump: dict) -> list:
    """Names of the BatchNorm running mean/var buffers of a rank dump."""
    keys = [k for k in dump['buffers'] if k.endswith(('.running_mean',
                                                      '.running_var'))]
    assert keys
    return keys


def test_sync_bn_on_cpu_gives_identical_running_statistics(odd_root,
                                                           tmp_path,
                                                           free_port):
    """``sync_bn='torch'`` on a CPU-only machine: every BatchNorm becomes
    DistSyncBatchNorm, so both ranks hold the same running statistics
    (plain BatchNorm differs per rank, see the test above)."""
    train_two_ranks('student_bev_synthetic.py', odd_root, tmp_path,
                    free_port, sync_bn='torch')
    r0 = torch.load(tmp_path / 'rank0.pth')
    r1 = torch.load(tmp_path / 'rank1.pth')
    init = torch.load(tmp_path / 'rank0_init.pth')
    assert r0['norms'] == r1['norms'] == ['DistSyncBatchNorm']
    for key in running_stats(r0):
        assert not torch.equal(init['buffers'][key], r0['buffers'][key]), key
        assert torch.equal(r0['buffers'][key], r1['buffers'][key]), key
    for key in r0['params']:
        assert torch.equal(r0['params'][key], r1['params'][key]), key

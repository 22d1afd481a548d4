"""A training stopped after epoch 1 and resumed with --resume ends with the
weights of an uninterrupted run (deterministic settings)."""
import subprocess
import sys
from pathlib import Path

import torch
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[2]
GRID = [48, 36, 8]


def _config(tmp_path, data_root, max_epochs):
    """The synthetic student on a tiny grid with every random part off:
    no augmentation, no dropout or DropBlock (the sampler's shuffle is
    seeded by seed and epoch, which a resume restores)."""
    cfg = Config.fromfile(str(REPO / 'configs/kdmos/student_bev_synthetic.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = data_root
        for step in cfg[loader].dataset.pipeline:
            if step['type'] == 'PolarVoxelize':
                step['grid_size'] = GRID
    cfg.train_dataloader.dataset.pipeline = [
        s for s in cfg.train_dataloader.dataset.pipeline
        if s['type'] != 'MOSGlobalAug'
    ]
    cfg.train_dataloader.dataset.sequences = ['00']
    cfg.model.grid_size = GRID
    cfg.model.backbone.dropblock_prob = 0.0
    cfg.model.decode_head.dropout_ratio = 0.0
    cfg.train_cfg.max_epochs = max_epochs
    # one 4-epoch learning-rate curve for both runs (longer than either),
    # so the resumed run must restore the scheduler along it
    cfg.param_scheduler[0].update(total_steps=4, end=4)
    cfg.train_cfg.val_begin = 100
    cfg.randomness = dict(seed=7, deterministic=True)
    path = tmp_path / f'student_{max_epochs}e.py'
    cfg.dump(str(path))
    return str(path)


def _train(cfg, work_dir, *extra):
    res = subprocess.run(
        [sys.executable, str(REPO / 'tools/train.py'), cfg, '--work-dir',
         str(work_dir), *extra], cwd=REPO, capture_output=True, text=True,
        timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


def test_resume_reaches_the_weights_of_an_uninterrupted_run(
        synthetic_root, tmp_path):
    two = _config(tmp_path, synthetic_root, 2)
    _train(two, tmp_path / 'straight')
    # "killed" after epoch 1: a run that stops there, then --resume
    _train(_config(tmp_path, synthetic_root, 1), tmp_path / 'resumed')
    res = _train(two, tmp_path / 'resumed', '--resume')
    log = res.stdout + res.stderr
    # it really resumed (a fresh deterministic run would also match)
    assert 'resumed epoch: 1' in log
    assert 'Epoch(train) [1]' not in log and 'Epoch(train) [2]' in log
    straight = torch.load(tmp_path / 'straight' / 'epoch_2.pth',
                          weights_only=False)
    resumed = torch.load(tmp_path / 'resumed' / 'epoch_2.pth',
                         weights_only=False)
    assert resumed['meta']['iter'] == straight['meta']['iter']
    one = torch.load(tmp_path / 'resumed' / 'epoch_1.pth',
                     weights_only=False)['state_dict']
    a, b = straight['state_dict'], resumed['state_dict']
    assert a.keys() == b.keys()
    changed = 0
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6,
                                   msg=key)
        changed += not torch.equal(one[key], a[key])
    assert changed > 0  # epoch 2 did train

"""The data and the model of a config are checked against each other once,
before a run (MOSSetupCheckHook, check_data_model), through the entry points:
tools/train.py, tools/test.py, tools/infer.py and a bare mmengine Runner."""
import copy
import itertools
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, save_checkpoint

from kdmos_plugin.apis.checkpoint import CheckpointMismatchError
from kdmos_plugin.apis.inference import init_mos_model
from kdmos_plugin.engine.setup_check import (SetupMismatchError,
                                             setup_problems)
from mmdet3d.registry import MODELS

REPO = Path(__file__).resolve().parents[2]
_NAMES = itertools.count()


def _voxelize_index(cfg, loader):
    steps = cfg[loader].dataset.pipeline
    return next(i for i, s in enumerate(steps) if s['type'] == 'PolarVoxelize')


def _set_voxelize(cfg, loader, **kwargs):
    cfg[loader].dataset.pipeline[_voxelize_index(cfg, loader)].update(kwargs)


def _model(cfg):
    init_default_scope('mmdet3d')
    return MODELS.build(copy.deepcopy(cfg.model))


def test_each_disagreement_is_listed(tiny_grid_config):
    cfg = tiny_grid_config()
    model = _model(cfg)
    assert setup_problems(cfg, model) == []
    bad = tiny_grid_config()
    _set_voxelize(bad, 'test_dataloader', grid_size=[24, 18, 4],
                  max_bound=[40.0, 3.14159, 2.0])
    steps = bad.train_dataloader.dataset.pipeline
    motion = next(s for s in steps if s['type'] == 'MOSMotionFeatures')
    motion['num_channels'] = 6
    problems = setup_problems(bad, model)
    assert ('test_dataloader: PolarVoxelize grid_size [24, 18, 4] but the '
            'model KDMOSStudent has grid_size [48, 36, 8]') in problems
    assert ('train_dataloader: MOSMotionFeatures makes 6 channels but the '
            'model KDMOSStudent has motion_channels=8') in problems
    bounds = [p for p in problems if 'bounds differ' in p]
    assert len(bounds) == 1 and 'test_dataloader min [1.85' in bounds[0]
    assert not [p for p in problems if p.startswith('train_dataloader: Polar')]
    # the class count of the dataset (a 2-class label map) and of the
    # teacher logits
    kd = tiny_grid_config('student_kd_synthetic.py')
    kd.train_dataloader.dataset.label_map = 'mos_2class'
    kd.train_dataloader.dataset.metainfo = None
    logits = next(s for s in kd.train_dataloader.dataset.pipeline
                  if s['type'] == 'LoadTeacherLogits')
    logits['num_classes'] = 5
    problems = setup_problems(kd, _model(kd))
    assert ('train_dataloader: the dataset has 2 classes but the model '
            'KDMOSStudent has num_classes=4') in problems
    assert ('train_dataloader: LoadTeacherLogits num_classes=5 but the '
            'model KDMOSStudent has num_classes=4') in problems


@pytest.mark.parametrize('option,expected', [
    ('model.num_classes=3', 'the dataset has 4 classes but the model '
     'KDMOSStudent has num_classes=3'),
    ('model.num_classes=5', 'num_classes=5'),
    ('model.grid_size=[96,72,16]', 'PolarVoxelize grid_size [48, 36, 8] but '
     'the model KDMOSStudent has grid_size [96, 72, 16]'),
])
def test_train_refuses_before_training(tiny_student_ckpt, tiny_kitti_root,
                                       tmp_path, run_tool, option,
                                       expected):
    config = tiny_student_ckpt.replace('.pth', '.py')
    work = tmp_path / 'work'
    with pytest.raises(SetupMismatchError) as err:
        run_tool('train', config, '--work-dir', work, cfg_options=[
            option, f'train_dataloader.dataset.data_root={tiny_kitti_root}',
            f'val_dataloader.dataset.data_root={tiny_kitti_root}',
            'train_dataloader.dataset.sequences=[00]'])
    assert expected in str(err.value)
    assert str(err.value).startswith(config)
    assert not list(work.rglob('*.pth'))  # nothing trained


def test_test_refuses_a_smaller_data_grid(tiny_student_ckpt,
                                          tiny_kitti_root, tmp_path,
                                          run_tool):
    config = tiny_student_ckpt.replace('.pth', '.py')
    cfg = Config.fromfile(config)
    i = _voxelize_index(cfg, 'test_dataloader')
    with pytest.raises(SetupMismatchError,
                       match=r'test_dataloader: PolarVoxelize grid_size '
                       r'\[24, 18, 4\] but the model KDMOSStudent has '
                       r'grid_size \[48, 36, 8\]'):
        run_tool('test', config, tiny_student_ckpt, '--work-dir',
                 tmp_path / 'work', '--metrics-out', tmp_path / 'm.json',
                 cfg_options=[
                     f'test_dataloader.dataset.pipeline.{i}.grid_size='
                     '[24,18,4]',
                     f'test_dataloader.dataset.data_root={tiny_kitti_root}'])
    assert not (tmp_path / 'm.json').exists()


def test_infer_refuses_disagreeing_settings(tiny_grid_config,
                                            tiny_student_ckpt):
    cfg = tiny_grid_config()
    _set_voxelize(cfg, 'test_dataloader', grid_size=[24, 18, 4])
    with pytest.raises(SetupMismatchError, match='grid_size'):
        init_mos_model(cfg, tiny_student_ckpt)


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(
        str(REPO / 'configs/kdmos/teacher_sparse4d_synthetic.py'))
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    save_checkpoint({'state_dict': MODELS.build(cfg.model).state_dict()},
                    str(path))
    return str(path)


def test_runner_refuses_load_from_of_another_model(
        tiny_student_ckpt, teacher_ckpt, tiny_kitti_root, tmp_path):
    """A Runner built straight from the config (not through the tools):
    mmengine alone loads load_from with strict=False, only warns and goes
    on with random weights."""
    for mode in ('train', 'test'):
        cfg = Config.fromfile(tiny_student_ckpt.replace('.pth', '.py'))
        assert [h['type'] for h in cfg.custom_hooks] == ['MOSSetupCheckHook']
        cfg.work_dir = str(tmp_path / mode)
        cfg.load_from = teacher_ckpt
        cfg.visualizer.name = f'setup_check_{next(_NAMES)}'
        for loader in ('train_dataloader', 'val_dataloader',
                       'test_dataloader'):
            cfg[loader].dataset.data_root = tiny_kitti_root
        cfg.train_dataloader.dataset.sequences = ['00']
        runner = Runner.from_cfg(cfg)
        with pytest.raises(CheckpointMismatchError,
                           match='does not fit the model KDMOSStudent') as err:
            getattr(runner, mode)()
        assert teacher_ckpt in str(err.value)
        assert not list((tmp_path / mode).rglob('*.pth'))

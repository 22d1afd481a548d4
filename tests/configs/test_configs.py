"""Every config parses, dumps losslessly, builds, and resolves to the
published pipelines; the two dataset bases differ only in their data."""
import copy
import types
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / 'configs').rglob(
    '*.py'))
LEAVES = [c for c in CONFIGS if c.startswith('configs/kdmos/')]

# The pipelines written out step by step (docs/METHOD.md section 1.4): what
# mos_pipeline() must resolve to in the SemanticKITTI configs.
VOX = dict(type='PolarVoxelize', grid_size=[480, 360, 32],
           min_bound=[1.85, -3.141592653589793, -4.0],
           max_bound=[50.15, 3.141592653589793, 2.0], num_classes=4)
MOTION = dict(type='MOSMotionFeatures', mode='reference', num_channels=8)
AUG = dict(type='MOSGlobalAug', rotate=True, flip=True, translate_std=0.1)
LABELS = dict(type='LoadMOSLabels')
PACK = dict(type='PackMOSInputs')
STUDENT_SCANS = dict(type='LoadMOSScans', num_past=7, num_future=7)
TEACHER_SCANS = dict(type='LoadMOSScans', num_past=7, num_future=0)
STUDENT_TRAIN = [STUDENT_SCANS, LABELS, MOTION, AUG, VOX, PACK]
STUDENT_TEST = [STUDENT_SCANS, LABELS, MOTION, VOX, PACK]
# The teacher trains with the MambaMOS augmentations (docs/METHOD.md 3.2).
MAMBAMOS_AUG = [
    dict(type='MambaMOSAug', rotate_prob=0.5, max_yaw=3.141592653589793,
         scale_range=[0.9, 1.1], flip_prob=0.5, jitter_std=0.005,
         jitter_clip=0.02),
    dict(type='MOSSphereCrop', sample_rate=0.8)]
TEACHER_TRAIN = [TEACHER_SCANS, LABELS, *MAMBAMOS_AUG, VOX, PACK]
TEACHER_TEST = [TEACHER_SCANS, LABELS, VOX, PACK]
KD_TRAIN = [STUDENT_SCANS, LABELS,
            dict(type='LoadTeacherLogits', logits_root='data/teacher_logits',
                 num_classes=4), MOTION, AUG, VOX, PACK]


def _load(name: str) -> dict:
    return Config.fromfile(str(REPO / name)).to_dict()


def _plain(value):
    """Tuples as lists (a dumped config may write either)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _no_code(value, where='cfg'):
    assert not isinstance(value, (types.FunctionType, types.ModuleType,
                                  type)), where
    if isinstance(value, dict):
        for k, v in value.items():
            _no_code(v, f'{where}.{k}')
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _no_code(v, f'{where}[{i}]')


@pytest.mark.parametrize('name', CONFIGS)
def test_parses_and_dumps_without_the_pipeline_factory(name, tmp_path):
    """The dumped config (tools write it to the work dir) is plain data and
    reads back to the same dict."""
    cfg = Config.fromfile(str(REPO / name))
    d = cfg.to_dict()
    _no_code(d)
    assert 'mos_pipeline' not in d
    out = tmp_path / 'dumped.py'
    cfg.dump(str(out))
    lines = out.read_text().splitlines()
    assert not [ln for ln in lines if ln.startswith(('import ', 'from '))]
    assert _plain(Config.fromfile(str(out)).to_dict()) == _plain(d)


@pytest.mark.parametrize('name,train,test', [
    ('configs/kdmos/student_bev.py', STUDENT_TRAIN, STUDENT_TEST),
    ('configs/kdmos/motionbev.py', STUDENT_TRAIN, STUDENT_TEST),
    ('configs/kdmos/student_kd.py', KD_TRAIN, STUDENT_TEST),
    ('configs/kdmos/student_kd_online.py', STUDENT_TRAIN, STUDENT_TEST),
    ('configs/kdmos/teacher_sparse4d.py', TEACHER_TRAIN, TEACHER_TEST),
    ('configs/kdmos/teacher_minkunet.py', TEACHER_TRAIN, TEACHER_TEST),
])
def test_kitti_pipelines_are_the_published_steps(name, train, test):
    cfg = _plain(_load(name))
    assert cfg['train_dataloader']['dataset']['pipeline'] == train
    assert cfg['val_dataloader']['dataset']['pipeline'] == test
    assert cfg['test_dataloader']['dataset']['pipeline'] == test
    assert cfg['test_dataloader'] == cfg['val_dataloader']
    bench = cfg['benchmark_test_dataloader']
    assert bench['dataset']['pipeline'] == STUDENT_TEST
    assert bench['dataset']['split'] == 'test' and bench['dataset'][
        'test_mode']
    assert bench['dataset']['sequences'] == [str(s) for s in range(11, 22)]


@pytest.mark.parametrize('kitti,synthetic', [
    ('configs/_base_/datasets/semantickitti_mos.py',
     'configs/_base_/datasets/synthetic_mos.py'),
    ('configs/kdmos/student_kd.py', 'configs/kdmos/student_kd_synthetic.py'),
    ('configs/kdmos/teacher_sparse4d.py',
     'configs/kdmos/teacher_sparse4d_synthetic.py'),
])
def test_synthetic_data_differs_only_in_data_root_grid_motion_sequences(
        kitti, synthetic):
    """The synthetic pipelines and loaders are the SemanticKITTI ones with
    the synthetic data root, grid, causal motion features, sequences and
    small loaders; nothing else (model and schedule keys aside). The
    synthetic teacher keeps the student's rigid augmentation where the
    SemanticKITTI teacher has the MambaMOS ones (the demo's numbers were
    measured with it)."""
    k, s = _plain(_load(kitti)), _plain(_load(synthetic))
    assert s['grid_size'] == [240, 180, 16] and s['motion_mode'] == 'causal'
    assert s['num_future_scans'] == 0
    expect = copy.deepcopy(k)
    expect.update(data_root='data/synthetic_mos', grid_size=s['grid_size'],
                  motion_mode='causal', num_future_scans=0,
                  train_sequences=['00', '01', '02', '03', '04', '05'] +
                  [str(i) for i in range(11, 29)])
    for key in ('test_sequences', 'road_train_sequences',
                'road_val_sequences', 'benchmark_test_dataloader',
                'benchmark_test_evaluator'):
        del expect[key]  # SemanticKITTI only: the hidden test split
    expect['motion_cfg']['mode'] = 'causal'
    expect['voxelize_cfg']['grid_size'] = s['grid_size']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg = expect[loader]
        cfg.update(num_workers=0, persistent_workers=False, batch_size=2)
        cfg['dataset']['data_root'] = 'data/synthetic_mos'
        cfg['dataset'].pop('filter_static_frames', None)
    expect['train_dataloader']['dataset']['sequences'] = s['train_sequences']
    pipelines = [v for key, v in expect.items() if key.endswith('pipeline')]
    pipelines += [expect[loader]['dataset']['pipeline'] for loader in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')]
    for pipeline in pipelines:
        if MAMBAMOS_AUG[0] in pipeline:
            at = pipeline.index(MAMBAMOS_AUG[0])
            assert pipeline[at:at + 2] == MAMBAMOS_AUG
            pipeline[at:at + 2] = [copy.deepcopy(AUG)]
        for step in pipeline:
            if step['type'] == 'LoadMOSScans':
                step['num_future'] = 0
            elif step['type'] == 'MOSMotionFeatures':
                step['mode'] = 'causal'
            elif step['type'] == 'PolarVoxelize':
                step['grid_size'] = s['grid_size']
            elif step['type'] == 'LoadTeacherLogits':
                step['logits_root'] = 'data/synthetic_mos_teacher_logits'
    if 'teacher_logits_root' in expect:
        expect['teacher_logits_root'] = 'data/synthetic_mos_teacher_logits'
    data_keys = set(expect) - {'model', 'optim_wrapper', 'param_scheduler',
                               'train_cfg', 'lr', 'max_epochs',
                               'default_hooks'}
    assert {key: s[key] for key in data_keys} == {
        key: expect[key] for key in data_keys}
    assert set(s) == set(expect)


@pytest.mark.parametrize('name', LEAVES)
def test_leaf_builds_its_model_and_pipelines(name):
    """Every leaf config builds through the registries (the online
    distillers without their teacher checkpoint)."""
    from mmcv.transforms import Compose
    from mmdet3d.registry import MODELS

    import kdmos_plugin  # noqa: F401
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(REPO / name))
    teacher = cfg.model.get('teacher')
    if teacher:
        teacher.checkpoint = None
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    for loader in ('train_dataloader', 'val_dataloader'):
        pipeline = Compose(cfg[loader].dataset.pipeline)
        assert len(pipeline.transforms) == len(cfg[loader].dataset.pipeline)


def test_only_the_kitti_teachers_train_with_the_mambamos_augmentations():
    """Every other training pipeline (students, KD, synthetic configs)
    keeps the rigid MOSGlobalAug and drops no point."""
    mambamos = {'configs/kdmos/teacher_sparse4d.py',
                'configs/kdmos/teacher_minkunet.py'}
    for name in CONFIGS:
        cfg = _plain(_load(name))
        train = cfg.get('train_dataloader', {}).get('dataset', {}).get(
            'pipeline')
        if not train:
            continue
        types_ = [step['type'] for step in train]
        if name in mambamos:
            assert 'MOSGlobalAug' not in types_, name
            assert types_.index('MOSSphereCrop') == types_.index(
                'MambaMOSAug') + 1 == types_.index('PolarVoxelize') - 1
        else:
            assert AUG in train, name
            assert not {'MambaMOSAug', 'MOSSphereCrop'} & set(types_), name
        for key in ('val_dataloader', 'test_dataloader'):
            steps = cfg.get(key, {}).get('dataset', {}).get('pipeline', [])
            assert not {'MambaMOSAug', 'MOSSphereCrop', 'MOSGlobalAug'} & {
                step['type'] for step in steps}, (name, key)

"""End to end: distil with tools/train.py (offline logits and online teacher),
resume, then tools/test.py on the checkpoint with the student config, and
benchmark files with one label per point; the same for the swaps made by
config alone (another BEV backbone, mmdet3d's MinkUNet as the student)."""
import itertools
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
CONFIGS = osp.join(REPO, 'configs', 'kdmos')

# two iterations (2 scans, batch 1), a val pass on 2 scans, a narrow student
SMALL_RUN = [
    'train_cfg.max_epochs=1', 'train_cfg.val_begin=1',
    'train_dataloader.batch_size=1', 'train_dataloader.dataset.indices=2',
    'train_dataloader.dataset.sequences=[00,01,02]',  # the workspace's
    'val_dataloader.dataset.indices=2', 'default_hooks.logger.interval=1',
    'model.student.voxel_encoder.feat_channels=(8,8,16,16)',
    'model.student.voxel_encoder.out_channels=8',
    'model.student.backbone.in_channels=8',
    'model.student.backbone.channels=(8,8,16,16,16)',
    'model.student.backbone.motion_widths=(4,4,8,8)'
]
#: the same narrow student for tools/test.py with student_bev_synthetic.py
SMALL_STUDENT = [o.replace('model.student.', 'model.') for o in SMALL_RUN
                 if o.startswith('model.student.')]


_RUNS = itertools.count()


def run_tool(name, *args, options=()):
    """Run tools/<name>.py in this process, as from the command line, with
    ``--cfg-options``. Every run gets its own visualizer (mmengine keeps
    instances by name, so in one process a second Runner would otherwise
    write its scalars into the first one's folder)."""
    argv = sys.argv
    options = list(options) + [f'visualizer.name=kd_e2e_{next(_RUNS)}']
    sys.argv = [osp.join(REPO, 'tools', name)] + [
        str(a) for a in args] + ['--cfg-options'] + [str(o) for o in options]
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    finally:
        sys.argv = argv


@pytest.fixture(scope='module')
def workspace(synthetic_root, tmp_path_factory):
    """A working directory laid out as the synthetic configs expect:
    data/synthetic_mos (train 00-02, val 08, unlabeled 11), random offline
    teacher logits in data/synthetic_mos_teacher_logits, a teacher
    checkpoint; the tests run from it."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import get_state_dict, save_checkpoint

    from kdmos_plugin.datasets.teacher_logits import logits_path, save_logits
    from kdmos_plugin.datasets.kitti_io import read_points
    from mmdet3d.registry import MODELS

    work = tmp_path_factory.mktemp('kd_e2e')
    seqs = work / 'data' / 'synthetic_mos' / 'sequences'
    seqs.mkdir(parents=True)
    src = osp.join(synthetic_root, 'sequences')
    for seq, origin in (('00', '00'), ('01', '00'), ('02', '00'),
                        ('08', '08')):
        os.symlink(osp.join(src, origin), seqs / seq)
    # the hidden-test layout: scans and poses, no labels
    (seqs / '11').mkdir()
    for item in ('velodyne', 'poses.txt', 'calib.txt'):
        os.symlink(osp.join(src, '08', item), seqs / '11' / item)
    rng = np.random.default_rng(0)
    logits_root = str(work / 'data' / 'synthetic_mos_teacher_logits')
    for seq in ('00', '01', '02'):
        for name in sorted(os.listdir(seqs / seq / 'velodyne')):
            n = len(read_points(str(seqs / seq / 'velodyne' / name)))
            save_logits(logits_path(logits_root, seq, int(name[:6])),
                        rng.normal(0, 3, (n, 4)), 'float16')
    init_default_scope('mmdet3d')
    teacher_cfg = osp.join(CONFIGS, 'teacher_sparse4d_synthetic.py')
    teacher = MODELS.build(Config.fromfile(teacher_cfg).model)
    save_checkpoint({'state_dict': get_state_dict(teacher)},
                    str(work / 'teacher.pth'))
    cwd = os.getcwd()
    os.chdir(work)
    yield work
    os.chdir(cwd)


def _scalars(work_dir):
    """The logged records of the runs in a work dir (mmengine's json logs:
    scalars.json of training, <timestamp>.json of testing)."""
    import json
    found = []
    for root, _, files in os.walk(work_dir):
        for f in sorted(files):
            if f.endswith('.json'):
                with open(osp.join(root, f)) as fh:
                    found += [json.loads(line) for line in fh]
    return found


def _check_submission(out_dir, seq, root):
    labels = sorted(os.listdir(osp.join(out_dir, 'sequences', seq,
                                        'predictions')))
    assert labels
    for name in labels:
        pred = np.fromfile(
            osp.join(out_dir, 'sequences', seq, 'predictions', name),
            dtype=np.uint32)
        scan = np.fromfile(
            osp.join(root, 'sequences', seq, 'velodyne',
                     name.replace('.label', '.bin')), dtype=np.float32)
        assert len(pred) * 4 == len(scan)  # one label per point
        assert set(np.unique(pred)) <= {9, 251}
    return labels


def _train(workspace, name, options,
           student_losses=('loss_ce', 'loss_lovasz')):
    """Two distillation iterations with tools/train.py; checks the log."""
    work_dir = workspace / f'work_{name}'
    run_tool('train.py', osp.join(CONFIGS, name + '.py'), '--work-dir',
             work_dir, options=options)
    assert (work_dir / 'epoch_1.pth').is_file()
    scalars = _scalars(work_dir)
    train_logs = [s for s in scalars if 'loss_tckd' in s]
    assert sorted({s['iter'] for s in train_logs}) == [1, 2]
    for s in train_logs:
        assert np.isfinite(s['loss_nckd']) and s['loss_nckd'] > 0
        assert np.isfinite(s['loss_tckd'])
        assert set(student_losses) <= set(s)
        assert all(np.isfinite(s[k]) for k in student_losses)
    state = torch.load(work_dir / 'epoch_1.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert not any(k.startswith(('student.', 'teacher.')) for k in state)
    return work_dir, scalars


def test_offline_distil_resume_and_test(workspace, capsys):
    """student_kd_synthetic: offline logits, validation and best checkpoint,
    resume, then tools/test.py with the student config and --submit."""
    name = 'student_kd_synthetic'
    work_dir, scalars = _train(workspace, name, SMALL_RUN)
    val_iou = {s['mos/IoU_moving'] for s in scalars if 'mos/IoU_moving' in s}
    assert len(val_iou) == 1  # one validation (logged in two files)
    assert list(work_dir.glob('best_mos_IoU_moving_epoch_1.pth'))

    # resume: epoch 2 continues from epoch 1 (optimizer, scheduler, model)
    run_tool('train.py', osp.join(CONFIGS, name + '.py'), '--work-dir',
             work_dir, '--resume',
             options=SMALL_RUN + ['train_cfg.max_epochs=2',
                                  'train_cfg.val_begin=3'])
    resumed = torch.load(work_dir / 'epoch_2.pth', map_location='cpu',
                         weights_only=False)
    assert resumed['meta']['epoch'] == 2 and resumed['meta']['iter'] == 4

    # the checkpoint straight into the student config, with benchmark files
    out = workspace / 'submit_val'
    run_tool('test.py', osp.join(CONFIGS, 'student_bev_synthetic.py'),
             work_dir / 'epoch_1.pth', '--work-dir', workspace / 'test_val',
             '--submit', out,
             options=['test_dataloader.dataset.indices=2'] + SMALL_STUDENT)
    assert len(_check_submission(out, '08', 'data/synthetic_mos')) == 2
    # it prints a line that sums up the moving class (point, object level)
    summary = [line for line in capsys.readouterr().out.splitlines()
               if line.startswith('moving IoU ')]
    assert summary and 'precision' in summary[-1]
    assert 'recall' in summary[-1] and 'object IoU' in summary[-1]
    # the student config scores the checkpoint as the distiller's val did
    test_iou = {s['mos/IoU_moving'] for s in _scalars(
        workspace / 'test_val') if 'mos/IoU_moving' in s}
    assert len(test_iou) == 1
    assert test_iou.pop() == pytest.approx(val_iou.pop(), abs=1e-12)


def test_online_distil_and_submit_unlabeled(workspace):
    """student_kd_online_synthetic: the real sparse teacher runs online;
    then benchmark files (format_only) on a split without labels."""
    name = 'student_kd_online_synthetic'
    options = SMALL_RUN + [
        'train_cfg.val_begin=2',  # no validation: the offline test has one
        f'model.teacher.checkpoint={workspace / "teacher.pth"}'
    ]
    work_dir, _ = _train(workspace, name, options)
    # the synthetic dataset config has no hidden test split: a user config
    # adds one (sequence 11, no labels) as semantickitti_mos.py does
    config = workspace / 'student_bev_synthetic_hidden.py'
    config.write_text(
        f"_base_ = ['{osp.join(CONFIGS, 'student_bev_synthetic.py')}']\n"
        'benchmark_test_dataloader = {{_base_.test_dataloader}}\n'
        "benchmark_test_evaluator = dict(type='MOSMetric')\n")
    out = workspace / 'submit_test'
    run_tool('test.py', config, work_dir / 'epoch_1.pth', '--work-dir',
             workspace / 'test_unlabeled', '--split', 'test', '--submit', out,
             options=['benchmark_test_dataloader.dataset.split=test',
                      'benchmark_test_dataloader.dataset.sequences=[11]',
                      'benchmark_test_dataloader.dataset.indices=3'] +
             SMALL_STUDENT)
    assert len(_check_submission(out, '11', 'data/synthetic_mos')) == 3


def _labels_per_point(out_dir, seq, root, count):
    """``count`` submission files of ``seq``, one label per scan point."""
    assert len(_check_submission(out_dir, seq, root)) == count


def test_plain_unet_backbone_trains_and_tests(workspace):
    """student_plain_unet_synthetic: another BEV backbone by config alone
    trains (finite CE and Lovasz) and predicts one label per point."""
    name = 'student_plain_unet_synthetic'
    small = SMALL_STUDENT[:2] + ['model.backbone.in_channels=8',
                                 'model.backbone.channels=(8,16,16)']
    options = [o for o in SMALL_RUN if not o.startswith('model.')] + small
    work_dir = workspace / f'work_{name}'
    run_tool('train.py', osp.join(CONFIGS, name + '.py'), '--work-dir',
             work_dir, options=options + ['train_cfg.val_begin=2'])
    logs = [s for s in _scalars(work_dir) if 'loss_ce' in s]
    assert sorted({s['iter'] for s in logs}) == [1, 2]
    for s in logs:
        assert np.isfinite(s['loss_ce']) and np.isfinite(s['loss_lovasz'])
    state = torch.load(work_dir / 'epoch_1.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert any(k.startswith('backbone.ups.') for k in state)
    assert 'decode_head.conv_seg.weight' in state
    out = workspace / 'submit_plain'
    run_tool('test.py', osp.join(CONFIGS, name + '.py'),
             work_dir / 'epoch_1.pth', '--work-dir', workspace / 'test_plain',
             '--submit', out,
             options=['test_dataloader.dataset.indices=2'] + small)
    _labels_per_point(out, '08', 'data/synthetic_mos', 2)


def test_minkunet_student_distilled_by_config(workspace):
    """student_minkunet_kd_online_synthetic: mmdet3d's MinkUNet (spconv on
    CPU) distilled from the online sparse 4-D teacher: its own loss and the
    KD losses in the log; its checkpoint (MinkUNet keys) predicts one label
    per point through tools/test.py."""
    name = 'student_minkunet_kd_online_synthetic'
    teacher = f'model.teacher.checkpoint={workspace / "teacher.pth"}'
    small = ['model.student.backbone.base_channels=8',
             'model.student.backbone.encoder_channels=[8,8,16,16]',
             'model.student.backbone.decoder_channels=[16,16,8,8]',
             'model.student.decode_head.channels=8', teacher]
    options = [o for o in SMALL_RUN if not o.startswith('model.')] + small
    work_dir, _ = _train(workspace, name,
                         options + ['train_cfg.val_begin=2'],
                         student_losses=('loss_sem_seg', ))
    state = torch.load(work_dir / 'epoch_1.pth', map_location='cpu',
                       weights_only=False)['state_dict']
    assert 'decode_head.conv_seg.weight' in state
    assert any(k.startswith('backbone.encoder.') for k in state)
    out = workspace / 'submit_minkunet'
    run_tool('test.py', osp.join(CONFIGS, name + '.py'),
             work_dir / 'epoch_1.pth', '--work-dir',
             workspace / 'test_minkunet', '--submit', out,
             options=['test_dataloader.dataset.indices=2'] + small)
    _labels_per_point(out, '08', 'data/synthetic_mos', 2)

"""tools/dump_teacher_logits.py and the dump loop it calls: files, manifest,
resume, refusal, and the round trip through LoadTeacherLogits."""
import json
import os
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmdet3d.registry import DATASETS, MODELS

import kdmos_plugin  # noqa: F401
from kdmos_plugin.apis import load_config
from kdmos_plugin.apis.teacher_logits import dump_teacher_logits
from kdmos_plugin.datasets.teacher_logits import (MANIFEST_NAME, file_sha256,
                                                  logits_path, read_manifest)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/kdmos/teacher_sparse4d_synthetic.py')
NUM_FRAMES = 12  # sequence 00 of the tiny dataset


def _options(root):
    """Point the config at the tiny dataset and shrink the model."""
    return {
        # the train split is read where train_dataloader reads it
        'train_dataloader.dataset.sequences': ['00'],
        'train_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.data_root': root,
        'model.voxel_encoder.voxel_size': (0.5, 0.5, 0.5, 1),
        'model.backbone.channels': (8, 16),
        'model.backbone.num_blocks': 1,
        'model.backbone.decoder_blocks': 1,
        'model.backbone.time_kernel': (1, 3),
        'model.backbone.temporal_strides': (2, ),
        'model.decode_head.channels': 8,
    }


@pytest.fixture(scope='module')
def setup(tiny_kitti_root, tmp_path_factory):
    init_default_scope('mmdet3d')
    cfg = load_config(CONFIG, _options(tiny_kitti_root))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    for m in model.modules():      # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.uniform_(-0.1, 0.1)
    tmp = tmp_path_factory.mktemp('dump')
    ckpt = str(tmp / 'teacher.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    other = str(tmp / 'other.pth')
    state = model.state_dict()      # keeps _metadata (spconv versions)
    for k, v in state.items():
        if v.is_floating_point():
            state[k] = v + 1
    torch.save({'state_dict': state, 'meta': {}}, other)
    out = str(tmp / 'logits')
    counts = dump_teacher_logits(CONFIG, ckpt, out, split='train',
                                 cfg_options=_options(tiny_kitti_root),
                                 log=None)
    return dict(cfg=cfg, model=model.eval(), ckpt=ckpt, other=other,
                out=out, counts=counts, root=tiny_kitti_root, tmp=tmp)


def test_files_and_manifest(setup):
    assert setup['counts'] == dict(written=NUM_FRAMES, skipped=0)
    manifest = read_manifest(setup['out'])
    assert manifest == dict(
        classes=['unlabeled', 'static', 'movable', 'moving'],
        num_classes=4, config='teacher_sparse4d_synthetic.py',
        checkpoint_sha256=file_sha256(setup['ckpt']), dtype='float32',
        format_version=1)
    for frame in range(NUM_FRAMES):
        path = logits_path(setup['out'], '00', frame)
        assert path.endswith(f'sequences/00/teacher_logits/{frame:06d}.npy')
        scan = osp.join(setup['root'], 'sequences/00/velodyne',
                        f'{frame:06d}.bin')
        n = os.path.getsize(scan) // 16
        arr = np.load(path)
        assert arr.dtype == np.float32 and arr.shape == (n, 4)
    assert not [f for f in os.listdir(osp.dirname(path)) if 'tmp' in f]


def test_round_trip_through_load_teacher_logits(setup):
    cfg = setup['cfg']
    dataset_cfg = cfg.test_dataloader.dataset.copy()
    dataset_cfg.sequences = ['00']
    pipeline = list(dataset_cfg.pipeline)
    pipeline.insert(-1, dict(type='LoadTeacherLogits',
                             logits_root=setup['out'], num_classes=4))
    dataset_cfg.pipeline = pipeline
    dataset = DATASETS.build(dataset_cfg)
    model = setup['model']
    for i in (0, 7):
        data = dataset[i]
        stored = data['data_samples'].gt_pts_seg.teacher_logits
        with torch.no_grad():
            batch = model.data_preprocessor(pseudo_collate([data]), False)
            direct = model.point_logits(
                model.forward_feats(batch['inputs']), batch['inputs'])
        assert stored.shape == direct.shape == (len(data['inputs']['points']),
                                                4)
        assert torch.allclose(stored, direct, atol=1e-5)
        assert direct.std() > 0


def test_second_run_skips_and_resumes(setup):
    opts = _options(setup['root'])
    missing = logits_path(setup['out'], '00', 5)
    before = np.load(logits_path(setup['out'], '00', 4))
    os.remove(missing)
    counts = dump_teacher_logits(CONFIG, setup['ckpt'], setup['out'],
                                 cfg_options=opts, log=None)
    assert counts == dict(written=1, skipped=NUM_FRAMES - 1)
    assert osp.isfile(missing)
    assert np.array_equal(before, np.load(logits_path(setup['out'], '00',
                                                      4)))


def test_manifest_mismatch_is_refused(setup):
    opts = _options(setup['root'])
    with pytest.raises(ValueError, match='checkpoint_sha256'):
        dump_teacher_logits(CONFIG, setup['other'], setup['out'],
                            cfg_options=opts, log=None)
    with pytest.raises(ValueError, match='dtype'):
        dump_teacher_logits(CONFIG, setup['ckpt'], setup['out'], fp16=True,
                            cfg_options=opts, log=None)
    # logits of unknown origin (no manifest) are refused too
    stray = str(setup['tmp'] / 'stray')
    os.makedirs(osp.join(stray, 'sequences', '00'))
    with pytest.raises(ValueError, match='no ' + MANIFEST_NAME):
        dump_teacher_logits(CONFIG, setup['ckpt'], stray, cfg_options=opts,
                            log=None)
    # a manifest that is not ours is named in the error
    bad = str(setup['tmp'] / 'bad')
    os.makedirs(bad)
    with open(osp.join(bad, MANIFEST_NAME), 'w') as f:
        json.dump(dict(classes=['a']), f)
    with pytest.raises(ValueError, match='lacks keys'):
        read_manifest(bad)


def test_cli_writes_float16(setup, monkeypatch):
    # a leaf config, as a user would write one (no --cfg-options needed)
    leaf = str(setup['tmp'] / 'tiny_teacher.py')
    with open(leaf, 'w') as f:
        f.write(f'_base_ = [{CONFIG!r}]\n')
        for key, value in _options(setup['root']).items():
            f.write(f'{key.replace(".", "_")} = {value!r}\n')
        f.write('test_dataloader = dict(dataset=dict('
                'data_root=test_dataloader_dataset_data_root))\n'
                'train_dataloader = dict(dataset=dict('
                'data_root=train_dataloader_dataset_data_root, '
                'sequences=train_dataloader_dataset_sequences))\n'
                'model = dict(voxel_encoder=dict(voxel_size='
                'model_voxel_encoder_voxel_size), backbone=dict('
                'channels=model_backbone_channels, num_blocks='
                'model_backbone_num_blocks, decoder_blocks='
                'model_backbone_decoder_blocks, time_kernel='
                'model_backbone_time_kernel, temporal_strides='
                'model_backbone_temporal_strides), decode_head=dict('
                'channels=model_decode_head_channels))\n')
    out = str(setup['tmp'] / 'fp16')
    monkeypatch.setattr(sys, 'argv', [
        'dump_teacher_logits.py', leaf, setup['ckpt'], '--out', out,
        '--fp16'])
    runpy.run_path(osp.join(REPO, 'tools/dump_teacher_logits.py'),
                   run_name='__main__')
    manifest = read_manifest(out)
    assert manifest['dtype'] == 'float16'
    assert manifest['config'] == 'tiny_teacher.py'
    half = np.load(logits_path(out, '00', 3))
    full = np.load(logits_path(setup['out'], '00', 3))
    assert half.dtype == np.float16
    np.testing.assert_allclose(half.astype(np.float32), full, rtol=2e-3,
                               atol=2e-3)


def test_ensemble_logits_are_the_mean_of_its_members(setup, run_tool):
    """tools/merge_checkpoints.py, then a dump through the ensemble config:
    each frame's logits equal the mean of the two members' own dumps."""
    tmp, root = setup['tmp'], setup['root']
    merged = str(tmp / 'ensemble.pth')
    run_tool('merge_checkpoints', merged, setup['ckpt'], setup['other'])
    other_out = str(tmp / 'logits_other')
    dump_teacher_logits(CONFIG, setup['other'], other_out, split='train',
                        cfg_options=_options(root), log=None)
    options = {k: v for k, v in _options(root).items()
               if not k.startswith('model.')}
    # every member shrunk as the single teacher
    options.update({k.replace('model.', 'model.member.', 1): v
                    for k, v in _options(root).items()
                    if k.startswith('model.')})
    out = str(tmp / 'logits_ensemble')
    counts = dump_teacher_logits(
        osp.join(REPO, 'configs/kdmos/teacher_ensemble_synthetic.py'),
        merged, out, split='train', cfg_options=options, log=None)
    assert counts == dict(written=NUM_FRAMES, skipped=0)
    assert read_manifest(out)['checkpoint_sha256'] == file_sha256(merged)
    for frame in range(NUM_FRAMES):
        a = np.load(logits_path(setup['out'], '00', frame))
        b = np.load(logits_path(other_out, '00', frame))
        got = np.load(logits_path(out, '00', frame))
        assert not np.allclose(a, b)
        np.testing.assert_allclose(got, (a + b) / 2, rtol=1e-4, atol=1e-5)

"""mos_pipeline: the transform configs of the student, teacher and KD."""
import os.path as osp

import numpy as np
import pytest

from kdmos_plugin.datasets.transforms.mos_pipeline import mos_pipeline

VOX = dict(type='PolarVoxelize', grid_size=[8, 6, 4], num_classes=4)
MOTION = dict(type='MOSMotionFeatures', mode='reference', num_channels=8)
AUG = dict(type='MOSGlobalAug', rotate=True, flip=True, translate_std=0.1)
LABELS = dict(type='LoadMOSLabels')
PACK = dict(type='PackMOSInputs')
REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))


def test_student_train_and_test():
    train = mos_pipeline(7, VOX, train=True, num_future_scans=7,
                         motion_cfg=MOTION)
    scans = dict(type='LoadMOSScans', num_past=7, num_future=7)
    assert train == [scans, LABELS, MOTION, AUG, VOX, PACK]
    test = mos_pipeline(7, VOX, train=False, num_future_scans=7,
                        motion_cfg=MOTION)
    assert test == [scans, LABELS, MOTION, VOX, PACK]


def test_teacher_reads_no_motion_and_no_future_scans():
    scans = dict(type='LoadMOSScans', num_past=3, num_future=0)
    assert mos_pipeline(3, VOX, train=True) == [scans, LABELS, AUG, VOX, PACK]
    assert mos_pipeline(3, VOX, train=False) == [scans, LABELS, VOX, PACK]


def test_kd_loads_teacher_logits_before_the_motion_features():
    steps = mos_pipeline(
        7, VOX, train=True, motion_cfg=MOTION,
        teacher_logits=dict(logits_root='data/logits', num_classes=4))
    assert [s['type'] for s in steps] == [
        'LoadMOSScans', 'LoadMOSLabels', 'LoadTeacherLogits',
        'MOSMotionFeatures', 'MOSGlobalAug', 'PolarVoxelize', 'PackMOSInputs']
    assert steps[2] == dict(type='LoadTeacherLogits',
                            logits_root='data/logits', num_classes=4)


def test_steps_are_copies():
    """Editing one pipeline (as --cfg-options does) leaves the other and
    the given configs alone."""
    train = mos_pipeline(7, VOX, train=True, motion_cfg=MOTION)
    test = mos_pipeline(7, VOX, train=False, motion_cfg=MOTION)
    train[-2]['grid_size'] = [1, 1, 1]
    train[2]['mode'] = 'causal'
    assert test[-2]['grid_size'] == [8, 6, 4] and test[2]['mode'] == \
        'reference'
    assert VOX['grid_size'] == [8, 6, 4] and MOTION['mode'] == 'reference'


MAMBAMOS = [
    dict(type='MambaMOSAug', rotate_prob=0.5, max_yaw=3.141592653589793,
         scale_range=[0.9, 1.1], flip_prob=0.5, jitter_std=0.005,
         jitter_clip=0.02),
    dict(type='MOSSphereCrop', sample_rate=0.8)]


def test_teacher_with_the_mambamos_augmentations():
    scans = dict(type='LoadMOSScans', num_past=7, num_future=0)
    train = mos_pipeline(7, VOX, train=True, train_aug='mambamos')
    assert train == [scans, LABELS, *MAMBAMOS, VOX, PACK]
    assert mos_pipeline(7, VOX, train=False, train_aug='mambamos') == [
        scans, LABELS, VOX, PACK]
    # copies: editing one pipeline's list leaves the next call alone
    train[2]['scale_range'][0] = 0.5
    assert mos_pipeline(7, VOX, train=True, train_aug='mambamos')[2] == \
        MAMBAMOS[0]


def test_unknown_augmentation_and_cropped_offline_logits_are_refused():
    with pytest.raises(ValueError, match="train_aug.*'kdmos'.*'mambamos'"):
        mos_pipeline(7, VOX, train=True, train_aug='pointcept')
    with pytest.raises(ValueError, match='every point'):
        mos_pipeline(7, VOX, train=True, train_aug='mambamos',
                     teacher_logits=dict(logits_root='x', num_classes=4))


def test_teacher_train_pipeline_on_synthetic_scans_gives_a_finite_loss(
        synthetic_root):
    """The MambaMOS pipeline on a real dataset sample, packed, then the
    synthetic teacher's loss: the contract holds after the crop and the
    loss is finite."""
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    from mmdet3d.registry import MODELS

    from kdmos_plugin.datasets import SemanticKittiMOSDataset

    init_default_scope('mmdet3d')
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'kdmos',
                                   'teacher_sparse4d_synthetic.py'))
    k = cfg.num_past_scans
    ds = SemanticKittiMOSDataset(
        data_root=synthetic_root, sequences=['00'],
        pipeline=mos_pipeline(k, cfg.voxelize_cfg, train=True,
                              train_aug='mambamos'))
    raw = SemanticKittiMOSDataset(
        data_root=synthetic_root, sequences=['00'],
        pipeline=mos_pipeline(k, cfg.voxelize_cfg, train=False))
    np.random.seed(0)
    sample = ds[5]
    full = raw[5]
    inputs, data = sample['inputs'], sample['data_samples']
    n, m = len(inputs['points']), len(inputs['multi_points'])
    assert m == int(0.8 * len(full['inputs']['multi_points']))
    assert 0 < n < len(full['inputs']['points'])
    assert torch.equal(inputs['multi_points'][:n, :4], inputs['points'])
    assert len(data.gt_pts_seg.pts_semantic_mask) == n == \
        data.metainfo['num_points'] == len(inputs['point_feats'])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    batch = model.data_preprocessor(pseudo_collate([sample]), True)
    losses = model(**batch, mode='loss')
    assert set(losses) == {'loss_ce', 'loss_lovasz'}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())

"""Sparse4DMOSTeacher: forward/backward on CPU with K = 7, overfitting one
sample, the input contract, and mmdet3d's MinkUNet plugged in by config."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample, PointData

import kdmos_plugin  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
K = 7


def small_teacher_cfg(**overrides):
    """A tiny teacher: 0.4 m cells, 3 levels."""
    cfg = dict(
        type='Sparse4DMOSTeacher',
        data_preprocessor=dict(type='MOSDataPreprocessor'),
        voxel_encoder=dict(type='SpacetimeVoxelizer',
                           voxel_size=(0.4, 0.4, 0.4, 1),
                           point_cloud_range=(-20, -20, -3, 20, 20, 3),
                           max_age=K),
        backbone=dict(type='SparseUNet4D', in_channels=8,
                      channels=(8, 16, 16), num_blocks=1,
                      time_kernel=(1, 3, 3), temporal_strides=(2, 2)),
        decode_head=dict(type='MOSPointHead', channels=8))
    cfg.update(overrides)
    return cfg


def moving_scene(seed=0, n_static=300, n_moving=60):
    """A merged K = 7 cloud: a static wall and ground, a box moving 1 m per
    scan and a parked box; labels 1 static, 2 movable, 3 moving, 0 noise.

    Returns:
        tuple: points (N, 4), multi_points (M, 5), labels (N,) of scan 0.
    """
    g = torch.Generator().manual_seed(seed)
    scans, labels0 = [], None
    for age in range(K + 1):
        wall = torch.rand(n_static, 3, generator=g) * torch.tensor(
            [16., 0.2, 3.]) + torch.tensor([-8., 6., -1.5])
        ground = torch.rand(n_static, 3, generator=g) * torch.tensor(
            [16., 10., 0.05]) + torch.tensor([-8., -4., -1.7])
        parked = torch.rand(n_moving, 3, generator=g) * torch.tensor(
            [2., 1., 1.]) + torch.tensor([-5., -3., -1.5])
        moving = torch.rand(n_moving, 3, generator=g) * torch.tensor(
            [2., 1., 1.]) + torch.tensor([3. - 1.0 * age, 1., -1.5])
        noise = torch.rand(10, 3, generator=g) * 6 - 3
        xyz = torch.cat([wall, ground, parked, moving, noise])
        lab = torch.cat([torch.ones(2 * n_static), torch.full((n_moving, ), 2),
                         torch.full((n_moving, ), 3), torch.zeros(10)]).long()
        perm = torch.randperm(len(xyz), generator=g)
        xyz, lab = xyz[perm], lab[perm]
        intensity = torch.rand(len(xyz), 1, generator=g)
        scans.append(torch.cat([xyz, intensity,
                                torch.full((len(xyz), 1), float(age))], 1))
        if age == 0:
            labels0 = lab
    multi = torch.cat(scans)
    return multi[:len(scans[0]), :4].clone(), multi, labels0


def make_batch(num_samples=2):
    inputs = dict(points=[], multi_points=[])
    samples = []
    for s in range(num_samples):
        pts, multi, lab = moving_scene(seed=s)
        inputs['points'].append(pts)
        inputs['multi_points'].append(multi)
        ds = Det3DDataSample(metainfo=dict(num_points=len(pts)))
        ds.gt_pts_seg = PointData(pts_semantic_mask=lab)
        samples.append(ds)
    return inputs, samples


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmdet3d')


def test_forward_backward_on_cpu_with_seven_past_scans():
    torch.manual_seed(0)
    model = MODELS.build(small_teacher_cfg())
    inputs, samples = make_batch(2)
    assert inputs['multi_points'][0][:, 4].max() == K
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_ce', 'loss_lovasz'}
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name

    model.eval()
    with torch.no_grad():
        feats = model.forward_feats(inputs)
        logits = model.point_logits(feats, inputs)
    n = [len(p) for p in inputs['points']]
    assert logits.shape == (sum(n), 4)
    # points of one voxel share its logits (voxel-to-point mapping)
    v2p = feats['current2voxel']
    same = v2p[:, None] == v2p[None, :]
    diff = (logits[:, None] - logits[None, :]).abs().amax(-1)
    assert (diff[same] < 1e-5).all()
    out = model.predict(inputs, samples)
    assert out[1].pred_pts_seg.pts_semantic_mask.shape == (n[1], )
    assert out[1].pts_seg_logits.pts_seg_logits.shape == (4, n[1])


def test_a_few_steps_on_one_sample_reduce_its_loss():
    torch.manual_seed(0)
    model = MODELS.build(small_teacher_cfg())
    inputs, samples = make_batch(1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    history = []
    for _ in range(12):
        opt.zero_grad()
        loss = sum(model.loss(inputs, samples).values())
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert history[-1] < 0.6 * history[0], history


def test_input_contract_is_checked():
    model = MODELS.build(small_teacher_cfg())
    inputs, samples = make_batch(1)
    with pytest.raises(KeyError, match='multi_points'):
        model.loss(dict(points=inputs['points']), samples)
    bad = dict(points=inputs['points'],
               multi_points=[inputs['multi_points'][0].flip(0)])
    with pytest.raises(ValueError, match='current-scan points'):
        model.loss(bad, samples)
    with pytest.raises(ValueError, match='in_channels'):
        MODELS.build(small_teacher_cfg(backbone=dict(
            type='SparseUNet4D', in_channels=5, channels=(8, ),
            num_blocks=1, time_kernel=1, temporal_strides=())))
    with pytest.raises(ValueError, match='decode_head'):
        MODELS.build(small_teacher_cfg(decode_head=dict(num_classes=3)))


def test_reference_config_builds_default_teacher():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/_base_/models/sparse4d_teacher.py'))
    model = MODELS.build(cfg.model)
    assert model.voxel_encoder.spatial_shape == [1024, 1024, 80, 8]
    head = model.decode_head
    assert type(head).__name__ == 'MOSPointHead'
    assert model.backbone.out_channels == head.conv_seg.in_features == 32
    assert head.conv_seg.out_features == 4 and head.dropout is None
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params > 4 * 4_031_366       # far larger than the student


def test_minkunet_config_plugs_in_mmdet3d_backbone():
    from spconv.core import ConvAlgo
    from spconv.pytorch.conv import SparseConvolution
    cfg = Config.fromfile(osp.join(REPO, 'configs/kdmos/teacher_minkunet.py'))
    assert cfg.model.backbone.type == 'MinkUNetBackbone'
    assert cfg.model.backbone.sparseconv_backend == 'spconv'
    # MinkUNet-34 layout inherited from mmdet3d's config
    assert list(cfg.model.backbone.encoder_blocks) == [2, 3, 4, 6]
    assert cfg.model.backbone.in_channels == 5
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    pts, multi, lab = moving_scene(n_static=150, n_moving=40)
    assert 3000 < len(multi) < 4000               # a few thousand points
    inputs = dict(points=[pts], multi_points=[multi])
    sample = Det3DDataSample()
    sample.gt_pts_seg = PointData(pts_semantic_mask=lab)
    losses = model.loss(inputs, [sample])
    sum(losses.values()).backward()
    assert all(torch.isfinite(v) for v in losses.values())
    layers = [m for m in model.modules() if isinstance(m, SparseConvolution)]
    assert len(layers) > 30
    assert all(m.algo == ConvAlgo.Native for m in layers)
    grads = [p.grad for p in model.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)

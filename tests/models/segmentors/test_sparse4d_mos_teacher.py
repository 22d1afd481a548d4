"""Sparse4DMOSTeacher: forward/backward on CPU with K = 7, overfitting one
sample, the input contract, mmdet3d's MinkUNet plugged in by config, and
the non-causal teacher that also reads future scans."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmengine.dataset import pseudo_collate

from mmdet3d.registry import DATASETS, MODELS
from mmdet3d.structures import Det3DDataSample, PointData

import kdmos_plugin  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
K = 7  # past scans of the conftest scene


@pytest.fixture(autouse=True)
def _scope():
    init_default_scope('mmdet3d')


def test_forward_backward_on_cpu_with_seven_past_scans(small_teacher_cfg,
                                                       make_batch):
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


def test_a_few_steps_on_one_sample_reduce_its_loss(small_teacher_cfg,
                                                   make_batch):
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


def test_input_contract_is_checked(small_teacher_cfg, make_batch):
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


def test_minkunet_config_plugs_in_mmdet3d_backbone(moving_scene):
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


def test_noncausal_config_reads_the_future_scans(synthetic_root):
    """The non-causal synthetic teacher: its cloud holds ages -3..7 (none
    below 0 at the sequence end), it trains, and its logits of the current
    points change when the future scans are taken away."""
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/kdmos/teacher_sparse4d_noncausal_synthetic.py'))
    ds_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    ds_cfg.update(data_root=synthetic_root, sequences=['08'])
    dataset = DATASETS.build(ds_cfg)
    mid, last = dataset[4], dataset[len(dataset) - 1]
    ages = mid['inputs']['multi_points'][:, 4].unique().tolist()
    assert ages == list(range(-3, 8))
    assert last['inputs']['multi_points'][:, 4].min() == 0
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert model.voxel_encoder.spatial_shape[3] == 11
    data = model.data_preprocessor(pseudo_collate([mid, last]), True)
    losses = model.loss(data['inputs'], data['data_samples'])
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()

    model.eval()
    past_only = copy.deepcopy(mid)
    multi = past_only['inputs']['multi_points']
    past_only['inputs']['multi_points'] = multi[multi[:, 4] >= 0]
    logits = []
    with torch.no_grad():
        for sample in (mid, past_only):
            data = model.data_preprocessor(pseudo_collate([sample]), False)
            out = model.predict(data['inputs'], data['data_samples'])
            logits.append(out[0].pts_seg_logits.pts_seg_logits)
    assert logits[0].shape == logits[1].shape
    assert not torch.allclose(logits[0], logits[1])

"""MinkUNetAdapter: mmdet3d's MinkUNet as a distillation student without a
user-written wrapper: its voxels against a literal numpy voxelisation, the
KD losses, gradients, predictions and checkpoint keys."""
import copy

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from kdmos_plugin.models.distillers import MinkUNetAdapter, MOSDistiller
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample, PointData

init_default_scope('mmdet3d')

VOXEL = (0.5, 0.5, 0.5)

#: mmdet3d's MinkUNet, spconv backend, tiny; 17 input features as the
#: student's point_feats (9 appearance + 8 motion channels).
MINKUNET = dict(
    type='MinkUNet',
    data_preprocessor=dict(
        type='Det3DDataPreprocessor', voxel=True, voxel_type='minkunet',
        batch_first=True,
        voxel_layer=dict(max_num_points=-1,
                         point_cloud_range=[-100, -100, -20, 100, 100, 20],
                         voxel_size=list(VOXEL), max_voxels=(-1, -1))),
    backbone=dict(type='MinkUNetBackbone', in_channels=17, base_channels=8,
                  encoder_channels=[8, 8, 16, 16], encoder_blocks=[1] * 4,
                  decoder_channels=[16, 16, 8, 8], decoder_blocks=[1] * 4,
                  sparseconv_backend='spconv'),
    decode_head=dict(type='MinkUNetHead', channels=8, num_classes=4,
                     ignore_index=0, dropout_ratio=0,
                     loss_decode=dict(type='mmdet.CrossEntropyLoss',
                                      avg_non_ignore=True)),
    train_cfg=dict(), test_cfg=dict())


def make_batch(sizes=(1500, 1200), seed=0):
    """Points in a 12 x 12 x 8 m box (some 0.5 m voxels hold several; 4
    stride-2 stages need >= 16 cells on every axis), student features,
    labels and offline teacher logits."""
    g = torch.Generator().manual_seed(seed)
    inputs = dict(points=[], point_feats=[])
    samples = []
    for b, n in enumerate(sizes):
        pts = torch.rand(n, 4, generator=g) * torch.tensor(
            [12., 12., 8., 1.]) - torch.tensor([6., 6., 4., 0.])
        inputs['points'].append(pts)
        inputs['point_feats'].append(torch.randn(n, 17, generator=g))
        labels = torch.randint(0, 4, (n, ), generator=g)
        s = Det3DDataSample(metainfo=dict(lidar_path=f'{b:06d}.bin'))
        s.gt_pts_seg = PointData(
            pts_semantic_mask=labels,
            teacher_logits=torch.randn(n, 4, generator=g) * 3)
        samples.append(s)
    return inputs, samples


def literal_voxels(inputs):
    """mmdet3d's minkunet voxelisation written out with numpy."""
    voxels, coors, p2v, offset = [], [], [], 0
    for i, (pts, f) in enumerate(zip(inputs['points'],
                                     inputs['point_feats'])):
        cells = np.round(pts[:, :3].numpy() / np.array(VOXEL, np.float32))
        cells = cells.astype(np.int32)
        cells -= cells.min(0)
        uniq, first, inverse = np.unique(cells, axis=0, return_index=True,
                                         return_inverse=True)
        voxels.append(f.numpy()[first])
        coors.append(np.concatenate(
            [np.full((len(uniq), 1), i, np.int32), uniq], 1))
        p2v.append(inverse.reshape(-1) + offset)
        offset += len(uniq)
    return (np.concatenate(voxels), np.concatenate(coors),
            np.concatenate(p2v))


def test_voxels_equal_a_literal_voxelisation():
    model = MODELS.build(copy.deepcopy(MINKUNET))
    adapter = MinkUNetAdapter(model, features='point_feats')
    assert adapter.voxel_size == VOXEL and adapter.batch_first
    inputs, _ = make_batch()
    vox = adapter.voxelize(inputs)
    voxels, coors, p2v = literal_voxels(inputs)
    assert len(voxels) < sum(len(p) for p in inputs['points'])
    assert np.array_equal(vox['voxels'].numpy(), voxels)
    assert np.array_equal(vox['coors'].numpy(), coors)
    assert vox['coors'].dtype == torch.int32
    assert np.array_equal(vox['point2voxel'].numpy(), p2v)


def test_distilled_minkunet_student_losses_gradients_predictions():
    torch.manual_seed(0)
    distiller = MOSDistiller(student=copy.deepcopy(MINKUNET),
                             adapter=dict(features='point_feats'))
    assert type(distiller.data_preprocessor).__name__ == \
        'MOSDataPreprocessor'
    inputs, samples = make_batch()
    losses = distiller.loss(inputs, samples)
    assert set(losses) == {'loss_sem_seg', 'loss_tckd', 'loss_nckd'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert float(losses['loss_nckd']) > 0
    sum(losses.values()).backward()
    grads = [p.grad for p in distiller.student.backbone.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # the head's loss is on voxel labels: each voxel its first point's
    voxels, _, _ = literal_voxels(inputs)
    masks = [s.gt_pts_seg.voxel_semantic_mask for s in samples]
    assert sum(len(m) for m in masks) == len(voxels)

    distiller.eval()
    with torch.no_grad():
        logits = distiller._forward(inputs)
        out = distiller.predict(inputs, copy.deepcopy(samples))
    _, _, p2v = literal_voxels(inputs)
    n = [len(p) for p in inputs['points']]
    assert logits.shape == (sum(n), 4)
    # points of one voxel share its logits, points of others do not
    same = torch.from_numpy(p2v[:, None] == p2v[None, :])
    diff = (logits[:, None] - logits[None, :]).abs().amax(-1)
    assert (diff[same] == 0).all() and (diff[~same] > 0).float().mean() > .9
    for sample, k, part in zip(out, n, torch.split(logits, n)):
        assert torch.equal(sample.pred_pts_seg.pts_semantic_mask,
                           part.argmax(1))
        assert sample.pts_seg_logits.pts_seg_logits.shape == (4, k)


def test_checkpoint_holds_the_minkunet_keys():
    distiller = MOSDistiller(student=copy.deepcopy(MINKUNET),
                             adapter=dict(features='point_feats'))
    state = distiller.state_dict()
    assert 'decode_head.conv_seg.weight' in state
    assert not any(k.startswith(('student.', 'teacher.')) for k in state)
    plain = MODELS.build(copy.deepcopy(MINKUNET))
    result = plain.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_errors():
    model = MODELS.build(copy.deepcopy(MINKUNET))
    with pytest.raises(ValueError, match='features must be one of'):
        MinkUNetAdapter(model, features='multi_points')
    adapter = MinkUNetAdapter(model, features='point_feats')
    inputs, _ = make_batch()
    with pytest.raises(KeyError, match='point_feats'):
        adapter.voxelize(dict(points=inputs['points']))
    with pytest.raises(ValueError, match='sample 1 has 1200 points'):
        adapter.voxelize(dict(inputs, point_feats=[
            inputs['point_feats'][0], inputs['point_feats'][1][:10]]))
    no_size = copy.deepcopy(MINKUNET)
    no_size['data_preprocessor'] = dict(type='Det3DDataPreprocessor')
    with pytest.raises(ValueError, match='3-D voxel_size'):
        MOSDistiller(student=no_size)
    with pytest.raises(TypeError, match='BaseMOSSegmentor and mmdet3d '
                       'MinkUNet'):
        MOSDistiller(student=dict(type='DecoupledMOSDistillLoss'))
    with pytest.raises(ValueError, match='takes no adapter'):
        MOSDistiller(student=dict(
            type='KDMOSStudent', grid_size=(16, 16, 4),
            voxel_encoder=dict(type='BEVPointEncoder'),
            backbone=dict(type='PlainBEVUNet', channels=(8, 8))),
            adapter=dict(features='points'))

"""KDMOSStudent: encoder + backbone + head point logits, errors, training
step, configs, predict/loss on real data."""
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from kdmos_plugin.datasets.kitti_io import read_labels, read_points
from kdmos_plugin.datasets.label_map import MOS_4CLASS, map_labels
from kdmos_plugin.datasets.polar_grid import PolarGrid
from kdmos_plugin.models.segmentors import KDMOSStudent
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample, PointData

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / 'tests' / 'data' / 'semantickitti_sample'
SMALL_BACKBONE = dict(
    type='CABEVUNet', channels=(8, 8, 16, 16, 16), motion_widths=(4, 4, 8, 8))


def _small_model(grid=(16, 20, 3), motion=2):
    return KDMOSStudent(
        voxel_encoder=dict(type='BEVPointEncoder', motion_channels=motion),
        backbone=dict(SMALL_BACKBONE, motion_channels=motion),
        grid_size=grid)


def test_forward_point_logits_and_errors(dense_voxel_logits, random_cells):
    torch.manual_seed(0)
    grid = (16, 20, 3)
    model = _small_model(grid).eval()
    n = [50, 30]
    inputs = dict(
        points=[torch.randn(k, 4) for k in n],
        point_feats=[torch.randn(k, 11) for k in n],
        grid_ind=[random_cells(k, grid, 1, seed=k)[0] for k in n])
    with torch.no_grad():
        feats = model.forward_feats(inputs)
        logits = model.point_logits(feats, inputs)
    assert feats['bev_feats'].shape == (2, 8, 16, 20)
    with torch.no_grad():  # the published dense path, eval mode
        dense_logits = model.decode_head.conv_seg(model.backbone(
            *model.voxel_encoder(torch.cat(inputs['point_feats']),
                                 torch.cat(inputs['grid_ind']),
                                 torch.tensor([0] * 50 + [1] * 30), 2)))
    assert dense_logits.shape == (2, 4 * 3, 16, 20)
    dense = dense_voxel_logits(dense_logits, 4)
    g = torch.cat(inputs['grid_ind'])
    b = torch.tensor([0] * 50 + [1] * 30)
    torch.testing.assert_close(logits, dense[b, :, g[:, 0], g[:, 1], g[:, 2]],
                               rtol=1e-5, atol=1e-5)
    bad = dict(inputs, grid_ind=[inputs['grid_ind'][0] + 16,
                                 inputs['grid_ind'][1]])
    with pytest.raises(ValueError, match='outside the model grid'):
        model.forward_feats(bad)
    with pytest.raises(ValueError, match='gt_voxel_seg'):
        model.loss_by_feats(feats, inputs, [Det3DDataSample()] * 2)
    with pytest.raises(ValueError, match='contradicts'):
        KDMOSStudent(voxel_encoder=dict(type='BEVPointEncoder',
                                        bev_shape=(8, 8)),
                     backbone=SMALL_BACKBONE, grid_size=grid)


def test_head_follows_backbone_and_model():
    """The head's width, classes, heights and ignore label come from the
    backbone and the model; a head stating other values is refused."""
    model = _small_model((16, 20, 3))
    head = model.decode_head
    assert (head.channels, head.num_classes, head.grid_z,
            head.ignore_index) == (8, 4, 3, 0)
    assert head.conv_seg.weight.shape == (4 * 3, 8, 1, 1)
    with pytest.raises(ValueError, match='decode_head.channels'):
        KDMOSStudent(voxel_encoder=dict(type='BEVPointEncoder'),
                     backbone=SMALL_BACKBONE, grid_size=(16, 20, 3),
                     decode_head=dict(type='BEVVoxelHead', channels=32))


def test_training_step_on_a_small_grid(random_cells, voxel_samples):
    torch.manual_seed(0)
    grid = (32, 40, 3)  # level 4 keeps 2x2 cells for training-mode BN
    model = _small_model(grid).train()
    cells, _ = random_cells(120, grid, 1, seed=5)
    labels = torch.randint(0, 4, (120, ))
    inputs = dict(points=[torch.randn(120, 4)],
                  point_feats=[torch.randn(120, 11)], grid_ind=[cells])
    samples = voxel_samples(cells, torch.zeros(120, dtype=torch.long),
                             labels, 1)
    losses = model.loss(inputs, samples)
    sum(losses.values()).backward()
    assert model.voxel_encoder.mlp[1].weight.grad.abs().sum() > 0
    assert model.decode_head.conv_seg.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('name,params,grid', [
    ('student_bev', 4031366, [480, 360, 32]),
    ('motionbev', 4364518, [480, 360, 32]),
    ('student_bev_synthetic', None, None),
    ('motionbev_synthetic', None, None),
])
def test_configs_build(name, params, grid):
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(REPO / 'configs' / 'kdmos' / f'{name}.py'))
    model = MODELS.build(cfg.model)
    assert list(model.grid_size) == list(cfg.grid_size)
    if params is not None:
        assert sum(p.numel() for p in model.parameters()) == params
        assert list(cfg.grid_size) == grid


def _real_scan_batch(grid: PolarGrid):
    """One real SemanticKITTI scan as the pipeline packs it (batch 1)."""
    bin_path = SAMPLE / 'velodyne' / '000000.bin'
    points = read_points(str(bin_path))
    labels = map_labels(
        read_labels(str(SAMPLE / 'labels' / '000000.label'), len(points)),
        MOS_4CLASS)
    feats, ind = grid.point_features(points)
    coors, vox_labels = grid.occupied_voxels(ind, labels, num_classes=4)
    motion = np.zeros((len(points), 8), np.float32)
    inputs = dict(
        points=[torch.from_numpy(points)],
        point_feats=[torch.from_numpy(np.concatenate([feats, motion], 1))],
        grid_ind=[torch.from_numpy(ind)])
    sample = Det3DDataSample(metainfo=dict(lidar_path=str(bin_path)))
    sample.gt_pts_seg = PointData(pts_semantic_mask=torch.from_numpy(labels))
    sample.gt_voxel_seg = PointData(
        coors=torch.from_numpy(coors),
        semantic_mask=torch.from_numpy(vox_labels))
    return inputs, sample, labels


def test_predict_and_loss_on_a_real_scan():
    """Reference config and grid 480x360x32 on a real 122k-point scan."""
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(REPO / 'configs/_base_/models/kdmos_student.py'))
    model = MODELS.build(cfg.model).eval()
    assert sum(p.numel() for p in model.parameters()) == 4031366
    grid = PolarGrid((480, 360, 32))
    inputs, sample, labels = _real_scan_batch(grid)
    n = len(labels)
    assert n > 100000
    with torch.inference_mode():
        losses = model.loss(inputs, [sample])
        assert set(losses) == {'loss_ce', 'loss_lovasz'}
        for value in losses.values():
            assert torch.isfinite(value) and float(value) > 0
        out = model.predict(inputs, [sample])[0]
    pred = out.pred_pts_seg.pts_semantic_mask
    assert pred.shape == (n, ) and pred.dtype == torch.int64
    assert int(pred.min()) >= 0 and int(pred.max()) < 4
    assert out.pts_seg_logits.pts_seg_logits.shape == (4, n)

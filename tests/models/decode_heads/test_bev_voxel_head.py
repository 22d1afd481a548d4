"""BEVVoxelHead: sparse logit reads equal the published dense voxel tensor,
the voxel loss equals the dense loss, dropout, registry, errors."""
import pytest
import torch
import torch.nn.functional as F

from kdmos_plugin.models.decode_heads import (BEVVoxelHead,
                                              head_logits_at_cells)
from kdmos_plugin.models.losses import LovaszSoftmaxLoss
from mmdet3d.models.decode_heads.decode_head import Base3DDecodeHead
from mmdet3d.registry import MODELS
from mmdet3d.structures import Det3DDataSample


def _head(k=8, c=4, z=3, **kwargs):
    return BEVVoxelHead(
        channels=k, num_classes=c, grid_z=z,
        loss_decode=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False,
                         avg_non_ignore=True, loss_weight=1.0),
        loss_lovasz=dict(type='LovaszSoftmaxLoss', loss_weight=1.0),
        **kwargs)


def test_sparse_read_equals_dense_indexing(dense_voxel_logits, random_cells):
    """The head at the read cells == indexing the dense voxel tensor."""
    torch.manual_seed(0)
    grid, c, k = (7, 9, 5), 4, 6
    feats = torch.randn(3, k, grid[0], grid[1])
    head = torch.nn.Conv2d(k, c * grid[2], 1)
    cells, b = random_cells(200, grid, 3, seed=1)
    with torch.no_grad():
        dense = dense_voxel_logits(head(feats), c)
        ref = dense[b, :, cells[:, 0], cells[:, 1], cells[:, 2]]
        out = head_logits_at_cells(feats, head, b, cells, c)
    assert out.shape == (200, c)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_predict_by_feat_reads_its_conv_seg(dense_voxel_logits,
                                            random_cells):
    torch.manual_seed(0)
    head = _head().eval()
    feats = torch.randn(2, 8, 16, 20)
    cells, b = random_cells(90, (16, 20, 3), 2, seed=3)
    with torch.no_grad():
        out = head.predict(feats, cells, b)
        dense = dense_voxel_logits(head.conv_seg(feats), 4)
    torch.testing.assert_close(
        out, dense[b, :, cells[:, 0], cells[:, 1], cells[:, 2]],
        rtol=1e-5, atol=1e-5)


def test_voxel_loss_equals_dense_loss(dense_voxel_logits, random_cells,
                                      voxel_samples):
    torch.manual_seed(0)
    grid, c = (16, 20, 3), 4
    head = _head(z=grid[2])
    cells, b = random_cells(150, grid, 2, seed=2)
    labels = torch.randint(0, c, (150, ))
    samples = voxel_samples(cells, b, labels, 2)
    bev = torch.randn(2, 8, grid[0], grid[1], requires_grad=True)
    losses = head.loss_by_feat(bev, samples)
    assert set(losses) == {'loss_ce', 'loss_lovasz'}

    dense_labels = torch.zeros(2, *grid, dtype=torch.long)
    for i, s in enumerate(samples):
        co = s.gt_voxel_seg.coors
        dense_labels[i, co[:, 0], co[:, 1], co[:, 2]] = \
            s.gt_voxel_seg.semantic_mask
    dense = dense_voxel_logits(head.conv_seg(bev), c)
    ce = F.cross_entropy(dense, dense_labels, ignore_index=0)
    lovasz = LovaszSoftmaxLoss(ignore_index=0)(dense, dense_labels)
    torch.testing.assert_close(losses['loss_ce'], ce)
    torch.testing.assert_close(losses['loss_lovasz'], lovasz)
    # gradients agree as well
    g_sparse = torch.autograd.grad(losses['loss_ce'], bev)[0]
    g_dense = torch.autograd.grad(ce, bev)[0]
    torch.testing.assert_close(g_sparse, g_dense)


def test_dropout_only_in_training_and_default_init():
    """Head dropout (published 0.5) acts in training only; conv_seg keeps
    PyTorch's default init through init_weights (not normal std 0.01)."""
    torch.manual_seed(0)
    head = _head(dropout_ratio=0.5)
    assert isinstance(head, Base3DDecodeHead)
    before = head.conv_seg.weight.detach().clone()
    head.init_weights()
    assert torch.equal(head.conv_seg.weight, before)
    # kaiming-uniform bound of a 1x1 conv over 8 channels: 1/sqrt(8)
    assert float(before.abs().max()) > 0.1
    x = torch.ones(1, 8, 4, 4)
    assert torch.equal(head.eval()(x), x)
    y = head.train()(x)
    assert set(torch.unique(y).tolist()) == {0.0, 2.0}
    assert _head(dropout_ratio=0.0).train()(x) is x


def test_built_by_type_and_errors(random_cells):
    head = MODELS.build(dict(type='BEVVoxelHead', channels=8, grid_z=2))
    assert head.conv_seg.out_channels == 4 * 2
    with pytest.raises(ValueError, match=r'\(B, 8, R, P\)'):
        head(torch.zeros(1, 6, 4, 4))
    with pytest.raises(ValueError, match='gt_voxel_seg'):
        head.loss_by_feat(torch.zeros(1, 8, 4, 4), [Det3DDataSample()])
    cells, b = random_cells(10, (4, 4, 5), 1, seed=0)
    samples = [Det3DDataSample()]
    from mmdet3d.structures import PointData
    samples[0].gt_voxel_seg = PointData(coors=cells,
                                        semantic_mask=torch.ones(10).long())
    with pytest.raises(ValueError, match='outside the model grid'):
        head.loss_by_feat(torch.zeros(1, 8, 4, 4), samples)

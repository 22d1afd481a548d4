"""Fixtures shared by the BEV head and student tests: the published dense
voxel tensor built literally, random cells and packed voxel labels."""
import numpy as np
import pytest
import torch

from mmdet3d.structures import Det3DDataSample, PointData


def _dense_voxel_logits(bev_logits, num_classes):
    """The published (B, C, R, P, Z) voxel tensor of (B, C * Z, R, P)."""
    b, cz, r, p = bev_logits.shape
    x = bev_logits.permute(0, 2, 3, 1)  # (B, R, P, C*Z)
    x = x.reshape(b, r, p, cz // num_classes, num_classes)
    return x.permute(0, 4, 1, 2, 3)


def _random_cells(n, grid, batch, seed):
    """(n, 3) int64 cells on ``grid`` and (n,) batch indices < ``batch``."""
    g = torch.Generator().manual_seed(seed)
    cells = torch.stack([torch.randint(0, s, (n, ), generator=g)
                         for s in grid], 1)
    return cells, torch.randint(0, batch, (n, ), generator=g)


def _voxel_samples(cells, batch_idx, labels, batch):
    """Data samples with ``gt_voxel_seg``: one label per occupied cell (its
    first point's), as the pipeline writes them."""
    samples = []
    for i in range(batch):
        sel = batch_idx == i
        key = cells[sel] @ torch.tensor([10000, 100, 1])
        _, first = np.unique(key.numpy(), return_index=True)
        first = torch.as_tensor(first)
        s = Det3DDataSample()
        s.gt_voxel_seg = PointData(
            coors=cells[sel][first], semantic_mask=labels[sel][first])
        samples.append(s)
    return samples


@pytest.fixture
def dense_voxel_logits():
    return _dense_voxel_logits


@pytest.fixture
def random_cells():
    return _random_cells


@pytest.fixture
def voxel_samples():
    return _voxel_samples

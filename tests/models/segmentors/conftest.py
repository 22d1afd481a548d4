"""Fixtures of the segmentor tests: a tiny sparse teacher and its scene."""
import pytest
import torch

from mmdet3d.structures import Det3DDataSample, PointData

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


@pytest.fixture(name='small_teacher_cfg')
def _small_teacher_cfg_fixture():
    return small_teacher_cfg


@pytest.fixture(name='moving_scene')
def _moving_scene_fixture():
    return moving_scene


@pytest.fixture(name='make_batch')
def _make_batch_fixture():
    return make_batch

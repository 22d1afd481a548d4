"""PackMOSInputs against docs/CONTRACT.md, batching with the preprocessor,
and the full pipeline never dropping or reordering points."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets.kitti_io import read_labels, read_points
from kdmos_plugin.datasets.label_map import MOS_4CLASS, map_labels
from kdmos_plugin.datasets.transforms import PackMOSInputs
from kdmos_plugin.models.data_preprocessors.mos_data_preprocessor import \
    MOSDataPreprocessor
from mmdet3d.registry import DATASETS

init_default_scope('mmdet3d')
GRID = [60, 45, 8]


def _results(n=6, v=4, labelled=True):
    rng = np.random.default_rng(0)
    res = dict(
        points=rng.random((n, 4)).astype(np.float32),
        point_feats=rng.random((n, 17)).astype(np.float32),
        grid_ind=rng.integers(0, 8, (n, 3)),
        multi_points=rng.random((3 * n, 5)).astype(np.float32),
        voxel_coors=rng.integers(0, 8, (v, 3)), grid_size=(60, 45, 8),
        lidar_path='a/000003.bin', sequence='08', frame_id=3, num_points=n,
        sample_idx=1, label_path='a/000003.label')
    if labelled:
        res['pts_semantic_mask'] = rng.integers(0, 4, n)
        res['voxel_semantic_mask'] = rng.integers(0, 4, v)
        res['teacher_logits'] = rng.random((n, 4)).astype(np.float32)
    return res


def test_contract_layout():
    out = PackMOSInputs()(_results())
    inputs, sample = out['inputs'], out['data_samples']
    assert set(inputs) == {'points', 'point_feats', 'grid_ind',
                           'multi_points'}
    assert inputs['points'].dtype == torch.float32
    assert inputs['point_feats'].dtype == torch.float32
    assert inputs['grid_ind'].dtype == torch.int64
    assert inputs['multi_points'].shape == (18, 5)
    assert sample.metainfo == dict(lidar_path='a/000003.bin', sequence='08',
                                   frame_id=3, num_points=6,
                                   grid_size=(60, 45, 8))
    assert sample.gt_pts_seg.pts_semantic_mask.dtype == torch.int64
    assert sample.gt_pts_seg.teacher_logits.shape == (6, 4)
    assert sample.gt_voxel_seg.coors.dtype == torch.int64
    assert sample.gt_voxel_seg.semantic_mask.shape == (4, )


def test_unlabelled_and_errors():
    res = _results(labelled=False)
    del res['multi_points']
    out = PackMOSInputs()(res)
    assert 'multi_points' not in out['inputs']
    assert 'pts_semantic_mask' not in out['data_samples'].gt_pts_seg
    assert 'gt_voxel_seg' not in out['data_samples']
    res = _results()
    res['teacher_logits'] = res['teacher_logits'][:5]
    with pytest.raises(ValueError, match=r'000003\.bin.*teacher_logits.*5 '
                       r'rows for 6'):
        PackMOSInputs()(res)
    res = _results()
    del res['grid_ind']
    with pytest.raises(KeyError, match='PolarVoxelize'):
        PackMOSInputs()(res)


def test_full_pipeline_keeps_every_point_in_order(tiny_kitti_root, tmp_path):
    """Load, labels, causal motion, augmentation, voxelisation, teacher
    logits and packing: row i is point i of the .bin file throughout."""
    n_by_frame = {}
    for f in (8, 9):
        n = len(read_points(f'{tiny_kitti_root}/sequences/08/velodyne/'
                            f'{f:06d}.bin'))
        n_by_frame[f] = n
        path = tmp_path / 'sequences/08/teacher_logits' / f'{f:06d}.npy'
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.arange(n * 4, dtype=np.float32).reshape(n, 4))
    pipeline = [
        dict(type='LoadMOSScans', num_past=7),
        dict(type='LoadMOSLabels'),
        dict(type='MOSMotionFeatures', mode='causal'),
        dict(type='MOSGlobalAug'),
        dict(type='PolarVoxelize', grid_size=GRID, num_classes=4),
        dict(type='LoadTeacherLogits', logits_root=str(tmp_path)),
        dict(type='PackMOSInputs'),
    ]
    ds = DATASETS.build(dict(type='SemanticKittiMOSDataset',
                             data_root=tiny_kitti_root, sequences=['08'],
                             pipeline=pipeline))
    np.random.seed(0)
    batch = [ds[8], ds[9]]
    for f, out in zip((8, 9), batch):
        raw = read_points(f'{tiny_kitti_root}/sequences/08/velodyne/'
                          f'{f:06d}.bin')
        inputs, sample = out['inputs'], out['data_samples']
        pts = inputs['points'].double().numpy()
        # same rigid motion for every row, in file order
        d_raw = np.linalg.norm(raw[1:, :3] - raw[:-1, :3], axis=1)
        d_out = np.linalg.norm(pts[1:, :3] - pts[:-1, :3], axis=1)
        np.testing.assert_allclose(d_out, d_raw, atol=1e-4)
        np.testing.assert_array_equal(pts[:, 3], raw[:, 3])
        torch.testing.assert_close(inputs['multi_points'][:len(raw), :4],
                                   inputs['points'])
        labels = map_labels(read_labels(f'{tiny_kitti_root}/sequences/08/'
                                        f'labels/{f:06d}.label'), MOS_4CLASS)
        np.testing.assert_array_equal(
            sample.gt_pts_seg.pts_semantic_mask.numpy(), labels)
        np.testing.assert_array_equal(
            sample.gt_pts_seg.teacher_logits.numpy(),
            np.arange(len(raw) * 4, dtype=np.float32).reshape(-1, 4))
        assert inputs['point_feats'].shape == (len(raw), 17)
    # batching with the model's preprocessor
    data = MOSDataPreprocessor()(pseudo_collate(batch))
    assert [len(p) for p in data['inputs']['points']] == \
        [n_by_frame[8], n_by_frame[9]]
    assert len(data['data_samples']) == 2

"""SemanticKittiMOSDataset: built from configs via the registry, from the
folder layout and from info files; filtering, splits, errors."""
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import kdmos_plugin  # noqa: F401  (registers everything)
from kdmos_plugin.datasets.kitti_io import (read_labels, read_poses,
                                            write_labels, write_poses)
from kdmos_plugin.datasets.label_map import MOS_4CLASS
from kdmos_plugin.datasets.mos_infos import create_info_files
from mmdet3d.registry import DATASETS
from mmdet3d.structures import Det3DDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs', '_base_', 'datasets')

init_default_scope('mmdet3d')


def _dataset_cfg(cfg_name, loader, root, sequences):
    cfg = Config.fromfile(osp.join(CFG_DIR, cfg_name))
    ds = cfg[loader].dataset
    ds.data_root = root
    ds.sequences = sequences
    return cfg, ds


@pytest.mark.parametrize('cfg_name,loader,seq,idx', [
    ('synthetic_mos.py', 'train_dataloader', ['00'], 9),
    ('semantickitti_mos.py', 'val_dataloader', ['08'], 5),
])
def test_builds_from_config_and_shapes_match(tiny_kitti_root, cfg_name,
                                             loader, seq, idx):
    cfg, ds_cfg = _dataset_cfg(cfg_name, loader, tiny_kitti_root, seq)
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == (12 if seq == ['00'] else 16)
    assert ds.metainfo['classes'] == tuple(cfg.class_names)
    assert ds.metainfo['label_map'] == MOS_4CLASS  # the config's groups
    out = ds[idx]
    inputs, sample = out['inputs'], out['data_samples']
    assert isinstance(sample, Det3DDataSample)
    n = sample.metainfo['num_points']
    assert inputs['points'].shape == (n, 4)
    assert inputs['point_feats'].shape == (n, 9 + cfg.motion_channels)
    assert inputs['grid_ind'].shape == (n, 3)
    assert inputs['multi_points'].shape[1] == 5
    grid = torch.tensor(cfg.grid_size)
    assert ((inputs['grid_ind'] >= 0) & (inputs['grid_ind'] < grid)).all()
    assert sample.metainfo['grid_size'] == tuple(cfg.grid_size)
    assert sample.metainfo['sequence'] == seq[0]
    assert sample.metainfo['frame_id'] == idx
    mask = sample.gt_pts_seg.pts_semantic_mask
    assert mask.shape == (n, ) and int(mask.max()) < cfg.num_classes
    assert (mask == 3).any()  # moving points of the tiny world
    vox = sample.gt_voxel_seg
    assert vox.coors.shape[1] == 3 and len(vox.semantic_mask) == len(vox.coors)
    assert ((vox.coors >= 0) & (vox.coors < grid)).all()
    # motion channels are not all zero in the moving world
    assert (inputs['point_feats'][:, 9:] != 0).any()


def test_info_file_gives_same_samples(tiny_kitti_root, tmp_path):
    written = create_info_files(tiny_kitti_root, str(tmp_path))
    _, ds_cfg = _dataset_cfg('synthetic_mos.py', 'val_dataloader',
                             tiny_kitti_root, ['08'])
    from_dirs = DATASETS.build(ds_cfg)
    ds_cfg.ann_file = written['val']
    from_info = DATASETS.build(ds_cfg)
    assert len(from_info) == len(from_dirs) == 16
    for i in (0, 7, 15):
        a, b = from_dirs.get_data_info(i), from_info.get_data_info(i)
        for key in ('sequence', 'frame_id', 'scan_index', 'lidar_path',
                    'label_path'):
            assert a[key] == b[key]
        np.testing.assert_array_equal(a['seq_info']['lidar_poses'],
                                      b['seq_info']['lidar_poses'])
    x, y = from_dirs[7], from_info[7]
    for key in x['inputs']:
        torch.testing.assert_close(x['inputs'][key], y['inputs'][key])


def test_default_split_and_unknown_split(tiny_kitti_root):
    ds = DATASETS.build(dict(type='SemanticKittiMOSDataset',
                             data_root=tiny_kitti_root, split='val'))
    assert ds.sequences == ['08'] and len(ds) == 16
    with pytest.raises(ValueError, match='unknown split'):
        DATASETS.build(dict(type='SemanticKittiMOSDataset',
                            data_root=tiny_kitti_root, split='nope'))


def test_test_split_without_labels(tiny_kitti_root):
    _, ds_cfg = _dataset_cfg('synthetic_mos.py', 'val_dataloader',
                             tiny_kitti_root, ['11'])
    ds_cfg.split = 'test'
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 6
    out = ds[5]
    sample = out['data_samples']
    assert 'pts_semantic_mask' not in sample.gt_pts_seg
    assert 'gt_voxel_seg' not in sample
    assert out['inputs']['point_feats'].shape[1] == 17


def _copy_seq(src_root, dst_root, seq='00'):
    shutil.copytree(osp.join(src_root, 'sequences', seq),
                    osp.join(dst_root, 'sequences', seq))
    return osp.join(dst_root, 'sequences', seq)


def test_filter_static_frames(tiny_kitti_root, tmp_path):
    seq_dir = _copy_seq(tiny_kitti_root, str(tmp_path))
    for i in range(3, 12):  # frames 3..11 lose their moving points
        path = osp.join(seq_dir, 'labels', f'{i:06d}.label')
        raw = read_labels(path)
        write_labels(path, np.where((raw & 0xFFFF) >= 251, 10, raw))
    cfg = dict(type='SemanticKittiMOSDataset', data_root=str(tmp_path),
               sequences=['00'], filter_static_frames=True,
               cache_dir=str(tmp_path / 'cache'))
    ds = DATASETS.build(cfg)
    assert [ds.get_data_info(i)['frame_id'] for i in range(len(ds))] == \
        [0, 1, 2, 10]
    # scan_index still points into the full sequence (past scans exist)
    assert ds.get_data_info(3)['scan_index'] == 10
    assert len(list((tmp_path / 'cache').iterdir())) == 1
    unfiltered = DATASETS.build(dict(cfg, filter_static_frames=False))
    assert len(unfiltered) == 12
    exempt = DATASETS.build(dict(cfg, filter_exempt_sequences=['00']))
    assert len(exempt) == 12


def test_fewer_poses_than_scans(tiny_kitti_root, tmp_path):
    seq_dir = _copy_seq(tiny_kitti_root, str(tmp_path))
    poses = read_poses(osp.join(seq_dir, 'poses.txt'))
    write_poses(osp.join(seq_dir, 'poses.txt'), poses[:10])
    with pytest.raises(ValueError, match=r'00/poses\.txt.*10 poses.*12 scans'):
        DATASETS.build(dict(type='SemanticKittiMOSDataset',
                            data_root=str(tmp_path), sequences=['00']))


def test_missing_calib_and_poses(tiny_kitti_root, tmp_path):
    seq_dir = _copy_seq(tiny_kitti_root, str(tmp_path))
    import os
    os.remove(osp.join(seq_dir, 'calib.txt'))
    with pytest.raises(FileNotFoundError, match=r'00/calib\.txt'):
        DATASETS.build(dict(type='SemanticKittiMOSDataset',
                            data_root=str(tmp_path), sequences=['00']))
    os.remove(osp.join(seq_dir, 'poses.txt'))
    with pytest.raises(FileNotFoundError, match=r'00/poses\.txt'):
        DATASETS.build(dict(type='SemanticKittiMOSDataset',
                            data_root=str(tmp_path), sequences=['00']))
    # without poses the dataset still builds for single-scan pipelines
    ds = DATASETS.build(dict(type='SemanticKittiMOSDataset',
                             data_root=str(tmp_path), sequences=['00'],
                             load_poses=False))
    assert ds.get_data_info(0)['seq_info']['lidar_poses'] is None


def test_unknown_raw_label_id_names_the_file(tiny_kitti_root, tmp_path):
    seq_dir = _copy_seq(tiny_kitti_root, str(tmp_path))
    path = osp.join(seq_dir, 'labels', '000002.label')
    raw = read_labels(path)
    raw[5] = 123
    write_labels(path, raw)
    ds = DATASETS.build(dict(
        type='SemanticKittiMOSDataset', data_root=str(tmp_path),
        sequences=['00'], pipeline=[
            dict(type='LoadMOSScans', num_past=0),
            dict(type='LoadMOSLabels')]))
    ds[1]
    with pytest.raises(ValueError, match=r'000002\.label.*\[123\]'):
        ds[2]


def test_two_class_label_map(tiny_kitti_root):
    ds = DATASETS.build(dict(
        type='SemanticKittiMOSDataset', data_root=tiny_kitti_root,
        sequences=['08'], label_map='mos_2class', pipeline=[
            dict(type='LoadMOSScans', num_past=0),
            dict(type='LoadMOSLabels')]))
    assert ds.metainfo['classes'] == ('static', 'moving')
    out = ds[4]
    raw = read_labels(out['label_path']) & 0xFFFF
    np.testing.assert_array_equal(out['pts_semantic_mask'],
                                  (raw >= 251).astype(np.int64))


def test_config_dataloader_batches(tiny_kitti_root):
    """The config's dataloader (sampler, collate) feeds the preprocessor."""
    from mmengine.runner import Runner

    from kdmos_plugin.models.data_preprocessors.mos_data_preprocessor import \
        MOSDataPreprocessor
    cfg = Config.fromfile(osp.join(CFG_DIR, 'synthetic_mos.py'))
    loader_cfg = cfg.train_dataloader
    loader_cfg.dataset.data_root = tiny_kitti_root
    loader_cfg.dataset.sequences = ['00']
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batch = next(iter(loader))
    data = MOSDataPreprocessor()(batch, training=True)
    assert len(data['inputs']['points']) == cfg.train_dataloader.batch_size
    assert len(data['data_samples']) == cfg.train_dataloader.batch_size
    for feats, pts in zip(data['inputs']['point_feats'],
                          data['inputs']['points']):
        assert feats.shape == (len(pts), 9 + cfg.motion_channels)


def test_integer_sequence_names_are_zero_padded(tiny_kitti_root):
    """--cfg-options "sequences=['08']" reaches the dataset as [8]."""
    from kdmos_plugin.datasets.semantickitti_mos_dataset import \
        SemanticKittiMOSDataset
    ds = SemanticKittiMOSDataset(
        data_root=tiny_kitti_root, sequences=[8], pipeline=[],
        test_mode=True)
    assert ds.sequences == ['08'] and len(ds) > 0
    assert {ds.get_data_info(i)['sequence'] for i in range(len(ds))} == {'08'}

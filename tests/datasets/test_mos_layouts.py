"""Apollo-MOS, nuScenes-MOS and HeLiMOS: each dataset config loads a small
layout written here, with the labels mapped as its label map says."""
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from kdmos_plugin.datasets.kitti_io import (write_calib, write_labels,
                                            write_points, write_poses)

REPO = Path(__file__).resolve().parents[2]

# What each part of the tiny scene is labelled in each convention, and the
# 4-class train id it must become (0 unlabeled, 1 static, 2 movable,
# 3 moving). SemanticKITTI ids as Apollo-MOS/HeLiMOS write them; nuScenes-MOS
# uint8 ids: 24 driveable surface, 17 car, 2 adult pedestrian, 33/34 moving.
PARTS = ('ground', 'parked', 'moving_car', 'walker', 'noise', 'ego')
SEMKITTI_IDS = dict(ground=9, parked=9, moving_car=251, walker=251, noise=0,
                    ego=1)
SEMKITTI_TRAIN = dict(ground=1, parked=1, moving_car=3, walker=3, noise=0,
                      ego=0)
NUSC_IDS = dict(ground=24, parked=17, moving_car=33, walker=34, noise=0,
                ego=31)
NUSC_TRAIN = dict(ground=1, parked=2, moving_car=3, walker=3, noise=0, ego=0)
INSTANCE = dict(moving_car=5, walker=6)


def _scene(rng, i):
    """Points (n, 4) in the LiDAR frame of scan i and the part of each."""
    parts, names = [], []

    def add(xyz, name):
        parts.append(xyz)
        names.extend([name] * len(xyz))

    r = rng.uniform(3, 30, 200)
    a = rng.uniform(-np.pi, np.pi, 200)
    add(np.stack([r * np.cos(a), r * np.sin(a), np.full(200, -1.7)], 1),
        'ground')
    add(rng.uniform([8, -6, -1.7], [12, -4, -0.2], (40, 3)), 'parked')
    add(rng.uniform([20 - i, 3, -1.7], [24 - i, 5, -0.2], (50, 3)),
        'moving_car')
    add(rng.uniform([6 + 0.2 * i, -3, -1.7], [6.5 + 0.2 * i, -2.5, 0.1],
                    (20, 3)), 'walker')
    add(rng.uniform(-15, 15, (8, 3)), 'noise')
    add(rng.uniform([2, -1, -1.5], [2.5, 1, -1.0], (6, 3)), 'ego')
    xyz = np.concatenate(parts)
    pts = np.concatenate([xyz, rng.random((len(xyz), 1))], 1)
    return pts.astype(np.float32), np.array(names)


def write_sequence(seq_dir, num, ids, dtype, rng, labelled=None):
    """Scans, labels (all or the frames in ``labelled``), poses and calib of
    an ego vehicle driving 0.5 m a scan along x. Returns the parts."""
    truth = {}
    for i in range(num):
        pts, names = _scene(rng, i)
        write_points(osp.join(seq_dir, 'velodyne', f'{i:06d}.bin'), pts)
        truth[i] = names
        if labelled is not None and i not in labelled:
            continue
        raw = np.array([ids[n] for n in names], dtype=np.uint32)
        if dtype == 'uint32':
            inst = np.array([INSTANCE.get(n, 0) for n in names], np.uint32)
            raw = raw | (inst << np.uint32(16))
            write_labels(osp.join(seq_dir, 'labels', f'{i:06d}.label'), raw)
        else:
            path = Path(seq_dir, 'labels', f'{i:06d}.label')
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw.astype(np.uint8).tobytes())
    poses = np.tile(np.eye(4), (num, 1, 1))
    poses[:, 0, 3] = 0.5 * np.arange(num)
    write_poses(osp.join(seq_dir, 'poses.txt'), poses)
    write_calib(osp.join(seq_dir, 'calib.txt'), np.eye(4))
    return truth


def build_split(config, split, data_root):
    """The dataset of ``<split>_dataloader`` with the data root replaced."""
    from mmdet3d.registry import DATASETS
    import kdmos_plugin  # noqa: F401
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(REPO / config))
    ds_cfg = cfg[f'{split}_dataloader'].dataset
    ds_cfg.data_root = str(data_root)
    return DATASETS.build(ds_cfg)


def check_sample(sample, truth, train_ids, with_instance):
    names = truth[sample['data_samples'].metainfo['frame_id']]
    gt = sample['data_samples'].gt_pts_seg
    expected = np.array([train_ids[n] for n in names])
    np.testing.assert_array_equal(gt.pts_semantic_mask.numpy(), expected)
    assert len(sample['inputs']['points']) == len(names)
    if with_instance:
        inst = np.array([INSTANCE.get(n, 0) for n in names])
        np.testing.assert_array_equal(gt.pts_instance_mask.numpy(), inst)
    else:
        assert 'pts_instance_mask' not in gt


def test_apollo_mos_config_loads_its_layout(tmp_path):
    rng = np.random.default_rng(0)
    truth = {seq: write_sequence(tmp_path / 'sequences' / seq, n,
                                 SEMKITTI_IDS, 'uint32', rng)
             for seq, n in (('00', 9), ('03', 4))}
    ds = build_split('configs/_base_/datasets/apollo_mos.py', 'test',
                     tmp_path)
    assert ds.sequences == ['00', '03']  # 'all': every folder, sorted
    assert len(ds) == 13
    for idx in (8, 12):  # end of 00, last of 03
        sample = ds[idx]
        seq = sample['data_samples'].metainfo['sequence']
        check_sample(sample, truth[seq], SEMKITTI_TRAIN, True)


def test_nuscenes_mos_config_loads_uint8_labels(tmp_path):
    rng = np.random.default_rng(1)
    truth = write_sequence(tmp_path / 'sequences' / 'scene-0061', 9,
                           NUSC_IDS, 'uint8', rng)
    ds = build_split('configs/_base_/datasets/nuscenes_mos.py', 'val',
                     tmp_path)
    assert ds.sequences == ['scene-0061'] and len(ds) == 9
    check_sample(ds[5], truth, NUSC_TRAIN, False)
    # an id outside the converters' 0-39 is refused, naming the file
    bad = tmp_path / 'sequences' / 'scene-0061' / 'labels' / '000002.label'
    raw = np.frombuffer(bad.read_bytes(), np.uint8).copy()
    raw[0] = 77
    bad.write_bytes(raw.tobytes())
    with pytest.raises(ValueError, match=r'000002\.label.*\[77\]'):
        ds[2]


def test_uint8_labels_read_as_uint32_say_so(tmp_path):
    rng = np.random.default_rng(2)
    write_sequence(tmp_path / 'sequences' / '00', 2, NUSC_IDS, 'uint8', rng)
    ds = build_split('configs/_base_/datasets/apollo_mos.py', 'test',
                     tmp_path)
    with pytest.raises(ValueError, match="uint8 labels"):
        ds[0]


def write_helimos(root, rng, num=10):
    splits = dict(train=[0, 1, 2, 3, 4], val=[5, 6], test=[7, 8, 9])
    for name, frames in splits.items():
        (root / f'{name}.txt').write_text(
            ''.join(f'{f}\n' for f in frames))
    truth = {}
    for sensor in ('Aeva', 'Avia', 'Ouster', 'Velodyne'):
        # labels only for split frames 0-8: frame 9 is unlabelled
        truth[sensor] = write_sequence(root / sensor, num, SEMKITTI_IDS,
                                       'uint32', rng, labelled=range(9))
    return splits, truth


def test_helimos_config_loads_split_frames_per_sensor(tmp_path):
    rng = np.random.default_rng(3)
    splits, truth = write_helimos(tmp_path, rng)
    ds = build_split('configs/_base_/datasets/helimos.py', 'val', tmp_path)
    keys = [ds.sample_key(i) for i in range(len(ds))]
    assert keys == [(s, f) for s in ('Aeva', 'Avia', 'Ouster', 'Velodyne')
                    for f in splits['val']]
    # every scan stays a past scan (the table holds all 10 a sensor)
    assert len(ds.sequence_table['Ouster']['lidar_paths']) == 10
    sample = ds[7]
    assert sample['data_samples'].metainfo['sequence'] == 'Velodyne'
    check_sample(sample, truth['Velodyne'], SEMKITTI_TRAIN, True)
    train = build_split('configs/_base_/datasets/helimos.py', 'train',
                        tmp_path)
    assert len(train) == 4 * 5


def test_helimos_refuses_bad_split_files(tmp_path):
    from kdmos_plugin.datasets import HeLiMOSDataset
    rng = np.random.default_rng(4)
    write_helimos(tmp_path, rng)
    (tmp_path / 'test.txt').write_text('7\n9\n')  # frame 9 has no labels
    with pytest.raises(FileNotFoundError, match='frame 9.*no label file'):
        HeLiMOSDataset(data_root=str(tmp_path), split='test')
    (tmp_path / 'val.txt').write_text('5\n42\n')
    with pytest.raises(FileNotFoundError, match=r'val\.txt: frames \[42\]'):
        HeLiMOSDataset(data_root=str(tmp_path), split='val',
                       sensors=['Velodyne'])
    (tmp_path / 'train.txt').write_text('0\nframe one\n')
    with pytest.raises(ValueError, match=r'train\.txt:2'):
        HeLiMOSDataset(data_root=str(tmp_path), split='train')
    with pytest.raises(FileNotFoundError, match='sensor .Livox.'):
        HeLiMOSDataset(data_root=str(tmp_path), split='val',
                       sensors=['Livox'], split_file='test.txt')

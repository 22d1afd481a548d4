"""Folder layout scanning, info files and the create_data tool."""
import importlib.util
import os.path as osp
import shutil

import pytest

from kdmos_plugin.datasets.mos_infos import (SPLITS, collect_infos,
                                             create_info_files, list_sequence,
                                             load_info_file)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_default_splits():
    assert SPLITS['train'] == ['00', '01', '02', '03', '04', '05', '06', '07',
                               '09', '10']
    assert SPLITS['val'] == ['08']
    assert SPLITS['test'] == [f'{i}' for i in range(11, 22)]
    assert SPLITS['road_train'] == ['30', '31', '32', '33', '34', '40']
    assert SPLITS['road_val'] == ['35', '36', '37', '38', '39', '41']


def test_list_sequence(tiny_kitti_root):
    info = list_sequence(tiny_kitti_root, '08')
    assert info['frame_ids'] == list(range(16))
    assert info['lidar_paths'][3].endswith('sequences/08/velodyne/000003.bin')
    assert info['label_paths'][3].endswith('sequences/08/labels/000003.label')
    assert info['poses_path'].endswith('08/poses.txt')
    test = list_sequence(tiny_kitti_root, '11')
    assert test['label_paths'] is None and len(test['frame_ids']) == 6
    with pytest.raises(FileNotFoundError, match='sequence 05.*velodyne'):
        list_sequence(tiny_kitti_root, '05')


def test_missing_label_file_is_an_error(tiny_kitti_root, tmp_path):
    shutil.copytree(osp.join(tiny_kitti_root, 'sequences', '00'),
                    tmp_path / 'sequences' / '00')
    (tmp_path / 'sequences/00/labels/000004.label').unlink()
    with pytest.raises(FileNotFoundError, match=r'labels/000004\.label'):
        list_sequence(str(tmp_path), '00')


@pytest.mark.parametrize('fmt', ['pkl', 'json'])
def test_create_info_files(tiny_kitti_root, tmp_path, fmt):
    written = create_info_files(tiny_kitti_root, str(tmp_path),
                                file_format=fmt)
    # default splits restricted to the sequences that exist
    assert sorted(written) == ['test', 'train', 'val']
    val = load_info_file(written['val'])
    assert val['metainfo']['sequences'] == ['08']
    assert len(val['data_list']) == 16
    first = val['data_list'][0]
    assert first == dict(sequence='08', frame_id=0,
                         lidar_path='sequences/08/velodyne/000000.bin',
                         label_path='sequences/08/labels/000000.label',
                         num_points=osp.getsize(osp.join(
                             tiny_kitti_root, first['lidar_path'])) // 16)
    assert val['sequence_infos']['08']['poses_path'] == \
        'sequences/08/poses.txt'
    test = load_info_file(written['test'])
    assert all(d['label_path'] is None for d in test['data_list'])


def test_collect_infos_custom_split(tiny_kitti_root):
    infos = collect_infos(tiny_kitti_root, ['00', '08'], 'mine',
                          with_num_points=False)
    assert len(infos['data_list']) == 28
    assert infos['data_list'][0]['num_points'] is None


def test_create_data_tool(tiny_kitti_root, tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'create_data', osp.join(REPO, 'tools', 'create_data.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    written = tool.main([tiny_kitti_root, '--out-dir', str(tmp_path),
                         '--format', 'json', '--split', 'mine', '00', '08'])
    assert list(written) == ['mine']
    assert osp.isfile(tmp_path / 'semantickitti_mos_infos_mine.json')
    assert 'mine:' in capsys.readouterr().out

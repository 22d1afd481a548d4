"""Reference residual files: writer, reader (file mode) and the tool."""
import importlib.util
import os.path as osp

import numpy as np
import pytest

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets import SemanticKittiMOSDataset
from kdmos_plugin.datasets.residual_files import (residual_file_path,
                                                  write_reference_residuals)
from kdmos_plugin.datasets.transforms import LoadMOSScans, MOSMotionFeatures

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def residual_root(tiny_kitti_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('residuals'))
    assert write_reference_residuals(tiny_kitti_root, ['00'], out) == \
        {'00': 12}
    return out


def test_layout(residual_root):
    assert residual_file_path('r', '00', 7) == \
        'r/00/residual_images/000007.npy'
    arr = np.load(residual_file_path(residual_root, '00', 11))
    assert arr.dtype == np.float32 and arr.shape[1] == 8


def test_file_mode_equals_online_reference(tiny_kitti_root, residual_root):
    ds = SemanticKittiMOSDataset(data_root=tiny_kitti_root, sequences=['00'])
    online = MOSMotionFeatures(mode='reference')
    offline = MOSMotionFeatures(mode='file', residual_root=residual_root)
    for idx in (0, 7, 11):
        res = LoadMOSScans(num_past=7, num_future=7)(ds.get_data_info(idx))
        np.testing.assert_array_equal(
            offline(dict(res))['motion_feats'],
            online(dict(res))['motion_feats'])


def test_create_data_writes_residuals(tiny_kitti_root, tmp_path):
    spec = importlib.util.spec_from_file_location(
        'create_data', osp.join(REPO, 'tools', 'create_data.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.main([tiny_kitti_root, '--out-dir', str(tmp_path / 'infos'),
               '--split', 'val', '08', '--residual-root',
               str(tmp_path / 'res')])
    assert osp.isfile(residual_file_path(str(tmp_path / 'res'), '08', 15))

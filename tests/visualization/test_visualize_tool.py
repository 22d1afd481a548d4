"""Test of tools/visualize.py."""
import importlib.util
import os.path as osp

import numpy as np

from kdmos_plugin.datasets import kitti_io

TOOL = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'visualize.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('visualize_tool', TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tool_writes_ground_truth_prediction_and_errors(synthetic_root,
                                                        tmp_path):
    import cv2
    seq_dir = osp.join(synthetic_root, 'sequences', '00')
    raw = kitti_io.read_labels(osp.join(seq_dir, 'labels', '000002.label'))
    pred = np.where((raw & 0xFFFF) >= 252, 251, 9).astype(np.uint32)
    pred_path = str(tmp_path / 'pred.label')
    kitti_io.write_labels(pred_path, pred)
    tool = _load_tool()
    out = str(tmp_path / 'pic.png')
    tool.main([seq_dir, '--frame', '2', '--pred', pred_path, '--range',
               '20', '--resolution', '0.2', '--out', out])
    img = cv2.imread(out)
    assert img.shape == (200, 3 * 200 + 2 * 4, 3)
    out2 = str(tmp_path / 'scan.png')
    tool.main([seq_dir, '--frame', '2', '--no-labels', '--range', '20',
               '--resolution', '0.2', '--out', out2])
    img2 = cv2.imread(out2)[..., ::-1]
    assert img2.shape == (200, 200, 3)
    # without labels every point is drawn static grey: no red
    assert not (img2 == (255, 30, 30)).all(axis=-1).any()


def test_tool_puts_several_folders_side_by_side(synthetic_root, tmp_path):
    import cv2
    import pytest
    dirs = [osp.join(synthetic_root, 'sequences', s) for s in ('00', '08')]
    tool = _load_tool()
    out = str(tmp_path / 'two.png')
    tool.main(dirs + ['--frame', '1', '4', '--range', '10', '--resolution',
                      '0.5', '--out', out])
    assert cv2.imread(out).shape == (40, 2 * 40 + 4, 3)
    with pytest.raises(SystemExit, match='2 folders but 3 frames'):
        tool.main(dirs + ['--frame', '1', '2', '3', '--out', out])

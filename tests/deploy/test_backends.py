"""The backend switch: tools/infer.py --backend, tools/export.py."""
import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kdmos_plugin.datasets.kitti_io import read_labels, read_points
from kdmos_plugin.deploy import BACKENDS, build_backend, register_backend

REPO = Path(__file__).resolve().parents[2]


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'{name}_tool', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_registry_knows_the_three_backends_and_refuses_others():
    assert {'torch', 'onnxruntime', 'openvino'} <= set(BACKENDS)
    with pytest.raises(ValueError, match='unknown backend'):
        build_backend('tensorrt')
    with pytest.raises(KeyError, match='already registered'):
        register_backend('torch')(object)
    with pytest.raises(ValueError, match='needs the model'):
        build_backend('torch')
    with pytest.raises(ValueError, match='onnx=PATH'):
        build_backend('onnxruntime')


def test_backends_predict_the_packed_scans(deploy_student, packed_scans,
                                           reference_logits, agreement):
    model, _ = deploy_student
    expected = [r.argmax(1).numpy() for r in reference_logits]
    plain = build_backend('torch', model).predict_packed(packed_scans)
    graph = build_backend('torch', model, graph=True).predict_packed(
        packed_scans)
    for a, b, e in zip(plain, graph, expected):
        np.testing.assert_array_equal(a, e)
        np.testing.assert_array_equal(b, e)
    bf16 = build_backend('torch', model, precision='bf16')
    labels = np.concatenate(bf16.predict_packed(packed_scans))
    assert (labels == np.concatenate(expected)).mean() >= 0.995


def test_export_and_infer_tools_agree_across_backends(
        deploy_student, tiny_student_ckpt, synthetic_root, tmp_path):
    cfg = tiny_student_ckpt.replace('.pth', '.py')
    onnx = tmp_path / 'model' / 'student.onnx'
    res = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'export.py'), cfg,
         tiny_student_ckpt, str(onnx), '--check'], capture_output=True,
        text=True, timeout=600, cwd=REPO)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'labels equal 100.00%' in res.stdout
    # three scans of a synthetic sequence, with their poses
    src = Path(synthetic_root, 'sequences', '00')
    seq = tmp_path / 'seq'
    (seq / 'velodyne').mkdir(parents=True)
    for scan in sorted((src / 'velodyne').glob('*.bin'))[:3]:
        shutil.copy(scan, seq / 'velodyne' / scan.name)
    (seq / 'poses.txt').write_text(''.join(
        (src / 'poses.txt').read_text().splitlines(True)[:3]))
    shutil.copy(src / 'calib.txt', seq / 'calib.txt')
    infer = _tool('infer')
    common = ['--scans', str(seq / 'velodyne'), '--poses',
              str(seq / 'poses.txt'), '--calib', str(seq / 'calib.txt')]
    runs = {'torch': [], 'onnxruntime': ['--onnx', str(onnx)],
            'openvino': ['--onnx', str(onnx), '--threads', '1']}
    for name, extra in runs.items():
        infer.main([cfg, tiny_student_ckpt, *common, '--out',
                    str(tmp_path / name), '--backend', name, *extra])
    for scan in sorted((seq / 'velodyne').glob('*.bin')):
        n = len(read_points(scan))
        ref = read_labels(tmp_path / 'torch' / f'{scan.stem}.label', n)
        for name in ('onnxruntime', 'openvino'):
            np.testing.assert_array_equal(
                read_labels(tmp_path / name / f'{scan.stem}.label', n), ref)
    with pytest.raises(SystemExit, match='--onnx is for'):
        infer.main([cfg, tiny_student_ckpt, *common, '--out',
                    str(tmp_path / 'x'), '--onnx', str(onnx)])

"""ONNX export of the student, and its runtimes (ONNX Runtime, OpenVINO)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kdmos_plugin.deploy import OnnxStudent, export_onnx
from kdmos_plugin.deploy.onnx_runtime import read_metadata

REPO = Path(__file__).resolve().parents[2]
RUNNER = REPO / 'kdmos_plugin' / 'deploy' / 'onnx_runtime.py'


@pytest.fixture(scope='module')
def onnx_file(deploy_student, tmp_path_factory):
    model, _ = deploy_student
    path = tmp_path_factory.mktemp('onnx') / 'student.onnx'
    meta = export_onnx(model, str(path), extra_meta=dict(config='tiny'))
    assert meta['grid_size'] == list(model.grid_size)
    return path


def test_export_writes_metadata_and_leaves_no_temporary(onnx_file,
                                                        deploy_student):
    model, _ = deploy_student
    meta = read_metadata(str(onnx_file))
    assert meta['num_classes'] == model.num_classes
    assert meta['feat_channels'] == 17 and meta['config'] == 'tiny'
    assert sorted(p.name for p in onnx_file.parent.iterdir()) == \
        ['student.onnx']


def test_onnxruntime_gives_the_torch_logits(onnx_file, packed_scans,
                                            reference_logits, agreement):
    session = OnnxStudent(str(onnx_file), 'onnxruntime', threads=1)
    sizes = set()
    for packed, ref in zip(packed_scans, reference_logits):
        inputs = packed['inputs']
        out = session(inputs['point_feats'].numpy(),
                      inputs['grid_ind'].numpy())
        sizes.add(len(out))
        np.testing.assert_allclose(out, ref.numpy(), rtol=1e-4, atol=1e-4)
        assert agreement(out, ref) == 1.0
    assert len(sizes) > 1  # one file, any number of points


def test_openvino_fp32_and_bf16(onnx_file, packed_scans, reference_logits,
                                agreement):
    fp32 = OnnxStudent(str(onnx_file), 'openvino', threads=1,
                       precision='fp32')
    bf16 = OnnxStudent(str(onnx_file), 'openvino', threads=1,
                       precision='bf16')
    same = total = 0
    for packed, ref in zip(packed_scans, reference_logits):
        feats = packed['inputs']['point_feats'].numpy()
        ind = packed['inputs']['grid_ind'].numpy()
        out = fp32(feats, ind)
        np.testing.assert_allclose(out, ref.numpy(), rtol=1e-3, atol=1e-3)
        assert agreement(out, ref) == 1.0
        same += agreement(bf16(feats, ind), ref) * len(ref)
        total += len(ref)
    assert same / total >= 0.995


def test_a_process_without_torch_gives_the_same_logits(onnx_file,
                                                       packed_scans,
                                                       reference_logits,
                                                       tmp_path):
    inputs = packed_scans[5]['inputs']
    np.savez(tmp_path / 'scan.npz', point_feats=inputs['point_feats'].numpy(),
             grid_ind=inputs['grid_ind'].numpy())
    # any import of torch in the child fails loudly
    blocker = tmp_path / 'block'
    blocker.mkdir()
    (blocker / 'torch.py').write_text(
        "raise ImportError('torch must not be imported here')\n")
    env = dict(PYTHONPATH=str(blocker), PATH='/usr/bin:/bin')
    res = subprocess.run(
        [sys.executable, str(RUNNER), str(onnx_file), '--inputs',
         str(tmp_path / 'scan.npz'), '--out', str(tmp_path / 'out.npz'),
         '--threads', '1'], capture_output=True, text=True, env=env,
        timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout.strip().splitlines()[-1])[
        'torch_imported'] is False
    with np.load(tmp_path / 'out.npz') as out:
        np.testing.assert_allclose(out['logits'], reference_logits[5].numpy(),
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(out['labels'],
                                      reference_logits[5].argmax(1).numpy())


def test_runtime_refuses_inputs_that_do_not_fit(onnx_file, tmp_path):
    session = OnnxStudent(str(onnx_file), 'onnxruntime', threads=1)
    with pytest.raises(ValueError, match=r'scan7.*\(N, 17\)'):
        session(np.zeros((4, 9), np.float32), np.zeros((4, 3), np.int64),
                name='scan7')
    ind = np.zeros((4, 3), np.int64)
    ind[2, 0] = 10**6
    with pytest.raises(ValueError, match='outside the grid'):
        session(np.zeros((4, 17), np.float32), ind)
    assert session(np.zeros((0, 17), np.float32),
                   np.zeros((0, 3), np.int64)).shape == (0, 4)
    other = tmp_path / 'plain.onnx'
    import onnx
    model = onnx.load(str(onnx_file))
    del model.metadata_props[:]
    onnx.save(model, str(other))
    with pytest.raises(ValueError, match='no .kdmos_student. metadata'):
        OnnxStudent(str(other))
    with pytest.raises(FileNotFoundError):
        OnnxStudent(str(tmp_path / 'missing.onnx'))


def test_export_refuses_old_opsets(deploy_student, tmp_path):
    model, _ = deploy_student
    with pytest.raises(ValueError, match='opset'):
        export_onnx(model, str(tmp_path / 'x.onnx'), opset=17)
    assert not list(tmp_path.iterdir())

"""tools/test.py --backend: the metrics of a student through each backend."""
import json

import numpy as np
import pytest


def _test(run_tool, ckpt, root, out, *backend):
    run_tool('test', ckpt.replace('.pth', '.py'), ckpt, '--work-dir',
             out / 'work', '--submit', out / 'pred', '--metrics-out',
             out / 'metrics.json', *backend,
             cfg_options=[f'test_dataloader.dataset.data_root={root}',
                          'test_dataloader.dataset.indices=3'])
    metrics = json.loads((out / 'metrics.json').read_text())
    preds = sorted((out / 'pred').rglob('*.label'))
    return metrics, {p.name: np.fromfile(p, dtype=np.uint32) for p in preds}


def test_fp32_backends_give_the_torch_metrics(run_tool, tiny_student_ckpt,
                                              synthetic_root, tmp_path):
    """ONNX Runtime and OpenVINO fp32 on the exported student (exported by
    the tool into a temporary file) give the labels, and so every metric,
    of the PyTorch model (bf16 agreement: tests/deploy)."""
    ref, ref_preds = _test(run_tool, tiny_student_ckpt, synthetic_root,
                           tmp_path / 'torch')
    assert ref_preds and all(len(v) for v in ref_preds.values())
    assert 'mos/IoU_moving' in ref and ref['mos/num_scans'] == 3
    for name, backend in (('ort', ('--backend', 'onnxruntime',
                                   '--threads', '1')),
                          ('ov', ('--backend', 'openvino', '--precision',
                                  'fp32', '--threads', '1'))):
        metrics, preds = _test(run_tool, tiny_student_ckpt, synthetic_root,
                               tmp_path / name, *backend)
        assert preds.keys() == ref_preds.keys()
        for key in preds:
            np.testing.assert_array_equal(preds[key], ref_preds[key])
        assert metrics == ref


def test_backend_options_need_a_backend(run_tool, tiny_student_ckpt,
                                        tmp_path):
    for extra in (('--precision', 'bf16'), ('--backend', 'torch', '--onnx',
                                            str(tmp_path / 'x.onnx')),
                  ('--backend', 'onnxruntime', '--precision', 'bf16')):
        with pytest.raises(SystemExit):
            run_tool('test', tiny_student_ckpt.replace('.pth', '.py'),
                     tiny_student_ckpt, *extra)

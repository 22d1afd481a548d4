"""LoadTeacherLogits: layout, dtype, and every error naming the file."""
import json

import numpy as np
import pytest

import kdmos_plugin  # noqa: F401
from kdmos_plugin.datasets.transforms import LoadTeacherLogits


def _write(root, seq, frame, arr):
    path = root / 'sequences' / seq / 'teacher_logits' / f'{frame:06d}.npy'
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, arr)
    return path


def _res(n, seq='08', frame=7):
    return dict(points=np.zeros((n, 4), np.float32), sequence=seq,
                frame_id=frame, lidar_path=f'{seq}/{frame:06d}.bin')


def test_loads_by_sequence_and_frame(tmp_path):
    logits = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float16)
    _write(tmp_path, '08', 7, logits)
    out = LoadTeacherLogits(str(tmp_path), 4)(_res(5))
    assert out['teacher_logits'].dtype == np.float32
    np.testing.assert_array_equal(out['teacher_logits'],
                                  logits.astype(np.float32))


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'sequences/08/teacher_logits/000007\.npy'):
        LoadTeacherLogits(str(tmp_path), 4)(_res(5))
    _write(tmp_path, '08', 7, np.zeros((6, 4), np.float32))
    with pytest.raises(ValueError, match=r'000007\.npy.*\(6, 4\).*5 points'):
        LoadTeacherLogits(str(tmp_path), 4)(_res(5))
    _write(tmp_path, '08', 7, np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match=r'000007\.npy.*3 classes.*'
                       r'num_classes=4'):
        LoadTeacherLogits(str(tmp_path), 4)(_res(5))
    bad = np.zeros((5, 4), np.float32)
    bad[2, 1] = np.nan
    _write(tmp_path, '08', 7, bad)
    with pytest.raises(ValueError, match=r'000007\.npy.*NaN'):
        LoadTeacherLogits(str(tmp_path), 4)(_res(5))


def test_manifest_class_count_checked(tmp_path):
    _write(tmp_path, '08', 7, np.zeros((5, 4), np.float32))
    manifest = dict(classes=['static', 'moving'], num_classes=2,
                    config='x.py', checkpoint_sha256='0' * 64,
                    dtype='float32', format_version=1)
    (tmp_path / 'teacher_logits_manifest.json').write_text(
        json.dumps(manifest))
    with pytest.raises(ValueError, match=r'manifest\.json.*num_classes 2'):
        LoadTeacherLogits(str(tmp_path), 4)(_res(5))

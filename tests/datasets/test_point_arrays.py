"""load_point_array: the checks shared by teacher logits and residual files."""
import numpy as np
import pytest

from kdmos_plugin.datasets.point_arrays import load_point_array

ARGS = ('teacher logits', 'classes', 'num_classes', 'seq/000004.bin')


def test_reads_float32_and_checks_shape_and_values(tmp_path):
    path = str(tmp_path / '000004.npy')
    want = np.arange(15, dtype=np.float16).reshape(5, 3)
    np.save(path, want)
    got = load_point_array(path, 5, 3, *ARGS)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want.astype(np.float32))
    with pytest.raises(ValueError, match=r'000004\.npy: teacher logits of '
                       r'shape \(5, 3\) but the scan seq/000004\.bin has 6'):
        load_point_array(path, 6, 3, *ARGS)
    with pytest.raises(ValueError, match=r'000004\.npy: teacher logits have '
                       r'3 classes, the config has num_classes=4'):
        load_point_array(path, 5, 4, *ARGS)
    np.save(path, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r'shape \(5,\)'):
        load_point_array(path, 5, 3, *ARGS)
    bad = want.astype(np.float32)
    bad[2, 1] = np.inf
    np.save(path, bad)
    with pytest.raises(ValueError, match='hold NaN or inf'):
        load_point_array(path, 5, 3, *ARGS)


def test_missing_file_and_pickles_are_refused(tmp_path):
    path = str(tmp_path / 'residual_images' / '000001.npy')
    with pytest.raises(FileNotFoundError, match='Residual features not '
                       'found: .*residual_images/000001.npy'):
        load_point_array(path, 5, 8, 'residual features', 'channels',
                         'num_channels')
    obj = str(tmp_path / 'obj.npy')
    np.save(obj, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match='pickle'):
        load_point_array(obj, 1, 1, *ARGS)

"""The teacher-logit file format: paths, manifest checks, atomic writes."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from kdmos_plugin.datasets.teacher_logits import (FORMAT_VERSION,
                                                  MANIFEST_KEYS,
                                                  MANIFEST_NAME, file_sha256,
                                                  logits_path, make_manifest,
                                                  prepare_output_dir,
                                                  read_manifest, save_logits)

CLASSES = ('unlabeled', 'static', 'movable', 'moving')


def _write_manifest(root, **changes):
    manifest = dict(make_manifest(CLASSES, 'teacher.py', 'ab' * 32),
                    **changes)
    os.makedirs(root, exist_ok=True)
    with open(osp.join(root, MANIFEST_NAME), 'w') as f:
        json.dump(manifest, f)
    return manifest


def test_path_is_keyed_by_sequence_and_frame_id():
    assert logits_path('/r', '08', 7) == osp.join(
        '/r', 'sequences', '08', 'teacher_logits', '000007.npy')


def test_manifest_round_trip_and_keys(tmp_path):
    written = _write_manifest(str(tmp_path))
    assert set(written) == set(MANIFEST_KEYS)
    assert read_manifest(str(tmp_path)) == written
    assert written['num_classes'] == 4
    assert written['format_version'] == FORMAT_VERSION
    with pytest.raises(ValueError, match='dtype'):
        make_manifest(CLASSES, 'teacher.py', 'ab', dtype='int8')


@pytest.mark.parametrize('changes, message', [
    (dict(num_classes=3), 'num_classes=3 but 4 class names'),
    (dict(dtype='float64'), 'dtype'),
    (dict(format_version=FORMAT_VERSION + 1), 'format_version'),
])
def test_bad_manifest_names_the_file(tmp_path, changes, message):
    _write_manifest(str(tmp_path), **changes)
    with pytest.raises(ValueError, match=message) as err:
        read_manifest(str(tmp_path))
    assert MANIFEST_NAME in str(err.value)


def test_missing_keys_and_bad_json(tmp_path):
    path = tmp_path / MANIFEST_NAME
    with pytest.raises(FileNotFoundError, match=MANIFEST_NAME):
        read_manifest(str(tmp_path))
    path.write_text('{"classes": []}')
    with pytest.raises(ValueError, match='lacks keys'):
        read_manifest(str(tmp_path))
    path.write_text('{not json')
    with pytest.raises(ValueError, match='not valid JSON'):
        read_manifest(str(tmp_path))


def test_output_dir_never_mixes_logits(tmp_path):
    root = str(tmp_path / 'logits')
    manifest = make_manifest(CLASSES, 'teacher.py', 'ab' * 32)
    prepare_output_dir(root, manifest)
    assert read_manifest(root) == manifest
    prepare_output_dir(root, manifest)  # the same run again: accepted
    other = dict(manifest, checkpoint_sha256='cd' * 32)
    with pytest.raises(ValueError, match='checkpoint_sha256'):
        prepare_output_dir(root, other)
    unknown = str(tmp_path / 'unknown')
    os.makedirs(osp.join(unknown, 'sequences'))
    with pytest.raises(ValueError, match='no ' + MANIFEST_NAME):
        prepare_output_dir(unknown, manifest)


def test_save_logits_writes_the_dtype_and_leaves_no_temp_file(tmp_path):
    path = logits_path(str(tmp_path), '00', 3)
    logits = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    save_logits(path, logits, 'float16')
    back = np.load(path)
    assert back.dtype == np.float16
    np.testing.assert_array_equal(back, logits.astype(np.float16))
    assert os.listdir(osp.dirname(path)) == ['000003.npy']
    with pytest.raises(ValueError, match=r'must be \(N, C\)'):
        save_logits(path, logits.ravel(), 'float32')


def test_file_sha256_against_hashlib_of_the_whole_file(tmp_path):
    import hashlib
    data = os.urandom(3000)
    (tmp_path / 'f').write_bytes(data)
    assert file_sha256(str(tmp_path / 'f'), chunk=1024) == \
        hashlib.sha256(data).hexdigest()

"""atomic_path: the target is replaced only when the block succeeds."""
import os

import numpy as np
import pytest

from kdmos_plugin.utils.atomic_files import (atomic_path, write_bytes_atomic,
                                             write_text_atomic)


def test_success_replaces_the_target_and_creates_folders(tmp_path):
    target = tmp_path / 'a' / 'b' / 'out.txt'
    write_text_atomic(target, 'first\n')
    assert target.read_text() == 'first\n'
    write_bytes_atomic(target, b'second')
    assert target.read_bytes() == b'second'
    assert sorted(p.name for p in target.parent.iterdir()) == ['out.txt']


def test_an_error_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / 'out.txt'
    target.write_text('old')
    with pytest.raises(RuntimeError, match='disk full'):
        with atomic_path(target) as tmp:
            with open(tmp, 'w') as f:
                f.write('half')
            assert os.path.exists(tmp) and target.read_text() == 'old'
            raise RuntimeError('disk full')
    assert target.read_text() == 'old'
    assert [p.name for p in tmp_path.iterdir()] == ['out.txt']


def test_suffix_for_writers_that_add_an_extension(tmp_path):
    """np.save appends .npy to a name without it: the suffix keeps the
    temporary name what the writer writes."""
    target = tmp_path / 'logits.npy'
    with atomic_path(target, suffix='.npy') as tmp:
        assert tmp.endswith('.npy') and tmp.startswith(str(target) + '.tmp')
        np.save(tmp, np.arange(3))
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert [p.name for p in tmp_path.iterdir()] == ['logits.npy']

"""kdmos_plugin.utils.safe_load: data pickles and .npy files read as data."""
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

from kdmos_plugin.utils.safe_load import (NpyFormatError, UnsafePickleError,
                                          load_data_pickle, load_npy)


class _RunsCode:
    """Unpickling this calls os.getpid: a stand-in for any code."""

    def __reduce__(self):
        return (os.getpid, ())


@pytest.mark.parametrize('protocol', [2, pickle.HIGHEST_PROTOCOL])
def test_data_pickles_round_trip(tmp_path, protocol):
    data = dict(infos=[dict(frame=3, pose=np.eye(4), name='00/000003')],
                order=OrderedDict(a=1), classes=('static', 'moving'),
                ids={1, 2}, scale=np.float32(0.5))
    path = tmp_path / 'infos.pkl'
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    back = load_data_pickle(str(path))
    assert back.keys() == data.keys()
    np.testing.assert_array_equal(back['infos'][0]['pose'], np.eye(4))
    assert back['order'] == data['order'] and back['ids'] == {1, 2}
    assert back['scale'] == np.float32(0.5)


def test_a_pickle_that_calls_code_is_refused_with_its_name(tmp_path):
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps([1, _RunsCode()]))
    with pytest.raises(UnsafePickleError, match='posix.getpid') as err:
        load_data_pickle(str(path))
    assert str(path) in str(err.value)


def test_truncated_pickle_and_missing_file_name_the_file(tmp_path):
    path = tmp_path / 'cut.pkl'
    path.write_bytes(pickle.dumps(list(range(100)))[:20])
    with pytest.raises(pickle.UnpicklingError, match=str(path)):
        load_data_pickle(str(path))
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        load_data_pickle(str(tmp_path / 'nope.pkl'))


def test_npy_numbers_load_objects_and_pickles_do_not(tmp_path):
    good = tmp_path / 'a.npy'
    np.save(good, np.arange(12, dtype=np.float16).reshape(3, 4))
    np.testing.assert_array_equal(load_npy(str(good)),
                                  np.arange(12).reshape(3, 4))
    objects = tmp_path / 'o.npy'
    np.save(objects, np.array([_RunsCode()], dtype=object),
            allow_pickle=True)
    pickled = tmp_path / 'p.npy'
    pickled.write_bytes(pickle.dumps(np.zeros(3)))
    garbage = tmp_path / 'g.npy'
    garbage.write_bytes(b'\x93NUMPY\x01\x00garbage')
    for bad in (objects, pickled, garbage):
        with pytest.raises(NpyFormatError, match=str(bad)):
            load_npy(str(bad))

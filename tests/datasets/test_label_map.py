"""Label maps against the tables of docs/METHOD.md 1.1."""
from pathlib import Path

import numpy as np
import pytest

from kdmos_plugin.datasets.label_map import (INV_MAP_4CLASS, MOS_2CLASS,
                                             MOS_4CLASS, MOS_CLASSES,
                                             map_labels, resolve_label_map)

# docs/METHOD.md 1.1, written out again here on purpose
TABLE = {
    0: [0, 1],
    1: [9, 40, 44, 48, 49, 50, 51, 52, 60, 70, 71, 72, 80, 81, 99],
    2: [10, 11, 13, 15, 16, 18, 20, 30, 31, 32, 250],
    3: [251, 252, 253, 254, 255, 256, 257, 258, 259],
}


def test_four_class_table():
    assert MOS_CLASSES == ('unlabeled', 'static', 'movable', 'moving')
    expected = {raw: tid for tid, ids in TABLE.items() for raw in ids}
    assert MOS_4CLASS == expected
    assert INV_MAP_4CLASS == {0: 0, 1: 9, 2: 250, 3: 251}
    # the inverse map sends every class back to a raw id of that class
    for tid, raw in INV_MAP_4CLASS.items():
        assert MOS_4CLASS[raw] == tid


def test_two_class_table():
    for raw in (0, 1, 9, 40, 10, 30, 250):
        assert MOS_2CLASS[raw] == 0
    for raw in range(251, 260):
        assert MOS_2CLASS[raw] == 1
    assert set(MOS_2CLASS) == set(MOS_4CLASS)


def test_map_labels_low_16_bits_and_real_file():
    raw = np.array([9 | (3 << 16), 252 | (77 << 16), 10, 0, 1, 250],
                   np.uint32)
    np.testing.assert_array_equal(map_labels(raw, MOS_4CLASS),
                                  [1, 3, 2, 0, 0, 2])
    np.testing.assert_array_equal(map_labels(raw, MOS_2CLASS),
                                  [0, 1, 0, 0, 0, 0])
    real = np.fromfile(Path(__file__).resolve().parents[1] / 'data' /
                       'semantickitti_sample' / 'labels' / '000000.label',
                       np.uint32)
    mapped = map_labels(real, MOS_4CLASS)
    assert mapped.dtype == np.int64
    assert (mapped == 3).sum() == ((real & 0xFFFF) == 254).sum() > 0


def test_unknown_raw_id_is_an_error():
    raw = np.array([9, 7, 7, 300], np.uint32)
    with pytest.raises(ValueError,
                       match=r'seq/x\.label.*\[7, 300\].*3 points'):
        map_labels(raw, MOS_4CLASS, path='seq/x.label')


def test_resolve_label_map_forms():
    assert resolve_label_map('mos_4class') == MOS_4CLASS
    assert resolve_label_map('mos_2class') == MOS_2CLASS
    groups = {name: TABLE[i] for i, name in enumerate(MOS_CLASSES)}
    assert resolve_label_map(groups, MOS_CLASSES) == MOS_4CLASS
    assert resolve_label_map({'9': 1, 251: '3'}) == {9: 1, 251: 3}
    with pytest.raises(ValueError, match='unknown label map'):
        resolve_label_map('nope')
    with pytest.raises(ValueError, match='listed twice'):
        resolve_label_map({'static': [9], 'moving': [9]}, MOS_CLASSES)

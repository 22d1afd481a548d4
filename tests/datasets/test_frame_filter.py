"""Static-frame filter: the published rule and the hashed cache."""
import os
import os.path as osp

import numpy as np

from kdmos_plugin.datasets import frame_filter
from kdmos_plugin.datasets.frame_filter import (keep_dynamic_frames,
                                                moving_point_counts)
from kdmos_plugin.datasets.kitti_io import write_labels


def test_keep_rule():
    counts = [0, 3, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1]
    frames = list(range(10, 23))
    assert [f for f, k in zip(frames, keep_dynamic_frames(counts, frames))
            if k] == [10, 11, 14, 20, 22]


def test_counts_and_cache(tmp_path, monkeypatch):
    paths = []
    for i, n_moving in enumerate([0, 2, 5]):
        labels = np.array([9] * 4 + [251 | (1 << 16)] * n_moving + [252],
                          np.uint32)[:4 + n_moving]
        p = tmp_path / 'labels' / f'{i:06d}.label'
        write_labels(p, labels)
        paths.append(str(p))
    cache = tmp_path / 'cache'
    np.testing.assert_array_equal(moving_point_counts(paths, str(cache)),
                                  [0, 2, 5])
    files = os.listdir(cache)
    assert len(files) == 1 and files[0].startswith('moving_counts_')

    def boom(*a, **k):
        raise AssertionError('the cache was not used')

    monkeypatch.setattr(frame_filter, 'count_moving_points', boom)
    np.testing.assert_array_equal(moving_point_counts(paths, str(cache)),
                                  [0, 2, 5])
    # a changed label file changes the key: counted again
    monkeypatch.undo()
    write_labels(paths[0], np.array([253, 9, 9], np.uint32))
    np.testing.assert_array_equal(moving_point_counts(paths, str(cache)),
                                  [1, 2, 5])
    assert len(os.listdir(cache)) == 2
    assert osp.isdir(cache)
